//! The repository: the only place with SQL. One file per table family, all over one bb8 pool.
//!
//! Functions take a pooled client or a transaction; every multi-row write runs in one transaction.
//! Driver errors are classified here, once, into [`Error`]; nothing above this module sees a SqlState.

pub mod db;

pub mod aggregates;
pub mod batch;
pub mod debounce;
pub mod export;
pub mod jobs;
pub mod manage;
pub mod messaging;
pub mod queues;
pub mod retention;
pub mod schedules;
mod sql;
pub mod telemetry;
pub mod versions;
pub mod waits;
pub mod workflows;

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use bb8::{Pool, PooledConnection, RunError};
use tokio_postgres::NoTls;

use crate::error::{Error, Result};
pub use crate::repo::db::classify::classify;
use crate::repo::db::connect_failures::ConnectFailures;
pub use crate::repo::db::schema::SchemaInfo;
pub(crate) use crate::repo::db::unnamed::{Param, Unnamed};

pub use crate::repo::db::pooled::{Manager, PooledClient};
/// A connection checked out of the pool.
pub type Conn<'a> = PooledConnection<'a, Manager>;

/// Pool settings.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Maximum open connections.
    pub size: u32,
    /// How long a request waits for a free connection before RESOURCE_EXHAUSTED.
    pub acquire_timeout: Duration,
    /// The longest any statement may run: PostgreSQL's `statement_timeout` every connection
    /// starts with (None: the server's setting), lowered per statement to the time left to the
    /// call's deadline; a statement cancelled by it reaches the caller as DEADLINE_EXCEEDED.
    pub statement_timeout: Option<Duration>,
    /// Connections kept open while idle: 1 for the default database (its first call finds one),
    /// 0 for the other databases of a fleet, so a quiet database costs no pooled connection.
    pub min_idle: u32,
    /// How long an idle connection beyond `min_idle` stays open.
    pub idle_timeout: Duration,
}

/// The repository: pool, detected schema and the SQL built for it.
#[derive(Clone)]
pub struct Repo {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool<Manager>,
    /// Where dedicated sessions connect (not through a transaction-pooling proxy).
    direct: tokio_postgres::Config,
    /// The same, with the limits pooled connections have, for sessions that serve requests.
    direct_limited: tokio_postgres::Config,
    schema: SchemaInfo,
    sql: sql::Statements,
    acquire_timeout: Duration,
    connect_failures: ConnectFailures,
    /// Requests inside `conn()` now (bb8 does not count its waiters).
    waiting: AtomicU64,
}

impl Repo {
    /// Builds the pool (connecting lazily) for `url`, with SQL for an already-detected schema.
    /// Dedicated sessions (the hub's poller, which keeps a prepared statement) use `direct_url`.
    pub fn new(
        url: &str,
        direct_url: &str,
        options: &PoolOptions,
        schema: SchemaInfo,
    ) -> Result<Self> {
        let parse = |url: &str| {
            url.parse::<tokio_postgres::Config>()
                .map_err(|e| Error::invalid("database_url", format!("not a PostgreSQL URL: {e}")))
        };
        let (mut config, direct) = (parse(url)?, parse(direct_url)?);
        let mut direct_limited = direct.clone();
        // A request waits no longer for a session than for a pooled connection (unless the URL
        // says otherwise).
        if direct_limited.get_connect_timeout().is_none() {
            direct_limited.connect_timeout(options.acquire_timeout);
        }
        // A transaction-pooling proxy refuses startup options (and would not keep them per client):
        // behind one, pooled connections carry the database's (or role's) statement_timeout.
        let direct_pool = url == direct_url;
        if let Some(timeout) = options.statement_timeout {
            let configs = match direct_pool {
                true => vec![&mut config, &mut direct_limited],
                false => vec![&mut direct_limited],
            };
            for config in configs {
                // Appended to any options the URL carries; a later -c wins over an earlier one.
                let before = config.get_options().unwrap_or_default();
                let ms = timeout.as_millis().max(1);
                config.options(format!("{before} -c statement_timeout={ms}").trim());
            }
        }
        // Prepared statements and session settings only where the pool reaches PostgreSQL itself.
        let ceiling = options.statement_timeout.filter(|_| direct_pool);
        let manager = Manager::new(config, direct_pool, ceiling);
        let connect_failures = ConnectFailures::new();
        let pool = Pool::builder()
            .max_size(options.size.max(1))
            .min_idle(Some(options.min_idle.min(options.size.max(1))))
            .idle_timeout(Some(options.idle_timeout))
            // Reuse the connection returned last: the spares a burst opened then sit unused and
            // close after `idle_timeout` (first in, first out would keep every one of them alive
            // as long as anything uses the pool at all), and the hot connection keeps its
            // prepared statements warm.
            .queue_strategy(bb8::QueueStrategy::Lifo)
            // Check for idle connections often enough that `idle_timeout` is what bounds them.
            .reaper_rate(reaper_rate(options.idle_timeout))
            .connection_timeout(options.acquire_timeout)
            // A broken connection is found on use; checking on every checkout would cost a round trip.
            .test_on_check_out(false)
            // Report a refused connection as UNAVAILABLE now, instead of retrying until the acquire
            // timeout and reporting RESOURCE_EXHAUSTED: the caller's retry policy decides.
            .retry_connection(false)
            .error_sink(connect_failures.sink())
            .build_unchecked(manager);
        let sql = sql::Statements::build(&schema);
        Ok(Repo {
            inner: Arc::new(Inner {
                pool,
                direct,
                direct_limited,
                schema,
                sql,
                acquire_timeout: options.acquire_timeout,
                connect_failures,
                waiting: AtomicU64::new(0),
            }),
        })
    }

