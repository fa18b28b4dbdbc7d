//! Command line and environment: `dbosd [serve]`, `dbosd migrate`, `dbosd start-dev`, and the client
//! commands of `crate::cli` (`dbosd workflow ...`, `dbosd enqueue`, `dbosd send`).
//! Every flag has an environment fallback, so a container needs no arguments.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand};

use crate::repo::PoolOptions;

/// dbosd: the DBOS Client API over gRPC, served directly on a DBOS system database.
#[derive(Debug, Parser)]
#[command(name = "dbosd", version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Serve options when no subcommand is given.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// What to run.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the gRPC API (the default).
    Serve(ServeArgs),
    /// Create or upgrade the DBOS system schema (to the end state of DBOS 3.4.0, version 125) and exit.
    Migrate(DatabaseArgs),
    /// Start a throwaway local PostgreSQL, migrate it and serve: one command for a first try.
    StartDev(StartDevArgs),
    /// Inspect and manage workflows through a running dbosd (list, get, cancel, resume, fork, await).
    Workflow(crate::cli::WorkflowArgs),
    /// Enqueue a workflow through a running dbosd (and, with --await, wait for its result).
    Enqueue(crate::cli::EnqueueArgs),
    /// Send a message to a workflow through a running dbosd.
    Send(crate::cli::SendArgs),
}

/// Where the system database is.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// PostgreSQL URL of the DBOS system database.
    #[arg(long, env = "DBOS_SYSTEM_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Schema of the DBOS system tables.
    #[arg(long, env = "DBOSD_SCHEMA", default_value = "dbos")]
    pub schema: String,
}

/// How to serve.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub server: ServerArgs,
    /// Create or upgrade the DBOS schema before serving.
    #[arg(long, env = "DBOSD_MIGRATE")]
    pub migrate: bool,
}

/// Server options shared by `serve` and `start-dev`.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Address the gRPC server listens on.
    #[arg(long, env = "DBOSD_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    /// Maximum database connections in the pool.
    #[arg(long, env = "DBOSD_POOL_SIZE", default_value_t = 16)]
    pub pool_size: u32,
    /// Milliseconds a request waits for a free connection before RESOURCE_EXHAUSTED.
    #[arg(long, env = "DBOSD_ACQUIRE_TIMEOUT_MS", default_value_t = 5000)]
    pub acquire_timeout_ms: u64,
    /// Milliseconds any one SQL statement may run (PostgreSQL's statement_timeout on pooled
    /// connections) before the call fails with DEADLINE_EXCEEDED; 0 leaves the database's setting.
    #[arg(long, env = "DBOSD_STATEMENT_TIMEOUT_MS", default_value_t = 0)]
    pub statement_timeout_ms: u64,
    /// Application name stamped on enqueued workflows that name none (NULL = any application may run them).
    #[arg(long, env = "DBOSD_APPLICATION_NAME")]
    pub application_name: Option<String>,
    /// Milliseconds between health checks of the database and schema.
    #[arg(long, env = "DBOSD_HEALTH_INTERVAL_MS", default_value_t = 5000)]
    pub health_interval_ms: u64,
    /// Milliseconds between the hub's batched polls for awaited workflows, events and streams
    /// (only while something waits). Bounds how late a waiter learns of a completion.
    #[arg(long, env = "DBOSD_HUB_TICK_MS", default_value_t = 5)]
    pub hub_tick_ms: u64,
    /// Milliseconds to wait for an unreachable (or not yet migrated) database at startup, serving
    /// NOT_SERVING and UNAVAILABLE meanwhile and retrying with backoff; 0 exits at once instead.
    #[arg(long, env = "DBOSD_WAIT_FOR_DATABASE_MS", default_value_t = 0)]
    pub wait_for_database_ms: u64,
    /// Log format: `text` or `json`.
    #[arg(long, env = "DBOSD_LOG_FORMAT", default_value = "text")]
    pub log_format: String,
}

/// `start-dev` options.
#[derive(Debug, Clone, Args)]
pub struct StartDevArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Keep the database in this directory (created if missing) instead of a temporary one.
    #[arg(long, env = "DBOSD_DEV_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Schema of the DBOS system tables.
    #[arg(long, env = "DBOSD_SCHEMA", default_value = "dbos")]
    pub schema: String,
}

/// Everything `server::run` needs, independent of clap.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: String,
    pub schema: String,
    pub pool: PoolOptions,
    pub application_name: Option<String>,
    pub health_interval: Duration,
    pub hub_tick: Duration,
    pub migrate: bool,
    /// How long startup waits for the database to appear (zero: fail at once).
    pub wait_for_database: Duration,
}

impl Settings {
    /// Settings for `database_url` with dbosd's defaults (used by tests and benchmarks).
    pub fn new(database_url: impl Into<String>) -> Self {
        Settings {
            database_url: database_url.into(),
            schema: "dbos".to_owned(),
            pool: PoolOptions {
                size: 16,
                acquire_timeout: Duration::from_secs(5),
                statement_timeout: None,
            },
            application_name: None,
            health_interval: Duration::from_secs(5),
            hub_tick: Duration::from_millis(5),
            migrate: false,
            wait_for_database: Duration::ZERO,
        }
    }

    /// Settings from parsed arguments.
    pub fn from_args(
        database_url: String,
        schema: &str,
        server: &ServerArgs,
        migrate: bool,
    ) -> Self {
        Settings {
            database_url,
            schema: schema.to_owned(),
            pool: PoolOptions {
                size: server.pool_size,
                acquire_timeout: Duration::from_millis(server.acquire_timeout_ms),
                statement_timeout: (server.statement_timeout_ms > 0)
                    .then(|| Duration::from_millis(server.statement_timeout_ms)),
            },
            application_name: server.application_name.clone().filter(|a| !a.is_empty()),
            health_interval: Duration::from_millis(server.health_interval_ms.max(100)),
            hub_tick: Duration::from_millis(server.hub_tick_ms.max(1)),
            migrate,
            wait_for_database: Duration::from_millis(server.wait_for_database_ms),
        }
    }
}

/// The URL without its password, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match url.parse::<tokio_postgres::Config>() {
        Ok(cfg) => {
            let hosts: Vec<String> = cfg
                .get_hosts()
                .iter()
                .map(|h| match h {
                    tokio_postgres::config::Host::Tcp(name) => name.clone(),
                    tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
                })
                .collect();
            let port = cfg.get_ports().first().copied().unwrap_or(5432);
            format!(
                "postgres://{}@{}:{port}/{}",
                cfg.get_user().unwrap_or(""),
                hosts.join(","),
                cfg.get_dbname().unwrap_or("")
            )
        }
        Err(_) => "<unparsable URL>".to_owned(),
    }
}
