//! DebounceWorkflow: calls with one key coalesce into one DELAYED workflow that runs once, with the
//! last inputs, after the calls stop — as the DBOS clients' Debouncer does.

use dbosd::pb;
use serde_json::json;
use tonic::Code;

use crate::harness::{
    assert_status, enqueue_req, payload_json, wait_terminal, TestServer, Worker, WorkerLang,
    WorkerOptions,
};

fn debounce(key: &str, arg: serde_json::Value, period_ms: i64) -> pb::DebounceWorkflowRequest {
    pb::DebounceWorkflowRequest {
        workflow: Some(enqueue_req("echo", "test_queue", vec![arg])),
        debounce_key: key.into(),
        debounce_period: Some(prost_types::Duration {
            seconds: period_ms / 1000,
            nanos: ((period_ms % 1000) * 1_000_000) as i32,
        }),
        debounce_timeout: None,
    }
}

async fn calls_coalesce_and_the_last_inputs_run(lang: WorkerLang) {
    let mut srv = TestServer::start().await;
    let worker = Worker::start(lang, &srv.db.url, WorkerOptions::default()).await;
    let first = srv
        .client
        .debounce_workflow(debounce("k", json!(1), 1500))
        .await
        .unwrap()
        .into_inner();
    assert!(first.created);
    for n in [2, 3] {
        let again = srv
            .client
            .debounce_workflow(debounce("k", json!(n), 1500))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            again.workflow_id, first.workflow_id,
            "the same key extends the same workflow"
        );
        assert!(!again.created);
    }
    let other = srv
        .client
        .debounce_workflow(debounce("other", json!(9), 200))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(other.workflow_id, first.workflow_id);
    let done = wait_terminal(&srv.client, &first.workflow_id).await;
    assert_eq!(
        payload_json(&done.output),
        json!(3),
        "it ran once, with the last inputs"
    );
    assert_eq!(
        payload_json(&wait_terminal(&srv.client, &other.workflow_id).await.output),
        json!(9)
    );
    let db = srv.db.client().await;
    let runs: i64 = db
        .query_one(
            "SELECT count(*) FROM dbos.workflow_status WHERE name = 'echo'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(runs, 2, "one workflow per key");
    worker.stop().await;
    srv.stop().await;
}

on_both_workers!(calls_coalesce_and_the_last_inputs_run);

#[tokio::test]
async fn debounce_rows_and_errors() {
    let mut srv = TestServer::start().await;
    let mut req = debounce("k", json!(1), 60_000);
    req.debounce_timeout = Some(prost_types::Duration {
        seconds: 5,
        nanos: 0,
    });
    let id = srv
        .client
        .debounce_workflow(req)
        .await
        .unwrap()
        .into_inner()
        .workflow_id;
    let db = srv.db.client().await;
    let row = db
        .query_one(
            "SELECT status, deduplication_id, is_debounced, delay_until_epoch_ms - created_at,
                    debounce_deadline_epoch_ms IS NOT NULL
             FROM dbos.workflow_status WHERE workflow_uuid = $1",
            &[&id],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "DELAYED");
    assert_eq!(
        row.get::<_, String>(1),
        ".echo-k",
        "the key as the DBOS debouncers build it"
    );
    assert!(row.get::<_, bool>(2));
    let delay: i64 = row.get(3);
    assert!(
        (4_000..=6_000).contains(&delay),
        "the delay is capped by the timeout: {delay}"
    );
    assert!(row.get::<_, bool>(4));

    // A key held by a workflow that is not debounced cannot be extended.
    let mut held = enqueue_req("echo", "test_queue", vec![json!(1)]);
    held.deduplication_id = Some(".echo-held".into());
    srv.client.enqueue_workflow(held).await.unwrap();
    assert_status(
        srv.client
            .debounce_workflow(debounce("held", json!(2), 1000))
            .await,
        Code::AlreadyExists,
        "held",
    );

    assert_status(
        srv.client
            .debounce_workflow(debounce("", json!(1), 1000))
            .await,
        Code::InvalidArgument,
        "debounce_key",
    );
    assert_status(
        srv.client
            .debounce_workflow(debounce("z", json!(1), 0))
            .await,
        Code::InvalidArgument,
        "debounce_period",
    );
    let mut with_dedup = debounce("z", json!(1), 1000);
    with_dedup.workflow.as_mut().unwrap().deduplication_id = Some("mine".into());
    assert_status(
        srv.client.debounce_workflow(with_dedup).await,
        Code::InvalidArgument,
        "deduplication_id",
    );
    let mut bad = debounce("z", json!(1), 1000);
    bad.workflow.as_mut().unwrap().queue_name = String::new();
    assert_status(
        srv.client.debounce_workflow(bad).await,
        Code::InvalidArgument,
        "workflow.queue_name",
    );
    srv.stop().await;
}
