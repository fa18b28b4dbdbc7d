//! Retention: the runner inside dbosd deleting what a real worker left (`runner.rs`), concurrent
//! runners on one database (`concurrent.rs`), and `dbosd retention` (`cli.rs`).

mod cli;
mod concurrent;
mod runner;

use crate::harness::TestDb;

/// The tables a workflow owns, with the column naming it.
pub const OWNED: [(&str, &str); 8] = [
    ("workflow_status", "workflow_uuid"),
    ("workflow_input", "workflow_uuid"),
    ("workflow_output", "workflow_uuid"),
    ("operation_outputs", "workflow_uuid"),
    ("workflow_events", "workflow_uuid"),
    ("workflow_events_history", "workflow_uuid"),
    ("streams", "workflow_uuid"),
    ("notifications", "destination_uuid"),
];

/// Rows of `table` owned by any of `ids`.
pub async fn owned_rows(db: &TestDb, table: &str, column: &str, ids: &[String]) -> i64 {
    let sql = format!("SELECT count(*) FROM dbos.{table} WHERE {column} = ANY($1)");
    db.client()
        .await
        .query_one(&sql, &[&ids])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
}

/// Finished (`n_finished`, statuses in turn) and running (`n_running`: PENDING, ENQUEUED, DELAYED
/// in turn) workflows created a day ago, each with a step, an input, an event and a message, as
/// workers leave them. Ids are `done-<i>` and `live-<i>`.
pub async fn seed_old(db: &TestDb, n_finished: i32, n_running: i32) {
    let day_ago = "(EXTRACT(epoch FROM now()) * 1000)::bigint - 86400000";
    let sql = format!(
        "WITH w AS ( \
           SELECT 'done-' || i AS id, (ARRAY['SUCCESS','ERROR','CANCELLED','MAX_RECOVERY_ATTEMPTS_EXCEEDED'])[1 + i % 4] AS status, i \
             FROM generate_series(1, {n_finished}) i \
           UNION ALL \
           SELECT 'live-' || i, (ARRAY['PENDING','ENQUEUED','DELAYED'])[1 + i % 3], i \
             FROM generate_series(1, {n_running}) i), \
         s AS (INSERT INTO dbos.workflow_status (workflow_uuid, status, name, created_at) \
               SELECT id, status, 'echo', {day_ago} + i FROM w RETURNING workflow_uuid), \
         i AS (INSERT INTO dbos.workflow_input (workflow_uuid, inputs) SELECT id, '[]' FROM w), \
         o AS (INSERT INTO dbos.operation_outputs (workflow_uuid, function_id, function_name, output) \
               SELECT id, 1, 'step', '1' FROM w), \
         e AS (INSERT INTO dbos.workflow_events (workflow_uuid, key, value) SELECT workflow_uuid, 'k', '1' FROM s), \
         m AS (INSERT INTO dbos.notifications (destination_uuid, topic, message) \
               SELECT workflow_uuid, 't', '1' FROM s) \
         SELECT count(*) FROM w"
    );
    // Foreign keys are checked at the end of the statement, when every CTE has inserted.
    db.client()
        .await
        .batch_execute(&sql)
        .await
        .unwrap_or_else(|e| panic!("seed: {e:?}"));
}
