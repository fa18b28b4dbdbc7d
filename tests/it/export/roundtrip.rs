//! A SUCCESS workflow a real Python worker ran (a step, an event, a closed stream, a message it
//! received, a child workflow), exported from one database with its child and imported into a
//! second: GetWorkflow, ListWorkflowSteps, GetWorkflowEvents and ReadStream answer the same on
//! both, and every stored row is the same text (nothing re-encoded).

use dbosd::pb;
use serde_json::json;
use tokio_stream::StreamExt;

use super::{enqueue, export, import, send, stored_rows, Client, TABLES};
use crate::harness::{
    enqueue_req, wait_terminal, TestDb, TestServer, Worker, WorkerLang, WorkerOptions, WAIT,
};

async fn reads(
    client: &mut Client,
    id: &str,
) -> (
    pb::WorkflowInfo,
    Vec<pb::StepInfo>,
    pb::GetWorkflowEventsResponse,
    Vec<pb::ReadStreamResponse>,
) {
    let wf = client
        .get_workflow(pb::GetWorkflowRequest {
            workflow_id: id.into(),
            load_input: Some(true),
            load_output: Some(true),
        })
        .await
        .expect("GetWorkflow")
        .into_inner()
        .workflow
        .expect("workflow");
    let steps = client
        .list_workflow_steps(pb::ListWorkflowStepsRequest {
            workflow_id: id.into(),
            ..Default::default()
        })
        .await
        .expect("ListWorkflowSteps")
        .into_inner()
        .steps;
    let events = client
        .get_workflow_events(pb::GetWorkflowEventsRequest {
            workflow_id: id.into(),
        })
        .await
        .expect("GetWorkflowEvents")
        .into_inner();
    let mut stream = client
        .read_stream(pb::ReadStreamRequest {
            workflow_id: id.into(),
            key: "k".into(),
            ..Default::default()
        })
        .await
        .expect("ReadStream")
        .into_inner();
    let mut values = Vec::new();
    // The stream is closed: it ends by itself.
    while let Some(v) = tokio::time::timeout(WAIT, stream.next())
        .await
        .expect("the stream ends")
    {
        values.push(v.expect("a stream value"));
    }
    (wf, steps, events, values)
}

#[tokio::test]
async fn a_finished_workflow_reads_back_identically_in_a_second_database() {
    let mut prod = TestServer::start().await;
    let worker = Worker::start(WorkerLang::Python, &prod.db.url, WorkerOptions::default()).await;
    let req = enqueue_req(
        "leave_traces",
        "test_queue",
        vec![json!("k"), json!("t"), json!(1)],
    );
    enqueue(&mut prod.client, "traced", req).await;
    send(&mut prod.client, "traced", "t", "\"bye\"").await;
    let done = wait_terminal(&prod.client, "traced").await;
    assert_eq!(done.status(), pb::WorkflowStatus::Success);
    worker.stop().await;

    let exported = export(&mut prod.client, "traced", true).await;
    assert_eq!(
        exported.workflow_ids.len(),
        2,
        "the workflow and its child: {:?}",
        exported.workflow_ids
    );
    assert_eq!(exported.workflow_ids[0], "traced");
    let header: serde_json::Value = serde_json::from_str(&exported.document).unwrap();
    assert_eq!(
        (header["format"].as_str(), header["version"].as_u64()),
        (Some("dbosd.workflow-export"), Some(1))
    );

    let mut dev = TestServer::start_on(TestDb::new().await, |_| {}).await;
    let imported = import(&mut dev.client, &exported.document, None)
        .await
        .expect("ImportWorkflow");
    assert_eq!(imported.workflow_ids, exported.workflow_ids);

    let ids = exported.workflow_ids.clone();
    for id in &ids {
        assert_eq!(
            reads(&mut dev.client, id).await,
            reads(&mut prod.client, id).await,
            "{id} reads back differently"
        );
    }
    let (_, steps, events, stream) = reads(&mut dev.client, "traced").await;
    assert!(!steps.is_empty() && !events.events.is_empty() && !stream.is_empty());
    for (table, _, _) in TABLES {
        let (a, b) = (
            stored_rows(&prod.db, table, &ids).await,
            stored_rows(&dev.db, table, &ids).await,
        );
        assert!(!a.is_empty(), "the worker left no {table} row");
        assert_eq!(a, b, "{table} rows differ after the import");
    }
    // Exporting the import gives the same rows again.
    let again = export(&mut dev.client, "traced", true).await;
    let rows =
        |doc: &str| serde_json::from_str::<serde_json::Value>(doc).unwrap()["workflows"].clone();
    assert_eq!(rows(&again.document), rows(&exported.document));
    dev.stop().await;
    prod.stop().await;
}
