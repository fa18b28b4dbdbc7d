//! Command line and environment: `dbosd [serve]`, `dbosd migrate`, `dbosd start-dev`, and the client
//! commands of `crate::cli` (`dbosd workflow ...`, `dbosd enqueue`, `dbosd queue ...`, ...) and
//! `dbosd mcp`.
//! Every flag has an environment fallback, so a container needs no arguments.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand};

use crate::{repo::PoolOptions, tls::TlsFiles};

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
    /// Create or upgrade the DBOS system schema (to the end state of DBOS 3.4.0, version 125) and
    /// exit: of --database-url's database and every database of --config, or of those --database names.
    Migrate(MigrateArgs),
    /// Start a throwaway local PostgreSQL, migrate it and serve: one command for a first try.
    StartDev(StartDevArgs),
    /// The client commands (`workflow`, `enqueue`, `queue`, ...): see `crate::cli`.
    #[command(flatten)]
    Client(crate::cli::ClientCommand),
    /// Serve the Model Context Protocol on stdin/stdout for an AI agent, through a running dbosd.
    Mcp(crate::cli::mcp::McpArgs),
    /// Show the retention policy, or run one retention round against a database now.
    Retention(crate::cli::retention::RetentionCommandArgs),
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
    /// A URL that reaches PostgreSQL directly, for the hub's LISTEN connection, when
    /// --database-url goes through a transaction-pooling pgbouncer (LISTEN needs a session).
    #[arg(long, env = "DBOSD_DIRECT_DATABASE_URL", hide_env_values = true)]
    pub direct_database_url: Option<String>,
}

/// What `dbosd migrate` migrates.
#[derive(Debug, Clone, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The servers' TOML config file of databases (see `serve --config`).
    #[arg(long, env = "DBOSD_SERVER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Only this database: a name of --config (`default` for --database-url's), or NAME=URL;
    /// repeatable. Without it, every database given is migrated.
    #[arg(long = "database")]
    pub databases: Vec<String>,
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

/// `--auth-exempt`'s default: health and both reflection versions.
pub const DEFAULT_AUTH_EXEMPT: &str =
    "grpc.health.v1.Health,grpc.reflection.v1.ServerReflection,grpc.reflection.v1alpha.ServerReflection";

