//! The `dbosd` binary: parse the command line, then serve, migrate, start a dev database, or run a
//! client command (`crate::cli`) against a running dbosd.

use std::{net::SocketAddr, process::ExitCode};

use clap::Parser;
use tokio::net::TcpListener;

use dbosd::{
    cli::{
        self,
        retention::{self as command, RetentionCommand, RetentionCommandArgs},
    },
    config::{
        redact_url, Cli, Command, DatabaseArgs, ServeArgs, ServerArgs, Settings, StartDevArgs,
    },
    fleet_config::{self, FleetConfig},
    pgcluster::{stale, PgCluster},
    server, shutdown, waiting,
};

fn main() -> ExitCode {
    let cli = match client_command(Cli::parse()) {
        Ok(code) => return code,
        Err(cli) => *cli,
    };
    let server_args = match &cli.command {
        Some(Command::Serve(a)) => &a.server,
        Some(Command::StartDev(a)) => &a.server,
        _ => &cli.serve.server,
    };
    init_tracing(&server_args.log_format);
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if server_args.worker_threads > 0 {
        builder.worker_threads(server_args.worker_threads);
    }
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("dbosd: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("dbosd: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a client command (no logging, its own exit codes), or hands the command line back when it
/// is a server command.
fn client_command(cli: Cli) -> Result<ExitCode, Box<Cli>> {
    let command = match cli.command {
        Some(Command::Client(command)) => ClientRun::Cli(Box::new(command)),
        Some(Command::Mcp(args)) => ClientRun::Mcp(Box::new(args)),
        _ => return Err(Box::new(cli)),
    };
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Ok(rt.block_on(run_client(command))),
        Err(e) => {
            eprintln!("dbosd: cannot start the async runtime: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// A client command: the CLI's, or `dbosd mcp`.
enum ClientRun {
    Cli(Box<cli::ClientCommand>),
    Mcp(Box<dbosd::cli::mcp::McpArgs>),
}

async fn run_client(command: ClientRun) -> ExitCode {
    match command {
        ClientRun::Cli(command) => cli::run(*command).await,
        ClientRun::Mcp(args) => dbosd::cli::mcp::run(*args).await.unwrap_or_else(|message| {
            eprintln!("dbosd: {message}");
            ExitCode::FAILURE
        }),
    }
}

fn init_tracing(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("DBOSD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(dbosd::cli::output::colour_by_default(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        None => serve(cli.serve).await,
        Some(Command::Serve(args)) => serve(args).await,
        Some(Command::Migrate(args)) => dbosd::fleet::migrate::run(&args).await,
        Some(Command::StartDev(args)) => start_dev(args).await,
        Some(Command::Retention(args)) => retention(args).await,
        Some(Command::Client(_) | Command::Mcp(_)) => {
            Err("client commands are run by client_command".to_owned())
        }
    }
}

fn database_url(args: &DatabaseArgs) -> Result<String, String> {
    args.database_url
        .clone()
        .filter(|u| !u.is_empty())
        .ok_or_else(|| {
            "no database URL: pass --database-url or set DBOS_SYSTEM_DATABASE_URL \
         (or run `dbosd start-dev` for a throwaway local PostgreSQL)"
                .to_owned()
        })
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    let settings = fleet_settings(&args)?;
    serve_with(&settings, &args.server).await
}

/// The settings of `serve`: the default database (--database-url, or the config file's `default`,
/// or the only database configured) and the others (--database flags and the config file).
fn fleet_settings(args: &ServeArgs) -> Result<Settings, String> {
    let file = match &args.server.fleet.config {
        Some(path) => FleetConfig::load(path)?,
        None => FleetConfig::default(),
    };
    let all = fleet_config::merge(&args.server.fleet.databases, &file.databases)?;
    let Ok(url) = database_url(&args.database) else {
        let default = match (&file.default, all.as_slice()) {
            (Some(name), _) => all.iter().find(|d| &d.name == name),
            (None, [only]) => Some(only),
            _ => None,
        };
        let Some(default) = default.cloned() else {
            return Err(database_url(&args.database).err().unwrap_or_default()
                + "; with several databases configured, name the default with `default = \"NAME\"` in the config file");
        };
        let base = Settings::from_args(
            default.url.clone(),
            &args.database.schema,
            &args.server,
            args.migrate,
        );
        let mut settings = dbosd::fleet::open::settings_for(&base, &default);
        settings.migrate |= args.migrate;
        // The flags' retention stays the fleet's; the default database's table applies to it alone.
        settings.retention = base.retention;
        settings.default_retention = default.retention.clone();
        settings.default_database = default.name.clone();
        settings.databases = all.into_iter().filter(|d| d.name != default.name).collect();
        return Ok(settings);
    };
    let mut settings = Settings::from_args(url, &args.database.schema, &args.server, args.migrate);
    settings.direct_database_url = args
        .database
        .direct_database_url
        .clone()
        .filter(|u| !u.is_empty());
    settings.databases = all;
    Ok(settings)
}

async fn bind(addr: &SocketAddr) -> Result<(TcpListener, SocketAddr), String> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    Ok((listener, bound))
}

/// Binds an optional extra port and says where it is (`dbosd <what> on <addr>`).
async fn bind_extra(at: Option<&SocketAddr>, what: &str) -> Result<Option<TcpListener>, String> {
    let Some(at) = at else {
        return Ok(None);
    };
    let (listener, addr) = bind(at).await?;
    tracing::info!(%addr, "{what} port");
    println!("dbosd {what} on {addr}");
    Ok(Some(listener))
}

async fn serve_with(settings: &Settings, args: &ServerArgs) -> Result<(), String> {
    settings.validate()?;
    // Without a wait, a database that is not there is a startup error before the port opens.
    let (repo, listen) = if settings.wait_for_database.is_zero() {
        let repo = server::prepare(settings).await.map_err(|e| e.to_string())?;
        (repo, args.listen)
    } else {
        let wait = settings.wait_for_database;
        match waiting::wait_for_database(settings, &args.listen, wait, shutdown::signal()).await? {
            waiting::Waited::Ready(repo, addr) => (repo, addr),
            waiting::Waited::Interrupted => return Ok(()),
        }
    };
    let (grpc, addr) = bind(&listen).await?;
    let metrics = bind_extra(args.metrics_listen.as_ref(), "metrics").await?;
    let health = bind_extra(args.health_listen.as_ref(), "health").await?;
    let tls = if settings.tls.cert.is_some() {
        " (TLS)"
    } else {
        ""
    };
    tracing::info!(%addr, database = %redact_url(&settings.database_url), "dbosd serving dbosd.v1.WorkflowService{tls}");
    if settings.ui {
        // A wildcard listen address is not one a browser can open: show loopback instead.
        let mut at = addr;
        if at.ip().is_unspecified() {
            at.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let scheme = if tls.is_empty() { "http" } else { "https" };
        println!("console: {scheme}://{at}/ui/");
    }
    println!("dbosd listening on {addr}");
    let listeners = server::Listeners {
        grpc,
        metrics,
        health,
    };
    server::serve(repo, settings, listeners, shutdown::signal())
        .await
        .map_err(|e| e.to_string())
}

/// `start-dev --databases N`: creates `db2` ... `dbN` in the dev cluster (kept ones are reused),
/// each served as a database of that name and migrated when opened.
async fn dev_databases(
    cluster: &PgCluster,
    count: u16,
) -> Result<Vec<fleet_config::DatabaseSpec>, String> {
    if count < 2 {
        return Ok(Vec::new());
    }
    let admin = cluster.url("postgres");
    let (client, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .map_err(|e| format!("cannot connect to the dev PostgreSQL: {e}"))?;
    tokio::spawn(connection);
    let mut specs = Vec::new();
    for i in 2..=count {
        let name = format!("db{i}");
        let exists = client
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
            .await
            .map_err(|e| format!("cannot list the dev databases: {e}"))?;
        if exists.is_none() {
            client
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .await
                .map_err(|e| format!("cannot create dev database {name}: {e}"))?;
        }
        let mut spec = fleet_config::parse_flag(&format!("{name}={}", cluster.url(&name)))?;
        spec.migrate = true;
        println!(
            "database {name} at {} (dbos-database: {name})",
            cluster.url(&name)
        );
        specs.push(spec);
    }
    Ok(specs)
}

/// `dbosd retention policy|run`: the policy, or one round against the database now.
async fn retention(args: RetentionCommandArgs) -> Result<(), String> {
    match args.command {
        RetentionCommand::Policy(a) => {
            println!("{}", command::policy(&a)?);
            Ok(())
        }
        RetentionCommand::Run(a) => {
            let (settings, policy) = command::run_target(&a)?;
            let repo = server::prepare(&settings)
                .await
                .map_err(|e| e.to_string())?;
            print!(
                "{}",
                command::run_once(&repo, &policy, a.dry_run || policy.dry_run).await?
            );
            Ok(())
        }
    }
}

/// `start-dev`: check the port, sweep dead runs' scratch dirs, start PostgreSQL, serve until a
/// signal or until PostgreSQL dies (then exit non-zero), and say what was cleaned up.
async fn start_dev(args: StartDevArgs) -> Result<(), String> {
    // Before initdb: a taken port fails in a second, not after a minute of setup.
    drop(TcpListener::bind(args.server.listen).await.map_err(|e| {
        format!(
            "cannot listen on {}: {e} (another dbosd running? pass --listen)",
            args.server.listen
        )
    })?);
    for r in stale::remove_dead(&PgCluster::scratch_base()) {
        println!(
            "removed {} ({:.1} MB) left by dbosd start-dev pid {}, which is gone",
            r.path.display(),
            r.bytes as f64 / 1e6,
            r.owner
        );
    }
    let mut cluster = match &args.data_dir {
        Some(dir) => PgCluster::start_in(dir).await,
        None => PgCluster::start_temp().await,
    }
    .map_err(|e| e.to_string())?;
    let url = cluster.url("postgres");
    let kind = match cluster.is_temporary() {
        true => "throwaway, removed on exit",
        false => "kept between runs",
    };
    println!(
        "PostgreSQL (pid {}, data in {}, {kind}) at {url}",
        cluster.pid().unwrap_or(0),
        cluster.data_dir().display()
    );
    println!(
        "try: dbosd workflow list --address {0}   or   grpcurl -plaintext {0} list",
        args.server.listen
    );
    let mut settings = Settings::from_args(url, &args.schema, &args.server, true);
    // A first try serves MCP too, unless --mcp=false.
    settings.mcp = args.server.mcp_settings(true);
    settings.databases = dev_databases(&cluster, args.dev_databases).await?;
    // And the web console, unless --ui=false (its URL is printed once the port is bound).
    settings.ui = args.server.ui.unwrap_or(true);
    let result = tokio::select! {
        served = serve_with(&settings, &args.server) => served,
        status = cluster.exited() => Err(format!(
            "PostgreSQL exited unexpectedly ({}); stopping. Last lines of {}:\n{}",
            status.map_or_else(|e| e.to_string(), |s| s.to_string()),
            cluster.data_dir().join("dbosd-postgres.log").display(),
            cluster.log_tail()
        )),
    };
    let (temporary, scratch, data) = (
        cluster.is_temporary(),
        cluster.scratch_dir().to_path_buf(),
        cluster.data_dir().to_path_buf(),
    );
    let stopped = cluster.stop().await.map_err(|e| e.to_string());
    if stopped.is_ok() {
        match temporary {
            true => println!("stopped PostgreSQL; removed {}", scratch.display()),
            false => println!("stopped PostgreSQL; data kept in {}", data.display()),
        }
    }
    result.and(stopped)
}