    /// The schema this repository was built for.
    pub fn schema(&self) -> &SchemaInfo {
        &self.inner.schema
    }

    pub(crate) fn sql(&self) -> &sql::Statements {
        &self.inner.sql
    }

    /// Checks out a connection, or fails with RESOURCE_EXHAUSTED (none free in time) or UNAVAILABLE
    /// (opening one failed while this request waited).
    pub async fn conn(&self) -> Result<Conn<'_>> {
        // The driver's text (host, user, server messages) goes to the log, not to the caller.
        let unavailable = |e: &str| {
            tracing::warn!(error = e, "cannot connect to the system database");
            Error::Unavailable("cannot connect to the system database; retry".to_owned())
        };
        let mut failures = self.inner.connect_failures.subscribe();
        let _waiting = Waiting::start(&self.inner.waiting);
        tokio::select! {
            got = self.inner.pool.get() => got.map_err(|e| match e {
                RunError::TimedOut => Error::ResourceExhausted(format!(
                    "no database connection became free within {} ms; retry later",
                    self.inner.acquire_timeout.as_millis()
                )),
                // Any failure to open a connection is a reachability problem, whatever its SQLSTATE.
                RunError::User(e) => unavailable(&e.to_string()),
            }),
            Ok(()) = failures.changed() => {
                Err(unavailable(failures.borrow().as_deref().unwrap_or("connection failed")))
            }
        }
    }

    /// A session of its own, outside the pool and straight to PostgreSQL (for a long-lived user such
    /// as the hub's poller, so it never takes a connection away from requests and may keep prepared
    /// statements). The returned task drives it.
    pub async fn dedicated_client(
        &self,
    ) -> Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>)> {
        Self::connect_direct(&self.inner.direct, "dbosd").await
    }

    /// Like [`Repo::dedicated_client`], with the pooled connections' limits (statement timeout),
    /// for a session that serves requests. `role` names it in `pg_stat_activity.application_name`
    /// (unless the database URL names the application itself), so an operator can tell it apart.
    pub async fn dedicated_request_client(
        &self,
        role: &str,
    ) -> Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>)> {
        Self::connect_direct(&self.inner.direct_limited, role).await
    }

    async fn connect_direct(
        config: &tokio_postgres::Config,
        role: &str,
    ) -> Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>)> {
        let mut config = config.clone();
        if config.get_application_name().is_none() {
            config.application_name(role);
        }
        let (client, connection) = config.connect(NoTls).await.map_err(|e| {
            tracing::warn!(error = %e, "cannot connect to the system database");
            Error::Unavailable("cannot connect to the system database; retry".to_owned())
        })?;
        let driver = tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "dedicated connection ended");
            }
        });
        Ok((client, driver))
    }

    /// Pool counters, for metrics.
    pub fn pool_state(&self) -> PoolState {
        let state = self.inner.pool.state();
        PoolState {
            connections: state.connections,
            idle: state.idle_connections,
            waiting: self.inner.waiting.load(Ordering::Relaxed),
        }
    }
}

/// A snapshot of the pool.
#[derive(Debug, Clone, Copy)]
pub struct PoolState {
    /// Open connections, in use or idle.
    pub connections: u32,
    /// Open connections nobody uses.
    pub idle: u32,
    /// Requests waiting for a connection now.
    pub waiting: u64,
}

/// Counts a request as waiting for a connection while it lives.
struct Waiting<'a>(&'a AtomicU64);

impl<'a> Waiting<'a> {
    fn start(counter: &'a AtomicU64) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Waiting(counter)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How often the pool looks for connections idle past `idle_timeout`: bb8's 30 s, or sooner for a
/// shorter timeout, so an idle connection lives at most about one and a half timeouts.
fn reaper_rate(idle_timeout: Duration) -> Duration {
    (idle_timeout / 2).clamp(Duration::from_millis(100), Duration::from_secs(30))
}