/// Server options shared by `serve` and `start-dev`.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// The other databases to serve: `--database`, `--config` (see `crate::fleet_config`).
    #[command(flatten)]
    pub fleet: crate::fleet_config::FleetFlags,
    /// Address the gRPC server listens on.
    #[arg(long, env = "DBOSD_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    /// Address of the Prometheus metrics endpoint (`GET /metrics`); off when not given.
    #[arg(long, env = "DBOSD_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Threads running dbosd's tasks; 0 for one per CPU core. dbosd does little work per call, so
    /// one thread serves tens of thousands of calls per second and saves the cross-thread wake-ups
    /// that cost more than the work (measured: +35% enqueues/s at 16 clients on 2 cores shared with
    /// PostgreSQL). Raise it when one dbosd core is saturated.
    #[arg(long, env = "DBOSD_WORKER_THREADS", default_value_t = 1)]
    pub worker_threads: usize,
    /// Maximum database connections in the pool.
    #[arg(long, env = "DBOSD_POOL_SIZE", default_value_t = 16)]
    pub pool_size: u32,
    /// Most enqueue statements in flight at once, each slot on a session of its own (outside the
    /// pool, straight to PostgreSQL like the hub's) with the statement prepared. EnqueueWorkflow
    /// calls that arrive while all are busy share the next statement (one commit for many
    /// workflows, each with its own outcome). More slots suit databases with many cores.
    #[arg(long, env = "DBOSD_ENQUEUE_SLOTS", default_value_t = 1)]
    pub enqueue_slots: usize,
    /// Milliseconds a request waits for a free connection before RESOURCE_EXHAUSTED.
    #[arg(long, env = "DBOSD_ACQUIRE_TIMEOUT_MS", default_value_t = 5000)]
    pub acquire_timeout_ms: u64,
    /// Milliseconds any one SQL statement may run before the call fails with DEADLINE_EXCEEDED
    /// (PostgreSQL's statement_timeout on dbosd's connections, lowered per statement to the time
    /// left to the call's deadline); 0 leaves the database's setting. The default matches the
    /// default deadline of unary calls.
    #[arg(long, env = "DBOSD_STATEMENT_TIMEOUT_MS", default_value_t = 30_000)]
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
    /// Milliseconds between the first SIGTERM/SIGINT (health turns NOT_SERVING) and the end of open
    /// streams, so load balancers stop routing here first. A second signal exits at once.
    #[arg(long, env = "DBOSD_DRAIN_GRACE_MS", default_value_t = 0)]
    pub drain_grace_ms: u64,
    /// Milliseconds from the first signal until dbosd exits even if unary calls are still running.
    #[arg(long, env = "DBOSD_DRAIN_TIMEOUT_MS", default_value_t = 10_000)]
    pub drain_timeout_ms: u64,
    /// Most server-streaming calls (waits and watches) open at once; more get RESOURCE_EXHAUSTED.
    #[arg(long, env = "DBOSD_MAX_STREAMS", default_value_t = 10_000)]
    pub max_streams: usize,
    /// Most unary calls in flight at once (waits such as GetEvent count as streams instead); more
    /// are answered at once with RESOURCE_EXHAUSTED and a retry pushback; 0 for no limit.
    #[arg(long, env = "DBOSD_MAX_CONCURRENT_CALLS", default_value_t = 1024)]
    pub max_concurrent_calls: usize,
    /// Most distinct things (workflows, events, streams) waited on at once; a wait for one more
    /// gets RESOURCE_EXHAUSTED. Default: ten per stream or GetEvent wait (--max-streams caps both).
    #[arg(long, env = "DBOSD_MAX_HUB_KEYS")]
    pub max_hub_keys: Option<usize>,
    /// Largest gRPC message accepted or sent, in bytes; larger ones get RESOURCE_EXHAUSTED.
    #[arg(long, env = "DBOSD_MAX_MESSAGE_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_message_bytes: usize,
    /// Largest payload a call may write (workflow inputs, attributes, a message), in bytes; larger
    /// ones get INVALID_ARGUMENT, so what is written can be read back within --max-message-bytes.
    /// At most a quarter of --max-message-bytes applies (a read carries a payload's text and its
    /// decoded JSON, and the worker's output besides).
    #[arg(long, env = "DBOSD_MAX_PAYLOAD_BYTES", default_value_t = 1024 * 1024)]
    pub max_payload_bytes: usize,
    /// Default deadline of unary calls, in milliseconds (waits such as GetEvent and the streams have
    /// their own timeouts); 0 for none. A shorter grpc-timeout from the caller wins.
    #[arg(long, env = "DBOSD_RPC_TIMEOUT_MS", default_value_t = 30_000)]
    pub rpc_timeout_ms: u64,
    /// JSON file of bearer tokens and the applications (and queues) each may touch; when given,
    /// every call outside --auth-exempt needs `authorization: Bearer <token>`.
    #[arg(long, env = "DBOSD_TOKENS_FILE")]
    pub tokens_file: Option<PathBuf>,
    /// Services callable without a token (comma-separated full names). By default health (for
    /// probes) and reflection (it reveals only the API's schema, which is public); pass
    /// `grpc.health.v1.Health` alone to require a token for reflection.
    #[arg(
        long,
        env = "DBOSD_AUTH_EXEMPT",
        value_delimiter = ',',
        default_value = DEFAULT_AUTH_EXEMPT
    )]
    pub auth_exempt: Vec<String>,
    /// PEM certificate (chain) for TLS on the gRPC port; needs --tls-key.
    #[arg(long, env = "DBOSD_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "DBOSD_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// PEM CA bundle: clients must present a certificate it signed (mTLS).
    #[arg(long, env = "DBOSD_TLS_CLIENT_CA")]
    pub tls_client_ca: Option<PathBuf>,
    /// A plaintext port serving only grpc.health.v1.Health, for probes that cannot speak TLS
    /// (Kubernetes' gRPC probes); off when not given.
    #[arg(long, env = "DBOSD_HEALTH_LISTEN")]
    pub health_listen: Option<SocketAddr>,
    /// Serve the Model Context Protocol (streamable HTTP) at `/mcp` on the gRPC port, for AI agents:
    /// off by default in `serve`, on in `start-dev` (`--mcp=false` turns it off).
    #[arg(long, env = "DBOSD_MCP", num_args = 0..=1, default_missing_value = "true")]
    pub mcp: Option<bool>,
    /// Also offer the MCP management tools (cancel, resume, fork, delete one workflow).
    #[arg(long, env = "DBOSD_MCP_ALLOW_WRITES")]
    pub mcp_allow_writes: bool,
    /// A `Host` (name or name:port) `/mcp` accepts beyond localhost, 127.0.0.1 and ::1; `*` for any.
    #[arg(
        long = "mcp-allowed-host",
        env = "DBOSD_MCP_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    pub mcp_allowed_hosts: Vec<String>,
    /// Log format: `text` or `json`.
    #[arg(long, env = "DBOSD_LOG_FORMAT", default_value = "text")]
    pub log_format: String,
    /// Let callers store raw native schedule contexts (`context_native_text`: base64 pickles,
    /// superjson). Off by default: workers execute what they unpickle. With tokens on, a token also
    /// needs `"native_payloads": true`. Pickles are still checked opcode by opcode.
    #[arg(long, env = "DBOSD_ALLOW_NATIVE_PAYLOADS")]
    pub allow_native_payloads: bool,
    /// A pickle global (`module.name`) to allow beyond the datetime, decimal and uuid defaults, in
    /// native text written or read; repeatable (comma-separated in the environment).
    #[arg(
        long = "native-allow-global",
        env = "DBOSD_NATIVE_ALLOW_GLOBALS",
        value_delimiter = ','
    )]
    pub native_allow_globals: Vec<String>,
    /// A browser origin (e.g. `https://console.example.com`) allowed to call the Connect and
    /// gRPC-Web endpoints cross-origin; repeatable (comma-separated in the environment). CORS is
    /// off when none is given.
    #[arg(
        long = "cors-origin",
        env = "DBOSD_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,
    /// Serve the web console at `/ui` on the gRPC port: off by default in `serve`, on in
    /// `start-dev` (`--ui=false` turns it off). Its pages hold no data; it calls the API with the
    /// token typed into it.
    #[arg(long, env = "DBOSD_UI", num_args = 0..=1, default_missing_value = "true")]
    pub ui: Option<bool>,
    /// Retention (`--retention-*`): off unless a bound is given.
    #[command(flatten)]
    pub retention: crate::retention::RetentionArgs,
    /// Milliseconds between refreshes of the workflow health metrics (one bounded query of the
    /// system database each, never one per scrape); 0 turns them off.
    #[arg(
        long,
        env = "DBOSD_WORKFLOW_METRICS_INTERVAL_MS",
        default_value_t = 15_000
    )]
    pub workflow_metrics_interval_ms: u64,
    /// Most workflow names (and, separately, step and queue names) with a metrics label of their
    /// own; later names share the label `other`.
    #[arg(long, env = "DBOSD_WORKFLOW_METRICS_MAX_NAMES", default_value_t = 100)]
    pub workflow_metrics_max_names: usize,
    /// Run bulk jobs (StartBulkJob) on this replica: `false` leaves them to the other replicas.
    #[arg(long, env = "DBOSD_BULK_JOB_RUNNER", default_value_t = true, action = clap::ArgAction::Set)]
    pub bulk_job_runner: bool,
    /// Milliseconds a bulk job stays with the replica running it after its last batch; when a
    /// replica dies, another takes its job over after at most this.
    #[arg(long, env = "DBOSD_BULK_JOB_LEASE_MS", default_value_t = 30_000)]
    pub bulk_job_lease_ms: u64,
}

