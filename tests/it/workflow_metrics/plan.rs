//! The refresh statement stays bounded on a large table: on 200,000 finished workflows and as many
//! steps (with statistics), PostgreSQL plans no sequential scan of `workflow_status` or
//! `operation_outputs`, and the refresh reads the backlog and only the window's completions.

use dbosd::{config::Settings, server, telemetry::workflow_metrics};
use serde_json::Value as Json;

use crate::harness::TestDb;

const ROWS: i64 = 200_000;

/// Every `Seq Scan` node of an EXPLAIN (FORMAT JSON) plan, by relation.
fn seq_scans(plan: &Json, out: &mut Vec<String>) {
    match plan {
        Json::Object(node) => {
            if node.get("Node Type").and_then(Json::as_str) == Some("Seq Scan") {
                let relation = node.get("Relation Name").and_then(Json::as_str);
                out.push(relation.unwrap_or("?").to_owned());
            }
            node.values().for_each(|v| seq_scans(v, out));
        }
        Json::Array(items) => items.iter().for_each(|v| seq_scans(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_refresh_uses_indexes_on_a_large_table_and_reads_only_its_window() {
    let db = TestDb::new().await;
    let client = db.client().await;
    // A day-old history of finished workflows and their steps, a backlog of 100 ENQUEUED and 10
    // DELAYED, and 10 workflows that finished 5 s ago.
    client
        .batch_execute(&format!(
            "INSERT INTO dbos.workflow_status (workflow_uuid, status, name, queue_name, created_at, \
               updated_at, started_at_epoch_ms, completed_at) \
             SELECT 'old-' || i, CASE WHEN i % 10 = 0 THEN 'ERROR' ELSE 'SUCCESS' END, 'job', 'bulk', \
               t - 86400000, t - 86400000, t - 86399000, t - 86398000 \
             FROM generate_series(1, {ROWS}) i, (SELECT (EXTRACT(EPOCH FROM now()) * 1000)::bigint t) n; \
             INSERT INTO dbos.operation_outputs (workflow_uuid, function_id, function_name, \
               started_at_epoch_ms, completed_at_epoch_ms) \
             SELECT 'old-' || i, 1, 'step', t - 86399000, t - 86398500 \
             FROM generate_series(1, {ROWS}) i, (SELECT (EXTRACT(EPOCH FROM now()) * 1000)::bigint t) n; \
             INSERT INTO dbos.workflow_status (workflow_uuid, status, name, queue_name, created_at, updated_at) \
             SELECT 'queued-' || i, 'ENQUEUED', 'job', 'bulk', t - 1000, t - 1000 \
             FROM generate_series(1, 100) i, (SELECT (EXTRACT(EPOCH FROM now()) * 1000)::bigint t) n; \
             INSERT INTO dbos.workflow_status (workflow_uuid, status, name, queue_name, created_at, \
               updated_at, delay_until_epoch_ms) \
             SELECT 'delayed-' || i, 'DELAYED', 'job', 'bulk', t, t, t + 3600000 \
             FROM generate_series(1, 10) i, (SELECT (EXTRACT(EPOCH FROM now()) * 1000)::bigint t) n; \
             INSERT INTO dbos.workflow_status (workflow_uuid, status, name, queue_name, created_at, \
               updated_at, started_at_epoch_ms, completed_at) \
             SELECT 'recent-' || i, 'SUCCESS', 'job', 'bulk', t - 9000, t - 5000, t - 8000, t - 5000 \
             FROM generate_series(1, 10) i, (SELECT (EXTRACT(EPOCH FROM now()) * 1000)::bigint t) n; \
             ANALYZE dbos.workflow_status; ANALYZE dbos.operation_outputs;"
        ))
        .await
        .expect("fill the tables");
    let repo = server::prepare(&Settings::new(db.url.clone()))
        .await
        .expect("repo");
    let sql = repo.workflow_health_sql(
        &workflow_metrics::DEQUEUE_BUCKETS,
        &workflow_metrics::STEP_BUCKETS,
    );
    let now: i64 = client
        .query_one("SELECT (EXTRACT(EPOCH FROM now()) * 1000)::bigint", &[])
        .await
        .expect("now")
        .get(0);
    let since = now - 60_000;
    let plan: Json = client
        .query_one(
            &format!("EXPLAIN (FORMAT JSON) {sql}"),
            &[&since, &600_000i64],
        )
        .await
        .expect("EXPLAIN the refresh")
        .get(0);
    let mut scans = Vec::new();
    seq_scans(&plan, &mut scans);
    assert!(
        !scans
            .iter()
            .any(|r| r == "workflow_status" || r == "operation_outputs"),
        "the refresh scans a whole table ({scans:?}):\n{plan:#}"
    );

    let snapshot = repo
        .workflow_health(
            since,
            600_000,
            &workflow_metrics::DEQUEUE_BUCKETS,
            &workflow_metrics::STEP_BUCKETS,
        )
        .await
        .expect("refresh");
    let backlog = |status: &str| {
        snapshot
            .backlog
            .iter()
            .find(|b| b.queue == "bulk" && b.status == status)
            .map(|b| b.count)
    };
    assert_eq!(backlog("ENQUEUED"), Some(100), "{snapshot:?}");
    assert_eq!(backlog("DELAYED"), Some(10), "{snapshot:?}");
    // Only the window's completions, not the day-old 200,000.
    let done: i64 = snapshot.completions.iter().map(|c| c.count).sum();
    assert_eq!(done, 10, "{:?}", snapshot.completions);
    let dequeued: i64 = snapshot.dequeues.iter().map(|d| d.count).sum();
    assert_eq!(dequeued, 10, "{:?}", snapshot.dequeues);
    assert!(snapshot.steps.is_empty(), "{:?}", snapshot.steps);
    assert!(
        snapshot.window_end_ms > now - 5_000 && snapshot.window_end_ms <= now,
        "{snapshot:?}"
    );
}
