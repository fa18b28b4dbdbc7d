//! Where a hub poll's time goes, measured from PostgreSQL's side: statement logging is turned on
//! for a window, and the poll statement's logged bind and execute durations (and the number of
//! swept ids it was given) are read back from the server log. Set against the tick period dbosd
//! achieved meanwhile, the rest is dbosd's own work, loopback, waiting for a CPU and idle time
//! until the next tick.

use std::time::Duration;

use crate::setup::{BenchResult, Env};

/// The poll statement's first line, as PostgreSQL logs it.
const POLL_PREFIX: &str = "SELECT 's', s.id";

/// What PostgreSQL logged about the hub's polls during a window.
#[derive(Debug, Default)]
pub struct PollTime {
    /// Poll statements executed.
    pub polls: usize,
    /// Mean PostgreSQL time per poll (bind, which plans, plus execute), ms.
    pub pg_ms: f64,
    /// Of which bind (planning, for a custom plan), ms.
    pub plan_ms: f64,
    /// Mean swept ids per poll.
    pub keys: f64,
}

/// Logs every statement for `window` and reads the polls' durations back from the server log.
pub async fn measure(
    env: &Env,
    db: &tokio_postgres::Client,
    window: Duration,
) -> BenchResult<PollTime> {
    let log = env.cluster.scratch_dir().join("data/dbosd-postgres.log");
    let from = std::fs::metadata(&log)?.len() as usize;
    set_logging(db, Some("0")).await?;
    tokio::time::sleep(window).await;
    set_logging(db, None).await?;
    let text = std::fs::read(&log)?;
    Ok(parse(&String::from_utf8_lossy(
        &text[from.min(text.len())..],
    )))
}

async fn set_logging(db: &tokio_postgres::Client, value: Option<&str>) -> BenchResult<()> {
    // ALTER SYSTEM cannot share an implicit transaction with the reload.
    match value {
        Some(v) => {
            db.batch_execute(&format!(
                "ALTER SYSTEM SET log_min_duration_statement = {v}"
            ))
            .await?
        }
        None => {
            db.batch_execute("ALTER SYSTEM RESET log_min_duration_statement")
                .await?
        }
    }
    db.batch_execute("SELECT pg_reload_conf()").await?;
    Ok(())
}

/// Sums the poll statement's bind and execute durations and counts its swept ids.
fn parse(log: &str) -> PollTime {
    let (mut polls, mut total_ms, mut bind_ms, mut ids) = (0usize, 0.0f64, 0.0f64, 0usize);
    let mut after_execute = false;
    for line in log.lines() {
        if let Some(rest) = line.split("duration: ").nth(1) {
            after_execute = false;
            let is_poll = rest.contains(POLL_PREFIX);
            let ms = rest
                .split(" ms")
                .next()
                .and_then(|v| v.trim().parse::<f64>().ok());
            if let (true, Some(ms)) = (is_poll, ms) {
                total_ms += ms;
                if rest.contains(" bind ") {
                    bind_ms += ms;
                }
                if rest.contains(" execute ") {
                    polls += 1;
                    after_execute = true;
                }
            }
        } else if after_execute {
            // The execute's DETAIL line lists its parameters; $1 is the swept ids.
            if let Some(array) = line.split("$1 = '{").nth(1) {
                let body = array.split('}').next().unwrap_or_default();
                ids += if body.is_empty() {
                    0
                } else {
                    body.split(',').count()
                };
            }
            after_execute = false;
        }
    }
    PollTime {
        polls,
        pg_ms: total_ms / polls.max(1) as f64,
        plan_ms: bind_ms / polls.max(1) as f64,
        keys: ids as f64 / polls.max(1) as f64,
    }
}
