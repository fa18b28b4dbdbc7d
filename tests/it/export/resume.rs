//! The replay a dev database is for: a workflow still PENDING in production (it set two events,
//! then waits for a message), exported, imported into a second database and resumed there, is run
//! by a real worker on that database from its recorded steps (they are not run again: their rows
//! and the event history stay exactly as exported) and finishes with the message sent there.

use dbosd::pb;
use serde_json::json;

use super::{enqueue, export, import, send, stored_rows};
use crate::harness::{
    enqueue_req, eventually, payload_json, wait_terminal, TestDb, TestServer, Worker, WorkerLang,
    WorkerOptions,
};

#[tokio::test]
async fn a_pending_workflow_imported_and_resumed_is_finished_by_a_worker_from_its_steps() {
    let mut prod = TestServer::start().await;
    let worker = Worker::start(WorkerLang::Python, &prod.db.url, WorkerOptions::default()).await;
    let req = enqueue_req(
        "set_events_then_wait",
        "test_queue",
        vec![json!("k"), json!([1, 2]), json!("go")],
    );
    enqueue(&mut prod.client, "stuck", req).await;
    let db = &prod.db;
    // Waiting in recv: both events set and recv's durable timeout (a DBOS.sleep step) recorded.
    eventually("the workflow to wait in recv", || async move {
        let events = db.count("SELECT count(*) FROM dbos.workflow_events_history WHERE workflow_uuid = 'stuck'").await;
        let timeout = db.count("SELECT count(*) FROM dbos.operation_outputs WHERE workflow_uuid = 'stuck' AND function_name = 'DBOS.sleep'").await;
        (events == 2 && timeout == 1).then_some(())
    })
    .await;
    let exported = export(&mut prod.client, "stuck", false).await;
    worker.stop().await;
    let ids = vec!["stuck".to_owned()];
    let steps_before = stored_rows(&prod.db, "operation_outputs", &ids).await;
    let history_before = stored_rows(&prod.db, "workflow_events_history", &ids).await;
    assert_eq!(
        steps_before.len(),
        3,
        "two setEvent steps and recv's timeout: {steps_before:?}"
    );

    let mut dev = TestServer::start_on(TestDb::new().await, |_| {}).await;
    import(&mut dev.client, &exported.document, None)
        .await
        .expect("ImportWorkflow");
    let status = dev
        .db
        .texts("SELECT status FROM dbos.workflow_status WHERE workflow_uuid = 'stuck'")
        .await;
    assert_eq!(status, ["PENDING"]);
    let dev_worker = Worker::start(WorkerLang::Python, &dev.db.url, WorkerOptions::default()).await;
    dev.client
        .resume_workflow(pb::ResumeWorkflowRequest {
            workflow_id: "stuck".into(),
            ..Default::default()
        })
        .await
        .expect("ResumeWorkflow");
    let dev_db = &dev.db;
    // Waiting for the message again means it replayed past its recorded steps.
    eventually("the worker to run it up to its recv", || async move {
        let n = dev_db.count("SELECT count(*) FROM dbos.workflow_status WHERE workflow_uuid = 'stuck' AND status = 'PENDING'").await;
        (n == 1).then_some(())
    })
    .await;
    send(&mut dev.client, "stuck", "go", "\"hello from dev\"").await;
    let done = wait_terminal(&dev.client, "stuck").await;
    assert_eq!(done.status(), pb::WorkflowStatus::Success);
    assert_eq!(payload_json(&done.output), json!("hello from dev"));
    let steps_after = stored_rows(&dev.db, "operation_outputs", &ids).await;
    // Every recorded step is still there, byte for byte (timestamps included): replayed, not rerun.
    for step in &steps_before {
        assert!(
            steps_after.contains(step),
            "step {step} was run again: {steps_after:?}"
        );
    }
    assert!(
        steps_after.len() > steps_before.len(),
        "the recv was recorded after the resume"
    );
    assert_eq!(
        stored_rows(&dev.db, "workflow_events_history", &ids).await,
        history_before
    );
    dev_worker.stop().await;
    dev.stop().await;
    prod.stop().await;
}
