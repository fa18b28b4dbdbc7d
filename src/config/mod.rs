//! Command line and environment: `dbosd [serve]`, `dbosd migrate`, `dbosd start-dev`, and the client
//! commands of `crate::cli` (`dbosd workflow ...`, `dbosd enqueue`, `dbosd queue ...`, ...) and
//! `dbosd mcp`.
//! Every flag has an environment fallback, so a container needs no arguments.

use std::{net::SocketAddr, path::PathBuf};

use clap::{Args, Parser, Subcommand};

mod settings;
pub use settings::{redact_url, Settings};

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
    #[arg(long, env = "DBOSD_HUB_TICK_MS", default_value_t = 3)]
    pub hub_tick_ms: u64,
    /// Shortest milliseconds between two rescans of every in-flight workflow for WatchWorkflows
    /// (the changes no index finds: resume, recovery). Rescans are also spaced by ten times their
    /// own cost; 0 leaves only that.
    #[arg(long, env = "DBOSD_HUB_WATCH_RESCAN_MS", default_value_t = 0)]
    pub hub_watch_rescan_ms: u64,
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
    /// Most client connections open at once (gRPC port; the health port has its own); at the
    /// limit dbosd stops accepting and new clients wait in the listen backlog until one closes.
    #[arg(long, env = "DBOSD_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,
    /// Milliseconds a new connection has to open (send 24 bytes, the HTTP/2 preface's length; with
    /// TLS, finish the handshake) before it is closed; 0 for no limit.
    #[arg(long, env = "DBOSD_HANDSHAKE_TIMEOUT_MS", default_value_t = 10_000)]
    pub handshake_timeout_ms: u64,
    /// Milliseconds of silence on an HTTP/2 connection after which dbosd pings the client; a client
    /// that does not answer within 20 s (or this, if shorter) is disconnected and its calls end, so
    /// waits of clients that vanished (a crashed host, a dropped network) do not stay open
    /// forever; 0 for no pings.
    #[arg(long, env = "DBOSD_KEEPALIVE_MS", default_value_t = 60_000)]
    pub keepalive_ms: u64,
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
