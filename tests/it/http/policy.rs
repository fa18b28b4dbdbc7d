//! The gRPC call path's policies hold for Connect callers: the message size limit answers
//! RESOURCE_EXHAUSTED with gRPC's message, and the drain ends an open Connect stream with
//! `unavailable`, as it ends gRPC streams.

use serde_json::json;

use super::{connect_json, connect_stream};
use crate::harness::{enqueue_req, pv, watching, TestDb, TestServer};

#[tokio::test]
async fn the_message_size_limit_applies_as_for_grpc() {
    let srv = TestServer::start_on(TestDb::new().await, |s| s.max_message_bytes = 4096).await;
    let big = "x".repeat(5000);
    let mut req = enqueue_req("wf", "q", vec![]);
    req.positional_args = vec![pv(json!(big))];
    let grpc = srv
        .client
        .clone()
        .enqueue_workflow(req)
        .await
        .expect_err("too big");
    let connect = connect_json(
        srv.addr,
        "EnqueueWorkflow",
        &[],
        json!({"workflowName": "wf", "queueName": "q", "positionalArgs": [big]}),
    )
    .await;
    assert_eq!(connect.status, 429, "{connect:?}");
    assert_eq!(
        connect.json(),
        json!({"code": "resource_exhausted", "message": grpc.message()})
    );

    // A body far beyond the limit is refused before it is read whole.
    let huge = "x".repeat(20_000);
    let connect = connect_json(
        srv.addr,
        "EnqueueWorkflow",
        &[],
        json!({"workflowName": huge}),
    )
    .await;
    assert_eq!(connect.json()["code"], "resource_exhausted", "{connect:?}");
    srv.stop().await;
}

#[tokio::test]
async fn the_drain_ends_connect_streams_with_unavailable() {
    let srv = TestServer::start().await;
    let addr = srv.addr;
    let watch = tokio::spawn(async move {
        connect_stream(
            addr,
            "WatchWorkflows",
            &[],
            json!({"workflowIds": ["none"]}),
        )
        .await
    });
    watching(&srv.hub).await;
    srv.stop().await;
    let reply = watch.await.expect("the watch call");
    assert_eq!(reply.status, 200);
    let (_, end) = reply.stream();
    assert_eq!(end["error"]["code"], "unavailable", "{end}");
}
