//! Every statement's limits, in one place on the execution path: [`run`], which the statement
//! helpers ([`crate::repo::db::unnamed::Unnamed`], [`crate::repo::db::pooled::PooledClient::query_hot`], prepared statements) all go
//! through.
//!
//! * **A statement outlives no caller.** When the call's future is dropped mid-statement (the
//!   client left, its deadline passed, dbosd's default deadline passed) a guard sends PostgreSQL a
//!   cancel request for it, so it does not go on waiting (say, on a lock) with nobody to answer.
//!   The connection's state is then unknown (the cancel may land late, on the next statement), so
//!   a pooled one is marked and the pool drops it instead of handing it out again. Statements that
//!   several callers share (the enqueue slots') run in tasks of their own, which no caller's
//!   leaving drops: one caller cannot cancel the others' work.
//! * **A statement ends by the call's deadline.** Its `statement_timeout` is the time left to the
//!   call's deadline ([`crate::deadline`]), capped by the ceiling every pooled connection starts
//!   with (`--statement-timeout-ms`, a startup option). Setting it costs no round trip: the `SET`
//!   is a simple query pipelined ahead of the statement, in the same write. It is sent only when
//!   the wanted value differs from the session's current one, which each pooled connection
//!   remembers; the time left (less a margin for answering) is rounded down to two significant
//!   digits, so calls with similar
//!   deadlines (and all calls without one) find the session already set. Inside a transaction it
//!   is `SET LOCAL`, which the transaction's end undoes whether it commits or rolls back (so the
//!   remembered session value stays true). Behind a transaction-pooling proxy no session setting
//!   is safe (the next statement may reach another server session, and the setting would leak to
//!   other clients), so there only the cancel applies.
//!
//! BEGIN, COMMIT and ROLLBACK go around [`run`]: they wait on no lock, and a transaction dropped
//! unfinished is rolled back by tokio-postgres.

use std::{
    collections::HashMap,
    future::Future,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, LazyLock, Mutex,
    },
    time::Duration,
};

use tokio::time::Instant;
use tokio_postgres::{Client, Error, NoTls};

use crate::sync::lock_unpoisoned;

/// What a pool's connections share about their statements.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// The `statement_timeout` every connection starts with (`None`: the server's).
    pub ceiling: Option<Duration>,
    /// Whether session settings may be changed (not behind a transaction-pooling proxy).
    pub settable: bool,
}

/// One pooled connection's statement state.
pub(crate) struct Session {
    /// A statement was cut off: the connection's state is unknown, so the pool drops it.
    abandoned: AtomicBool,
    /// The session's `statement_timeout` as last set, in ms; 0 for the connection's default.
    timeout_ms: AtomicU64,
    limits: Limits,
}

impl Session {
    pub fn new(limits: Limits) -> Arc<Self> {
        Arc::new(Session {
            abandoned: AtomicBool::new(false),
            timeout_ms: AtomicU64::new(0),
            limits,
        })
    }

    /// Whether a statement on this connection was cut off.
    pub fn is_abandoned(&self) -> bool {
        self.abandoned.load(Ordering::Relaxed)
    }

    /// The `SET` to pipeline ahead of a statement of a call with `deadline`, if the session's
    /// current value is not the one wanted.
    fn setting_for(&self, deadline: Option<Instant>, in_transaction: bool) -> Option<String> {
        if !self.limits.settable {
            return None;
        }
        let wanted = wanted_ms(deadline, self.limits.ceiling, Instant::now());
        if wanted == self.timeout_ms.load(Ordering::Relaxed) {
            return None;
        }
        let scope = if in_transaction {
            "LOCAL "
        } else {
            // Outside a transaction the setting outlives the statement: remember it.
            self.timeout_ms.store(wanted, Ordering::Relaxed);
            ""
        };
        Some(match wanted {
            0 => format!("SET {scope}statement_timeout TO DEFAULT"),
            ms => format!("SET {scope}statement_timeout = {ms}"),
        })
    }
}

/// The pooled connections' sessions by the address of their (boxed, so unmoving) client: a
/// statement may run on any `&Client` (a transaction's included), and this finds its connection.
static SESSIONS: LazyLock<Mutex<HashMap<usize, Arc<Session>>>> = LazyLock::new(Mutex::default);

fn key(client: &Client) -> usize {
    client as *const Client as usize
}

/// Registers a pooled connection's client (which must not move until [`unregister`]).
pub(crate) fn register(client: &Client, session: Arc<Session>) {
    lock_unpoisoned(&SESSIONS).insert(key(client), session);
}

/// Forgets a pooled connection's client (before it is freed).
pub(crate) fn unregister(client: &Client) {
    lock_unpoisoned(&SESSIONS).remove(&key(client));
}

