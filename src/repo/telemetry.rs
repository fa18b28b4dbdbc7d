//! The workflow-health snapshot behind dbosd's workflow metrics: ONE statement per refresh that
//! reads the queues' backlog (ENQUEUED, PENDING, DELAYED counts and oldest age) and, for the window
//! since the previous refresh, completions by workflow name and status, dequeue latencies and step
//! durations, bucketed in SQL. Every part is a range or a partial-index predicate on an index of
//! DBOS's own schema (`idx_workflow_status_in_flight_v2`, `_delayed`, `_completed_at`,
//! `_started_at`, `idx_operation_outputs_completed_at_function_name_v2`), so its cost follows the
//! backlog and the window's traffic, never the table's size.

use tokio_postgres::Row;

use crate::{
    error::Result,
    repo::{
        db::{classify::classify, row::Columns},
        Repo, Unnamed,
    },
};

/// How far behind the database's clock a window ends: a worker stamps `completed_at` before its
/// transaction commits, so a row stamped just before the window's end may still be invisible.
pub const WINDOW_LAG_MS: i64 = 2_000;

/// What one refresh read.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct HealthSnapshot {
    /// The window's end (database clock, epoch ms): the next window starts here.
    pub window_end_ms: i64,
    /// Backlog per queue and status (ENQUEUED, PENDING, DELAYED) with the oldest `created_at`.
    pub backlog: Vec<Backlog>,
    /// Workflows that reached a final status in the window.
    pub completions: Vec<Completions>,
    /// Dequeues in the window, per queue, bucketed by latency.
    pub dequeues: Vec<Bucketed>,
    /// Steps that completed in the window, per step name, bucketed by duration.
    pub steps: Vec<Bucketed>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Backlog {
    pub queue: String,
    pub status: String,
    pub count: i64,
    pub oldest_created_ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Completions {
    pub queue: Option<String>,
    pub name: String,
    pub status: String,
    pub count: i64,
}

/// Observations of one label (queue or step name) falling in one bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucketed {
    pub label: String,
    /// Index into the bucket bounds given to the query; `bounds.len()` for +Inf.
    pub bucket: usize,
    pub count: i64,
    /// Sum of the observations, in seconds.
    pub sum_seconds: f64,
}

impl Repo {
    /// The snapshot statement's text (public for EXPLAIN in tests): `$1` is the window's start
    /// (epoch ms), `$2` the longest window in ms (an older start is moved up to it).
    pub fn workflow_health_sql(&self, dequeue_bounds: &[f64], step_bounds: &[f64]) -> String {
        let s = self.schema();
        let ws = s.table("workflow_status");
        let oo = s.table("operation_outputs");
        let mut parts = vec![
            "SELECT 'clock' AS kind, NULL::text AS label, NULL::text AS name, NULL::text AS status, \
             0 AS bucket, 0::bigint AS n, 0::float8 AS total, w.hi AS at FROM w"
                .to_owned(),
            // The partial indexes' own predicates, so each part is an index scan of the backlog.
            format!(
                "SELECT 'queue', queue_name, NULL, status, 0, count(*), 0, min(created_at) \
                 FROM {ws} WHERE status IN ('ENQUEUED', 'PENDING') AND queue_name IS NOT NULL \
                 GROUP BY queue_name, status"
            ),
            format!(
                "SELECT 'queue', queue_name, NULL, 'DELAYED', 0, count(*), 0, min(created_at) \
                 FROM {ws} WHERE status = 'DELAYED' AND queue_name IS NOT NULL GROUP BY queue_name"
            ),
            format!(
                "SELECT 'dequeue', queue_name, NULL, NULL, {}, count(*), sum(seconds), NULL \
                 FROM (SELECT queue_name, GREATEST(started_at_epoch_ms - created_at, 0) / 1000.0 \
                 AS seconds FROM {ws} WHERE started_at_epoch_ms > (SELECT lo FROM w) \
                 AND started_at_epoch_ms <= (SELECT hi FROM w) AND started_at_epoch_ms IS NOT NULL \
                 AND queue_name IS NOT NULL) d GROUP BY 2, 5",
                bucket_case("seconds", dequeue_bounds)
            ),
        ];
        if s.has_column("workflow_status", "completed_at") {
            parts.push(format!(
                "SELECT 'done', queue_name, COALESCE(name, ''), status, 0, count(*), 0, NULL \
                 FROM {ws} WHERE completed_at > (SELECT lo FROM w) \
                 AND completed_at <= (SELECT hi FROM w) \
                 AND completed_at IS NOT NULL GROUP BY queue_name, name, status"
            ));
        }
        if s.has_column("operation_outputs", "started_at_epoch_ms")
            && s.has_column("operation_outputs", "completed_at_epoch_ms")
        {
            parts.push(format!(
                "SELECT 'step', function_name, NULL, NULL, {}, count(*), sum(seconds), NULL \
                 FROM (SELECT function_name, \
                 GREATEST(completed_at_epoch_ms - started_at_epoch_ms, 0) / 1000.0 AS seconds \
                 FROM {oo} WHERE completed_at_epoch_ms > (SELECT lo FROM w) \
                 AND completed_at_epoch_ms <= (SELECT hi FROM w) \
                 AND started_at_epoch_ms IS NOT NULL) st GROUP BY 2, 5",
                bucket_case("seconds", step_bounds)
            ));
        }
        format!(
            "WITH t AS (SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::bigint \
             - {WINDOW_LAG_MS} AS hi), \
             w AS (SELECT GREATEST($1::bigint, t.hi - $2::bigint) AS lo, t.hi FROM t) {}",
            parts.join(" UNION ALL ")
        )
    }