impl ServerArgs {
    /// The settings of `--mcp`, `--mcp-allow-writes` and `--mcp-allowed-host`; `default_on` is
    /// whether `/mcp` is served when `--mcp` is not given (`start-dev`).
    pub fn mcp_settings(&self, default_on: bool) -> Option<crate::mcp::McpSettings> {
        self.mcp
            .unwrap_or(default_on)
            .then(|| crate::mcp::McpSettings {
                allow_writes: self.mcp_allow_writes,
                allowed_hosts: self.mcp_allowed_hosts.clone(),
            })
    }
}

/// `start-dev` options.
#[derive(Debug, Clone, Args)]
pub struct StartDevArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Keep the database in this directory (created if missing) instead of a temporary one
    /// removed on exit, so workflows survive between runs.
    #[arg(long, env = "DBOSD_DEV_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Schema of the DBOS system tables.
    #[arg(long, env = "DBOSD_SCHEMA", default_value = "dbos")]
    pub schema: String,
    /// Serve this many system databases, to try a fleet: the default one and `db2` ... `dbN`, all
    /// in the one throwaway cluster (several databases in one cluster, not a cluster each), each
    /// created and migrated. Calls pick one with `dbos-database` metadata (`--database` in the CLI).
    #[arg(
        long = "databases",
        value_name = "N",
        env = "DBOSD_DEV_DATABASES",
        default_value_t = 1,
        value_parser = clap::value_parser!(u16).range(1..=100)
    )]
    pub dev_databases: u16,
}

