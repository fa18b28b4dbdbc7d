//! `Settings`: everything `server::run` needs, built from the parsed flags (`ServerArgs`) or by
//! tests (`Settings::new`), and checked once before anything starts.

use std::{path::PathBuf, time::Duration};

use super::{ServerArgs, DEFAULT_AUTH_EXEMPT};
use crate::{repo::PoolOptions, tls::TlsFiles};

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
    /// Shortest spacing of the WatchWorkflows feed's rescans of every in-flight row.
    pub hub_watch_rescan: Duration,
    /// How long startup waits for the database to appear (zero: fail at once).
    pub wait_for_database: Duration,
    pub migrate: bool,
    /// How long health reports NOT_SERVING before open streams end.
    pub drain_grace: Duration,
    /// The whole drain's bound, from the signal.
    pub drain_timeout: Duration,
    pub max_streams: usize,
    /// Accepted connections: how many at once and how soon they must speak.
    pub connections: crate::connections::ConnectionLimits,
    /// Silence on an HTTP/2 connection before dbosd pings the client (`None`: never).
    pub keepalive: Option<Duration>,
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
    /// The retention runner's policy (`--retention-*`, the fleet-wide default; a configured
    /// database's own is derived by `fleet::open::settings_for`); `None`: no runner.
    pub retention: Option<crate::retention::RetentionPolicy>,
    /// The `--retention-*` pace (interval, batch size, dry run) a database's own bounds run at
    /// when the flags give none.
    pub retention_pace: crate::retention::RetentionPolicy,
    /// The default database's own retention, when it is a config-file database with its table.
    pub default_retention: crate::retention::RetentionOverride,
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
            hub_tick: Duration::from_millis(3),
            hub_watch_rescan: Duration::ZERO,
            wait_for_database: Duration::ZERO,
            migrate: false,
            drain_grace: Duration::ZERO,
            drain_timeout: Duration::from_secs(10),
            max_streams: 10_000,
            connections: crate::connections::ConnectionLimits {
                max_connections: 10_000,
                handshake_timeout: Some(Duration::from_secs(10)),
            },
            keepalive: Some(Duration::from_secs(60)),
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
            retention_pace: Default::default(),
            default_retention: Default::default(),
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
            hub_watch_rescan: Duration::from_millis(server.hub_watch_rescan_ms),
            wait_for_database: Duration::from_millis(server.wait_for_database_ms),
            migrate,
            drain_grace: Duration::from_millis(server.drain_grace_ms),
            drain_timeout: Duration::from_millis(server.drain_timeout_ms),
            max_streams: server.max_streams,
            connections: crate::connections::ConnectionLimits {
                max_connections: server.max_connections,
                handshake_timeout: (server.handshake_timeout_ms > 0)
                    .then(|| Duration::from_millis(server.handshake_timeout_ms)),
            },
            keepalive: (server.keepalive_ms > 0)
                .then(|| Duration::from_millis(server.keepalive_ms)),
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
            retention_pace: server.retention.pace(),
            default_retention: Default::default(),
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
        self.tls.server_config(None)?;
        if self.enqueue_slots == 0 {
            return Err("--enqueue-slots must be at least 1".to_owned());
        }
        if self.max_streams == 0 {
            return Err("--max-streams must be at least 1".to_owned());
        }
        if self.connections.max_connections == 0 {
            return Err("--max-connections must be at least 1".to_owned());
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
        // A database's own bounds (config file) run at this pace even when the flags give none.
        self.retention_pace.check()?;
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
