//! EnqueueWorkflows: a batch in one statement, all or nothing, results in request order.

use dbosd::pb::{self, EnqueueOutcome};
use serde_json::json;
use tonic::Code;

use crate::harness::{
    assert_status, enqueue_req, payload_json, wait_terminal, TestServer, Worker, WorkerLang,
    WorkerOptions,
};

fn item(id: &str, workflow: &str, arg: serde_json::Value) -> pb::EnqueueWorkflowRequest {
    let mut req = enqueue_req(workflow, "test_queue", vec![arg]);
    req.workflow_id = Some(id.into());
    req
}

async fn count(srv: &TestServer, table: &str) -> i64 {
    let db = srv.db.client().await;
    db.query_one(&format!("SELECT count(*) FROM dbos.{table}"), &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_batch_enqueues_in_order_and_reports_existing_ids() {
    let mut srv = TestServer::start().await;
    srv.client
        .enqueue_workflow(item("b", "echo", json!("first")))
        .await
        .unwrap();
    let batch = pb::EnqueueWorkflowsRequest {
        workflows: vec![
            item("a", "echo", json!(1)),
            item("b", "echo", json!("second")),
            item("c", "add", json!(3)),
        ],
    };
    let results = srv
        .client
        .enqueue_workflows(batch)
        .await
        .unwrap()
        .into_inner()
        .results;
    let got: Vec<(String, EnqueueOutcome)> = results
        .iter()
        .map(|r| (r.workflow_id.clone(), r.outcome()))
        .collect();
    assert_eq!(
        got,
        [
            ("a".into(), EnqueueOutcome::Created),
            ("b".into(), EnqueueOutcome::Existing),
            ("c".into(), EnqueueOutcome::Created)
        ]
    );
    assert_eq!(count(&srv, "workflow_status").await, 3);
    let db = srv.db.client().await;
    let b_input: String = db
        .query_one(
            "SELECT inputs FROM dbos.workflow_input WHERE workflow_uuid = 'b'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        b_input.contains("first"),
        "an existing workflow keeps its inputs: {b_input}"
    );
    let c_input: String = db
        .query_one(
            "SELECT inputs FROM dbos.workflow_input WHERE workflow_uuid = 'c'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(c_input, r#"{"positionalArgs":[3],"namedArgs":{}}"#);
    srv.stop().await;
}

#[tokio::test]
async fn a_failing_item_writes_nothing() {
    let mut srv = TestServer::start().await;
    let mut holder = item("holder", "echo", json!(1));
    holder.deduplication_id = Some("d".into());
    srv.client.enqueue_workflow(holder).await.unwrap();
    srv.client
        .enqueue_workflow(item("named", "echo", json!(1)))
        .await
        .unwrap();

    let mut dup = item("y", "echo", json!(2));
    dup.deduplication_id = Some("d".into());
    let batch = pb::EnqueueWorkflowsRequest {
        workflows: vec![item("x", "echo", json!(1)), dup],
    };
    assert_status(
        srv.client.enqueue_workflows(batch).await,
        Code::AlreadyExists,
        "nothing was enqueued",
    );
    let batch = pb::EnqueueWorkflowsRequest {
        workflows: vec![item("z", "echo", json!(1)), item("named", "add", json!(1))],
    };
    assert_status(
        srv.client.enqueue_workflows(batch).await,
        Code::AlreadyExists,
        "different workflow name",
    );
    assert_eq!(
        count(&srv, "workflow_status").await,
        2,
        "no row of a failed batch remains"
    );
    assert_eq!(count(&srv, "workflow_input").await, 2);

    let invalid = |workflows| pb::EnqueueWorkflowsRequest { workflows };
    assert_status(
        srv.client.enqueue_workflows(invalid(vec![])).await,
        Code::InvalidArgument,
        "workflows",
    );
    let too_many = (0..1001)
        .map(|i| item(&format!("m{i}"), "echo", json!(i)))
        .collect();
    assert_status(
        srv.client.enqueue_workflows(invalid(too_many)).await,
        Code::InvalidArgument,
        "workflows",
    );
    let mut bad = item("q", "echo", json!(1));
    bad.queue_name = String::new();
    assert_status(
        srv.client
            .enqueue_workflows(invalid(vec![item("p", "echo", json!(1)), bad]))
            .await,
        Code::InvalidArgument,
        "workflows[1].queue_name",
    );
    assert_status(
        srv.client
            .enqueue_workflows(invalid(vec![
                item("p", "echo", json!(1)),
                item("p", "echo", json!(2)),
            ]))
            .await,
        Code::InvalidArgument,
        "workflows[1].workflow_id",
    );
    let mut returning = item("r", "echo", json!(1));
    returning.deduplication_policy = pb::DeduplicationPolicy::ReturnExisting as i32;
    assert_status(
        srv.client.enqueue_workflows(invalid(vec![returning])).await,
        Code::InvalidArgument,
        "RETURN_EXISTING",
    );
    assert_eq!(count(&srv, "workflow_status").await, 2);
    srv.stop().await;
}

async fn workers_run_a_batch(lang: WorkerLang) {
    let mut srv = TestServer::start().await;
    let worker = Worker::start(lang, &srv.db.url, WorkerOptions::default()).await;
    let workflows: Vec<_> = (0..5)
        .map(|i| item(&format!("batch-{i}"), "echo", json!({"i": i})))
        .collect();
    srv.client
        .enqueue_workflows(pb::EnqueueWorkflowsRequest { workflows })
        .await
        .unwrap();
    for i in 0..5 {
        let done = wait_terminal(&srv.client, &format!("batch-{i}")).await;
        assert_eq!(payload_json(&done.output), json!({"i": i}));
    }
    worker.stop().await;
    srv.stop().await;
}

on_both_workers!(workers_run_a_batch);

/// A batch sent again (a client retrying after a lost answer) first fails as all-new, writing
/// nothing, and is then answered EXISTING for every workflow, each keeping its first inputs.
#[tokio::test]
async fn a_replayed_batch_is_answered_existing_and_writes_nothing() {
    let mut srv = TestServer::start().await;
    let batch = || pb::EnqueueWorkflowsRequest {
        workflows: (0..3)
            .map(|i| item(&format!("replay-{i}"), "echo", json!(i)))
            .collect(),
    };
    let first = srv.client.enqueue_workflows(batch()).await.unwrap();
    let outcomes = |r: tonic::Response<pb::EnqueueWorkflowsResponse>| -> Vec<EnqueueOutcome> {
        r.into_inner().results.iter().map(|r| r.outcome()).collect()
    };
    assert_eq!(outcomes(first), [EnqueueOutcome::Created; 3]);
    let mut again = batch();
    again.workflows[1].positional_args = vec![crate::harness::pv(json!("changed"))];
    let replayed = srv.client.enqueue_workflows(again).await.unwrap();
    assert_eq!(outcomes(replayed), [EnqueueOutcome::Existing; 3]);
    assert_eq!(count(&srv, "workflow_status").await, 3);
    assert_eq!(count(&srv, "workflow_input").await, 3);
    let db = srv.db.client().await;
    let kept: String = db
        .query_one(
            "SELECT inputs FROM dbos.workflow_input WHERE workflow_uuid = 'replay-1'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(kept, r#"{"positionalArgs":[1],"namedArgs":{}}"#);
    srv.stop().await;
}