/// Everything `server::run` needs, independent of clap.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: String,
    /// Where LISTEN connects (`database_url` when `None`).
    pub direct_database_url: Option<String>,
    pub schema: String,
    pub pool: PoolOptions,
    /// Most enqueue statements in flight at once (see `--enqueue-slots`).
    pub enqueue_slots: usize,
    pub application_name: Option<String>,
    pub health_interval: Duration,
    pub hub_tick: Duration,
    /// How long startup waits for the database to appear (zero: fail at once).
    pub wait_for_database: Duration,
    pub migrate: bool,
    /// How long health reports NOT_SERVING before open streams end.
    pub drain_grace: Duration,
    /// The whole drain's bound, from the signal.
    pub drain_timeout: Duration,
    pub max_streams: usize,
    /// Most unary calls in flight (0: no limit).
    pub max_concurrent_calls: usize,
    /// Most distinct keys the hub tracks waits on.
    pub max_hub_keys: usize,
    pub max_message_bytes: usize,
    /// Largest payload a call may write; see [`Settings::payload_limit`].
    pub max_payload_bytes: usize,
    /// Default deadline of unary calls that do not wait on purpose.
    pub rpc_timeout: Option<Duration>,
    /// Bearer tokens; `None` for no authentication.
    pub tokens_file: Option<PathBuf>,
    /// Services callable without a token.
    pub auth_exempt: Vec<String>,
    /// TLS on the gRPC port (plaintext when empty).
    pub tls: TlsFiles,
    /// Raw native payloads: the switch and the pickle global allowlist.
    pub native: crate::native::NativePolicy,
    /// `--native-allow-global` entries, checked by `validate` and merged into `native.allowlist`.
    pub native_allow_globals: Vec<String>,
    /// MCP at `/mcp` on the gRPC port; `None`: not served.
    pub mcp: Option<crate::mcp::McpSettings>,
    /// Browser origins allowed cross-origin (`--cors-origin`); CORS is off when empty.
    pub cors_origins: Vec<String>,
    /// The default database's name (`dbos-database` of calls that name none are routed to it).
    pub default_database: String,
    /// The other databases served at startup (the flags' and the config file's).
    pub databases: Vec<crate::fleet_config::DatabaseSpec>,
    /// The `--database` flags' databases alone, kept across reloads of the config file.
    pub flag_databases: Vec<crate::fleet_config::DatabaseSpec>,
    /// The config file, re-read on SIGHUP and when it changes.
    pub config_file: Option<PathBuf>,
    /// How often the config file's modification time is looked at.
    pub config_poll: Duration,
    /// The web console at `/ui` (`--ui`); `/ui` is 404 when off.
    pub ui: bool,
    /// The retention runner's policy; `None`: no runner.
    pub retention: Option<crate::retention::RetentionPolicy>,
    /// The workflow health metrics' refresher (`--workflow-metrics-*`).
    pub workflow_metrics: crate::telemetry::workflow_metrics::WorkflowMetricsSettings,
    /// OpenTelemetry traces, from the `OTEL_*` environment (off without an endpoint).
    pub traces: crate::telemetry::traces::TraceSettings,
    /// The lease of the bulk jobs this replica runs; `None` when it runs none.
    pub bulk_job_lease: Option<Duration>,
}

