//! What a DBOS worker writes, written straight to the database: a workflow finishing, an event set
//! and notified. For tests where the change matters, not the worker.

use super::TestDb;

/// Marks `workflow_id` SUCCESS with `output_json`, as a worker does when the workflow returns.
pub async fn finish_as_worker(db: &TestDb, workflow_id: &str, output_json: &str) {
    db.client()
        .await
        .execute(
            "UPDATE dbos.workflow_status SET status = 'SUCCESS', output = $2 \
             WHERE workflow_uuid = $1",
            &[&workflow_id, &output_json],
        )
        .await
        .expect("finish the workflow");
}

/// Sets event `key` of `workflow_id` to `value_json` and notifies it, as a worker's set_event does.
pub async fn set_event_as_worker(db: &TestDb, workflow_id: &str, key: &str, value_json: &str) {
    let client = db.client().await;
    client
        .execute(
            "INSERT INTO dbos.workflow_events (workflow_uuid, key, value, serialization) \
             VALUES ($1, $2, $3, 'portable_json')",
            &[&workflow_id, &key, &value_json],
        )
        .await
        .expect("set the event");
    let payload = format!("{workflow_id}::{key}");
    client
        .execute(
            "SELECT pg_notify('dbos_workflow_events_channel', $1)",
            &[&payload],
        )
        .await
        .expect("notify the event");
}