/// Runs `statement` on `client` within the current call's limits (see the module doc).
/// `in_transaction`: whether it runs inside a transaction block.
pub(crate) async fn run<T>(
    client: &Client,
    in_transaction: bool,
    statement: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    let session = lock_unpoisoned(&SESSIONS).get(&key(client)).cloned();
    let setting = session
        .as_deref()
        .and_then(|s| s.setting_for(crate::deadline::current(), in_transaction));
    let mut guard = CutOff {
        client,
        session,
        finished: false,
    };
    let result = match setting {
        None => statement.await,
        // `join` polls the SET first, so it is queued (and runs) ahead of the statement. Should it
        // fail, so does the statement (an aborted transaction, a broken connection): report that.
        Some(set) => {
            futures::future::join(client.batch_execute(&set), statement)
                .await
                .1
        }
    };
    guard.finished = true;
    result
}

/// Cancels the statement in PostgreSQL when dropped before it finished.
struct CutOff<'a> {
    client: &'a Client,
    session: Option<Arc<Session>>,
    finished: bool,
}

impl Drop for CutOff<'_> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        if let Some(session) = &self.session {
            session.abandoned.store(true, Ordering::Relaxed);
        }
        let token = self.client.cancel_token();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            // Without TLS, as every dbosd connection to PostgreSQL is made (`Repo::new`): the
            // cancel request goes where the connection went.
            match token.cancel_query(NoTls).await {
                Ok(()) => tracing::debug!("cancelled a statement whose caller left"),
                Err(error) => {
                    tracing::warn!(%error, "could not cancel a statement whose caller left")
                }
            }
        });
    }
}

/// Most of the time left that a statement leaves its call for answering: a statement that times
/// out by itself lets the call answer with why, on a connection still fit for reuse, where one cut
/// off by the call's deadline costs a cancel and a new connection. A tenth, at most this much.
const MAX_ANSWER_MARGIN: Duration = Duration::from_millis(50);

/// The `statement_timeout` (ms) wanted for a statement starting `now` of a call with `deadline`:
/// 0 for the connection's default (no deadline, or one that comes to the ceiling), else the time
/// left less the answer margin, rounded down to two significant digits (at least 1 ms).
fn wanted_ms(deadline: Option<Instant>, ceiling: Option<Duration>, now: Instant) -> u64 {
    let Some(at) = deadline else {
        return 0;
    };
    let wanted = rounded(at.saturating_duration_since(now));
    // What rounds like the ceiling is the ceiling: calls under dbosd's default deadline (equal to
    // the default ceiling) then share the session's default with statements of no call.
    if ceiling.is_some_and(|c| wanted >= rounded(c)) || wanted > i32::MAX as u64 {
        // (Beyond what PostgreSQL accepts, ~24 days, is as good as none.)
        return 0;
    }
    wanted
}

/// `left` less the answer margin, in ms rounded down to two significant digits, at least 1.
fn rounded(left: Duration) -> u64 {
    let left = left - (left / 10).min(MAX_ANSWER_MARGIN);
    let ms = u64::try_from(left.as_millis()).unwrap_or(u64::MAX);
    let mut unit = 1;
    while ms / unit >= 100 {
        unit *= 10;
    }
    (ms / unit * unit).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wanted_timeout_is_the_time_left_rounded_down_and_capped() {
        let now = Instant::now();
        let ms = |d: u64| Some(now + Duration::from_millis(d));
        let ceiling = Some(Duration::from_secs(30));
        assert_eq!(wanted_ms(None, ceiling, now), 0);
        assert_eq!(wanted_ms(ms(30_000), ceiling, now), 0);
        assert_eq!(wanted_ms(ms(29_999), ceiling, now), 0);
        assert_eq!(wanted_ms(ms(20_000), ceiling, now), 19_000);
        assert_eq!(wanted_ms(ms(300), ceiling, now), 270);
        assert_eq!(wanted_ms(ms(10_037), None, now), 9_900);
        assert_eq!(wanted_ms(ms(8), None, now), 7);
        assert_eq!(wanted_ms(Some(now), None, now), 1);
        assert_eq!(
            wanted_ms(Some(now + Duration::from_secs(40 * 86_400)), None, now),
            0
        );
        assert_eq!(wanted_ms(Some(now - Duration::from_secs(1)), None, now), 1);
    }

    #[test]
    fn a_session_is_set_only_when_its_value_changes() {
        let session = Session::new(Limits {
            ceiling: Some(Duration::from_secs(30)),
            settable: true,
        });
        let soon = Some(Instant::now() + Duration::from_millis(5_100));
        assert_eq!(
            session.setting_for(soon, false).as_deref(),
            Some("SET statement_timeout = 5000")
        );
        assert_eq!(session.setting_for(soon, false), None);
        // In a transaction: LOCAL, and the session's value is unchanged.
        assert_eq!(
            session.setting_for(None, true).as_deref(),
            Some("SET LOCAL statement_timeout TO DEFAULT")
        );
        assert_eq!(
            session.setting_for(None, false).as_deref(),
            Some("SET statement_timeout TO DEFAULT")
        );
        assert_eq!(session.setting_for(None, false), None);
        let proxied = Session::new(Limits {
            ceiling: None,
            settable: false,
        });
        assert_eq!(proxied.setting_for(soon, false), None);
    }
}