impl Settings {
    /// Settings for `database_url` with dbosd's defaults (used by tests and benchmarks).
    pub fn new(database_url: impl Into<String>) -> Self {
        Settings {
            database_url: database_url.into(),
            direct_database_url: None,
            schema: "dbos".to_owned(),
            pool: PoolOptions {
                size: 16,
                acquire_timeout: Duration::from_secs(5),
                statement_timeout: Some(Duration::from_secs(30)),
                min_idle: 1,
                idle_timeout: Duration::from_secs(600),
            },
            enqueue_slots: 1,
            application_name: None,
            health_interval: Duration::from_secs(5),
            hub_tick: Duration::from_millis(5),
            wait_for_database: Duration::ZERO,
            migrate: false,
            drain_grace: Duration::ZERO,
            drain_timeout: Duration::from_secs(10),
            max_streams: 10_000,
            max_concurrent_calls: 1024,
            max_hub_keys: 100_000,
            max_message_bytes: 4 * 1024 * 1024,
            max_payload_bytes: 1024 * 1024,
            rpc_timeout: Some(Duration::from_secs(30)),
            tokens_file: None,
            auth_exempt: DEFAULT_AUTH_EXEMPT.split(',').map(str::to_owned).collect(),
            tls: TlsFiles::default(),
            native: crate::native::NativePolicy::default(),
            native_allow_globals: Vec::new(),
            mcp: None,
            cors_origins: Vec::new(),
            default_database: crate::fleet_config::DEFAULT_NAME.to_owned(),
            databases: Vec::new(),
            flag_databases: Vec::new(),
            config_file: None,
            config_poll: Duration::from_secs(2),
            ui: false,
            retention: None,
            // Off here (the flag's default is on): tests and benchmarks that count queries and
            // connections see only their own; those about the workflow metrics turn them on.
            workflow_metrics: crate::telemetry::workflow_metrics::WorkflowMetricsSettings {
                interval: Duration::ZERO,
                ..Default::default()
            },
            traces: Default::default(),
            // Off here (the flag's default is on): tests that count queries and connections see
            // only their own; those about bulk jobs turn the runner on.
            bulk_job_lease: None,
        }
    }

