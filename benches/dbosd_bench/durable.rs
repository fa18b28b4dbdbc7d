//! The enqueue figures again on a PostgreSQL that keeps its commits (fsync, full_page_writes and
//! synchronous_commit on), as production runs: every commit waits for its WAL flush, so group
//! commit (dbosd's coalescer, batches) matters more and dbosd's own costs matter less.

use std::time::Duration;

use serde_json::json;

use crate::{
    setup::{BenchResult, Disk, Env},
    stats::Row,
    throughput,
};

/// Runs the section on its own durable cluster and dbosd.
pub async fn run(window: Duration) -> BenchResult<Vec<Row>> {
    let env = Env::start(Disk::Durable).await?;
    let mut rows = Vec::new();
    for tasks in [1usize, 16, 64] {
        let raw = throughput::raw_sql(&env, tasks, window).await?;
        let dbosd = throughput::grpc(&env, tasks, window).await?;
        rows.push(Row {
            section: "durable disk",
            metric: format!("EnqueueWorkflow, {tasks} concurrent clients, fsync on (workflows/s)"),
            dbosd: format!("{dbosd:.0}/s = {:.0}% of raw SQL", dbosd / raw * 100.0),
            baseline: format!("raw SQL {raw:.0}/s (same statement, one commit per workflow)"),
            json: json!({"clients": tasks, "dbosd_per_s": dbosd, "raw_sql_per_s": raw, "ratio_to_raw": dbosd / raw}),
        });
    }
    for size in [10usize, 100] {
        let rate = throughput::batch(&env, size, window).await?;
        let raw = throughput::raw_batch(&env, size, window).await?;
        rows.push(Row {
            section: "durable disk",
            metric: format!("EnqueueWorkflows, batches of {size}, 4 callers, fsync on (workflows/s)"),
            dbosd: format!("{rate:.0}/s = {:.0}% of raw SQL", rate / raw * 100.0),
            baseline: format!("raw multi-row statement {raw:.0}/s"),
            json: json!({"batch": size, "workflows_per_s": rate, "raw_sql_per_s": raw, "ratio_to_raw": rate / raw}),
        });
    }
    env.stop().await;
    Ok(rows)
}