    /// One refresh: the backlog now, and what happened after `since_ms` (epoch ms, database clock),
    /// at most `longest_ms` back.
    pub async fn workflow_health(
        &self,
        since_ms: i64,
        longest_ms: i64,
        dequeue_bounds: &[f64],
        step_bounds: &[f64],
    ) -> Result<HealthSnapshot> {
        let sql = self.workflow_health_sql(dequeue_bounds, step_bounds);
        let conn = self.conn().await?;
        let rows = conn
            .query_unnamed(&sql, &[&since_ms, &longest_ms])
            .await
            .map_err(|e| classify("reading workflow health", e))?;
        let mut snapshot = HealthSnapshot::default();
        for row in &rows {
            read_row(row, &mut snapshot)?;
        }
        Ok(snapshot)
    }
}

fn read_row(row: &Row, snapshot: &mut HealthSnapshot) -> Result<()> {
    let kind: &str = row.col("kind")?;
    let label =
        || -> Result<String> { Ok(row.col::<_, Option<String>>("label")?.unwrap_or_default()) };
    let count: i64 = row.col("n")?;
    let bucketed = || -> Result<Bucketed> {
        let bucket: i32 = row.col("bucket")?;
        Ok(Bucketed {
            label: label()?,
            bucket: bucket.max(0) as usize,
            count,
            sum_seconds: row.col::<_, Option<f64>>("total")?.unwrap_or(0.0),
        })
    };
    match kind {
        "clock" => snapshot.window_end_ms = row.col::<_, Option<i64>>("at")?.unwrap_or(0),
        "queue" => snapshot.backlog.push(Backlog {
            queue: label()?,
            status: row.col::<_, Option<String>>("status")?.unwrap_or_default(),
            count,
            oldest_created_ms: row.col::<_, Option<i64>>("at")?.unwrap_or(0),
        }),
        "done" => snapshot.completions.push(Completions {
            queue: row.col("label")?,
            name: row.col::<_, Option<String>>("name")?.unwrap_or_default(),
            status: row.col::<_, Option<String>>("status")?.unwrap_or_default(),
            count,
        }),
        "dequeue" => snapshot.dequeues.push(bucketed()?),
        _ => snapshot.steps.push(bucketed()?),
    }
    Ok(())
}

/// `CASE WHEN v <= b0 THEN 0 WHEN v <= b1 THEN 1 ... ELSE n END`: the Prometheus bucket (upper
/// bound inclusive) of `v`. The bounds are dbosd's constants, never a caller's input.
fn bucket_case(value: &str, bounds: &[f64]) -> String {
    let mut case = String::from("CASE");
    for (i, b) in bounds.iter().enumerate() {
        case += &format!(" WHEN {value} <= {b:?} THEN {i}");
    }
    case + &format!(" ELSE {} END", bounds.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_inclusive_upper_bounds_with_an_overflow_bucket() {
        assert_eq!(
            bucket_case("x", &[0.5, 2.0]),
            "CASE WHEN x <= 0.5 THEN 0 WHEN x <= 2.0 THEN 1 ELSE 2 END"
        );
    }
}