    /// The payload limit that applies: `--max-payload-bytes`, and at most a quarter of
    /// `--max-message-bytes`, so one workflow's input (text and decoded JSON) and output fit a read.
    pub fn payload_limit(&self) -> usize {
        self.max_payload_bytes.min(self.max_message_bytes / 4)
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
            direct_database_url: None,
            schema: schema.to_owned(),
            pool: PoolOptions {
                size: server.pool_size,
                acquire_timeout: Duration::from_millis(server.acquire_timeout_ms),
                statement_timeout: (server.statement_timeout_ms > 0)
                    .then(|| Duration::from_millis(server.statement_timeout_ms)),
                min_idle: 1,
                idle_timeout: Duration::from_secs(600),
            },
            enqueue_slots: server.enqueue_slots,
            application_name: server.application_name.clone().filter(|a| !a.is_empty()),
            health_interval: Duration::from_millis(server.health_interval_ms.max(100)),
            hub_tick: Duration::from_millis(server.hub_tick_ms.max(1)),
            wait_for_database: Duration::from_millis(server.wait_for_database_ms),
            migrate,
            drain_grace: Duration::from_millis(server.drain_grace_ms),
            drain_timeout: Duration::from_millis(server.drain_timeout_ms),
            max_streams: server.max_streams,
            max_concurrent_calls: server.max_concurrent_calls,
            max_hub_keys: server
                .max_hub_keys
                .unwrap_or(server.max_streams.saturating_mul(10)),
            max_message_bytes: server.max_message_bytes,
            max_payload_bytes: server.max_payload_bytes,
            rpc_timeout: (server.rpc_timeout_ms > 0)
                .then(|| Duration::from_millis(server.rpc_timeout_ms)),
            tokens_file: server.tokens_file.clone(),
            auth_exempt: server.auth_exempt.clone(),
            tls: TlsFiles {
                cert: server.tls_cert.clone(),
                key: server.tls_key.clone(),
                client_ca: server.tls_client_ca.clone(),
            },
            native: crate::native::NativePolicy {
                allow_raw: server.allow_native_payloads,
                // Replaced by the full list in `validate`, which reports a malformed entry.
                allowlist: crate::native::Allowlist::with_extra(&server.native_allow_globals)
                    .unwrap_or_default(),
            },
            native_allow_globals: server.native_allow_globals.clone(),
            mcp: server.mcp_settings(false),
            cors_origins: server.cors_origins.clone(),
            default_database: crate::fleet_config::DEFAULT_NAME.to_owned(),
            databases: server.fleet.databases.clone(),
            flag_databases: server.fleet.databases.clone(),
            config_file: server.fleet.config.clone(),
            config_poll: Duration::from_millis(server.fleet.config_poll_ms.max(100)),
            ui: server.ui.unwrap_or(false),
            retention: server.retention.policy(),
            workflow_metrics: crate::telemetry::workflow_metrics::WorkflowMetricsSettings {
                interval: Duration::from_millis(server.workflow_metrics_interval_ms),
                max_names: server.workflow_metrics_max_names,
            },
            // An invalid variable is reported by `validate`, which parses them again.
            traces: crate::telemetry::traces::TraceSettings::from_env().unwrap_or_default(),
            bulk_job_lease: server
                .bulk_job_runner
                .then(|| Duration::from_millis(server.bulk_job_lease_ms.max(100))),
        }
    }

    /// Where sessions that must be real PostgreSQL sessions connect (LISTEN, migrations).
    pub fn direct_url(&self) -> &str {
        self.direct_database_url
            .as_deref()
            .unwrap_or(&self.database_url)
    }

    /// Rejects combinations that cannot work, in the flags' terms.
    pub fn validate(&self) -> Result<(), String> {
        if self.drain_grace >= self.drain_timeout {
            return Err(
                "--drain-grace-ms must be less than --drain-timeout-ms (the timeout counts from the signal)"
                    .to_owned(),
            );
        }
        if self.max_message_bytes < 1024 {
            return Err("--max-message-bytes must be at least 1024".to_owned());
        }
        if self.max_payload_bytes < 256 {
            return Err("--max-payload-bytes must be at least 256".to_owned());
        }
        self.tls.server_config()?;
        if self.enqueue_slots == 0 {
            return Err("--enqueue-slots must be at least 1".to_owned());
        }
        if self.max_streams == 0 {
            return Err("--max-streams must be at least 1".to_owned());
        }
        crate::native::Allowlist::with_extra(&self.native_allow_globals)?;
        if self
            .pool
            .statement_timeout
            .is_some_and(|t| t.as_millis() > i32::MAX as u128)
        {
            return Err(
                "--statement-timeout-ms must be at most 2147483647 (PostgreSQL's limit)".to_owned(),
            );
        }
        if self.max_hub_keys == 0 {
            return Err("--max-hub-keys must be at least 1".to_owned());
        }
        crate::http::cors::check_origins(&self.cors_origins)?;
        crate::fleet_config::check_name(&self.default_database)?;
        let names = self.databases.iter().map(|d| &d.name);
        if let Some(clash) = names.clone().find(|n| **n == self.default_database) {
            return Err(format!(
                "database {clash:?} is the default database's name (--database-url's is \"default\"); pick another"
            ));
        }
        crate::fleet_config::merge(&self.databases, &[])?;
        if let Some(retention) = &self.retention {
            retention.check()?;
        }
        let interval = self.workflow_metrics.interval;
        if !interval.is_zero() && interval < Duration::from_secs(1) {
            return Err(
                "--workflow-metrics-interval-ms must be 0 (off) or at least 1000".to_owned(),
            );
        }
        if self.workflow_metrics.max_names == 0 {
            return Err("--workflow-metrics-max-names must be at least 1".to_owned());
        }
        crate::telemetry::traces::TraceSettings::from_env()?;
        Ok(())
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
