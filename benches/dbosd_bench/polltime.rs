//! Where a hub poll's time goes, measured from PostgreSQL's side: statement logging is turned on
//! for a window, and the poll statement's logged bind and execute durations (and the number of
//! swept ids it was given) are read back from the server log. Set against the tick period dbosd
//! achieved meanwhile, the rest is dbosd's own work, loopback, waiting for a CPU and idle time
//! until the next tick.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::{
    setup::{BenchResult, Env},
    stats::Row,
};

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

/// The hub tick dbosd runs with: `DBOSD_HUB_TICK_MS` passes through to the dbosd the bench
/// starts, else dbosd's default.
pub fn tick_ms() -> u64 {
    std::env::var("DBOSD_HUB_TICK_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            dbosd::config::Settings::new(String::new())
                .hub_tick
                .as_millis() as u64
        })
}

/// How long PostgreSQL logs statements to time the polls.
const POLL_LOG_WINDOW: Duration = Duration::from_secs(2);

/// dbosd's counter of hub poll statements.
pub const POLL_QUERIES: &str = "dbosd_hub_poll_queries_total";

/// The hub's poll as measured for `POLL_LOG_WINDOW`: PostgreSQL's time per poll against the
/// tick period dbosd achieved.
pub async fn row(
    env: &Env,
    db: &tokio_postgres::Client,
    section: &'static str,
    what: String,
) -> BenchResult<Row> {
    let polls_before = env.metric(POLL_QUERIES, "").await?;
    let cpu_before = env.dbosd_cpu_ms();
    let started = Instant::now();
    let pg = measure(env, db, POLL_LOG_WINDOW).await?;
    let polls = env.metric(POLL_QUERIES, "").await? - polls_before;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let tick_ms = elapsed_ms / polls.max(1.0);
    // dbosd's whole process, the polls' share of it being all there is to do while streams wait.
    let cpu_pct = (env.dbosd_cpu_ms() - cpu_before) / elapsed_ms * 100.0;
    Ok(Row {
        section,
        metric: format!("{what}: hub poll per tick"),
        dbosd: format!(
            "{tick_ms:.1} ms a tick: PostgreSQL {:.2} ms (plan {:.2} + execute), the rest {:.1} ms; {:.0} keys a poll",
            pg.pg_ms,
            pg.plan_ms,
            (tick_ms - pg.pg_ms).max(0.0),
            pg.keys
        ),
        baseline: format!(
            "PostgreSQL busy {:.1}% of the time with polls; dbosd CPU {cpu_pct:.1}% of a core; {} polls in the statement log",
            pg.pg_ms / tick_ms.max(1e-9) * 100.0,
            pg.polls
        ),
        json: json!({"tick_ms": tick_ms, "pg_ms": pg.pg_ms, "plan_ms": pg.plan_ms, "keys_per_poll": pg.keys, "polls": pg.polls, "dbosd_cpu_pct": cpu_pct}),
    })
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
