//! Limits: open streams, message size and the default deadline of unary calls each end a call with
//! a status that names the limit (RESOURCE_EXHAUSTED / DEADLINE_EXCEEDED), and waits keep their own
//! timeouts. (The pool acquire timeout is in `failures`.)

use std::time::{Duration, Instant};

use dbosd::pb::{AwaitWorkflowRequest, ListWorkflowsRequest};
use serde_json::json;
use tonic::Code;

use crate::harness::{
    assert_status, enqueue_req, eventually, get_event_in_flight, lock_notifications, open_await,
    send_in_flight, TestDb, TestServer, WAIT,
};

fn await_req(id: &str) -> AwaitWorkflowRequest {
    AwaitWorkflowRequest {
        workflow_id: id.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn streams_beyond_the_limit_are_refused_until_one_closes() {
    let srv = TestServer::start_on(TestDb::new().await, |s| s.max_streams = 2).await;
    let mut client = srv.client.clone();
    let mut req = enqueue_req("wf", "q", vec![]);
    req.workflow_id = Some("limited".into());
    client.enqueue_workflow(req).await.expect("enqueue");
    let mut open = Vec::new();
    for _ in 0..2 {
        open.push(open_await(&client, "limited").await.expect("open"));
    }
    let refused = client.await_workflow(await_req("limited")).await;
    assert_status(refused, Code::ResourceExhausted, "(limit 2, --max-streams)");
    let scrape = srv.scrape().await;
    assert!(scrape.contains("dbosd_streams_open 2"), "{scrape}");

    // Closing one frees its slot (once dbosd notices the client left).
    drop(open.pop());
    eventually("a slot to free up", || {
        let mut client = client.clone();
        async move { client.await_workflow(await_req("limited")).await.ok() }
    })
    .await;
    srv.stop().await;
}

#[tokio::test]
async fn messages_over_the_size_limit_are_resource_exhausted() {
    let srv = TestServer::start_on(TestDb::new().await, |s| s.max_message_bytes = 4096).await;
    let mut client = srv.client.clone();
    for needle in [
        "request message is too large",
        "the limit is: 4096 bytes; --max-message-bytes",
    ] {
        let big = client
            .enqueue_workflow(enqueue_req("wf", "q", vec![json!("x".repeat(8192))]))
            .await;
        assert_status(big, Code::ResourceExhausted, needle);
    }

    // Each row fits; a page of them with their inputs does not.
    for _ in 0..4 {
        let req = enqueue_req("wf", "q", vec![json!("y".repeat(2000))]);
        client.enqueue_workflow(req).await.expect("enqueue");
    }
    let page = ListWorkflowsRequest {
        load_input: true,
        ..Default::default()
    };
    let listed = client.list_workflows(page).await;
    assert_status(
        listed,
        Code::ResourceExhausted,
        "response message is too large",
    );
    let scrape = srv.scrape().await;
    let counted = r#"dbosd_grpc_server_handled_total{grpc_service="dbosd.v1.WorkflowService",grpc_method="EnqueueWorkflow",grpc_code="ResourceExhausted"} 2"#;
    assert!(scrape.contains(counted), "{scrape}");
    srv.stop().await;
}

#[tokio::test]
async fn unary_calls_get_the_default_deadline_but_waits_keep_their_own() {
    const DEADLINE: Duration = Duration::from_millis(300);
    let srv = TestServer::start_on(TestDb::new().await, |s| s.rpc_timeout = Some(DEADLINE)).await;
    let mut req = enqueue_req("wf", "q", vec![]);
    req.workflow_id = Some("deadline".into());
    srv.client
        .clone()
        .enqueue_workflow(req)
        .await
        .expect("enqueue");

    let locker = lock_notifications(&srv.db).await;
    let stuck = send_in_flight(&srv.db, &srv.client, "deadline").await;
    let stuck = tokio::time::timeout(WAIT, stuck)
        .await
        .expect("ends")
        .unwrap();
    assert_status(stuck, Code::DeadlineExceeded, "--rpc-timeout-ms");
    locker.batch_execute("ROLLBACK").await.unwrap();

    // GetEvent waits longer than the default deadline when asked to.
    let started = Instant::now();
    let event = get_event_in_flight(&srv.client, "deadline", "never", 1);
    let event = tokio::time::timeout(WAIT, event)
        .await
        .expect("ends")
        .unwrap();
    let event = event.expect("GetEvent is a wait, not bound by the default deadline");
    assert!(!event.into_inner().found);
    assert!(started.elapsed() >= Duration::from_secs(1));
    srv.stop().await;
}
