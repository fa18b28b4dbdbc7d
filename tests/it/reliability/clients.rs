//! Client misbehaviour: thousands of waits opened and abandoned, calls cancelled mid-flight. Every
//! waiter leaves the hub (no key leaks), and dbosd keeps serving.

use std::time::Duration;

use dbosd::pb;
use futures::future::join_all;
use serde_json::json;

use crate::harness::{enqueue_req, eventually, TestServer, WAIT};

const ROUNDS: usize = 10;
/// Streams open at once per round (within HTTP/2's default concurrent-stream limit).
const PER_ROUND: usize = 200;

#[tokio::test]
async fn abandoned_and_cancelled_waits_leak_no_waiters() {
    let mut srv = TestServer::start().await;
    let mut req = enqueue_req("echo", "q", vec![json!(1)]);
    req.workflow_id = Some("w".into());
    srv.client.enqueue_workflow(req).await.unwrap();

    for round in 0..ROUNDS {
        let opened = (0..PER_ROUND).map(|n| {
            let mut c = srv.client.clone();
            let id = format!("absent-{round}-{n}");
            async move {
                // A mix of every waiting RPC; each stream is kept (unread) until the hub has them all.
                match n % 4 {
                    0 => {
                        let req = pb::AwaitWorkflowRequest {
                            workflow_id: id,
                            timeout: None,
                            ..Default::default()
                        };
                        c.await_workflow(req)
                            .await
                            .map(|r| Box::new(r.into_inner()) as Box<dyn std::any::Any + Send>)
                            .expect("await")
                    }
                    1 => {
                        let req = pb::AwaitWorkflowsRequest {
                            workflow_ids: (0..50).map(|i| format!("{id}-{i}")).collect(),
                            mode: pb::AwaitMode::All as i32,
                            timeout: None,
                            ..Default::default()
                        };
                        c.await_workflows(req)
                            .await
                            .map(|r| Box::new(r.into_inner()) as Box<dyn std::any::Any + Send>)
                            .expect("await all")
                    }
                    2 => {
                        let req = pb::WatchEventRequest {
                            workflow_id: "w".into(),
                            key: id,
                            follow: true,
                            ..Default::default()
                        };
                        c.watch_event(req)
                            .await
                            .map(|r| Box::new(r.into_inner()) as Box<dyn std::any::Any + Send>)
                            .expect("watch")
                    }
                    _ => {
                        let req = pb::ReadStreamRequest {
                            workflow_id: "w".into(),
                            key: id,
                            ..Default::default()
                        };
                        c.read_stream(req)
                            .await
                            .map(|r| Box::new(r.into_inner()) as Box<dyn std::any::Any + Send>)
                            .expect("read stream")
                    }
                }
            }
        });
        tokio::time::timeout(WAIT, join_all(opened))
            .await
            .expect("round opens in time");
        // Calls cancelled before their response arrives: the client gives up almost at once.
        let cancelled = (0..PER_ROUND / 4).map(|n| {
            let mut c = srv.client.clone();
            async move {
                let req = pb::AwaitWorkflowRequest {
                    workflow_id: format!("cancelled-{round}-{n}"),
                    timeout: None,
                    ..Default::default()
                };
                let mut s = c.await_workflow(req).await.expect("await").into_inner();
                let call = s.message();
                let gave_up = tokio::time::timeout(Duration::from_millis(20), call).await;
                assert!(gave_up.is_err(), "an absent workflow's wait cannot finish");
            }
        });
        tokio::time::timeout(WAIT, join_all(cancelled))
            .await
            .expect("cancelled in time");
    }

    eventually("every abandoned waiter to leave the hub", || async {
        (srv.hub.waiting_keys() == 0).then_some(())
    })
    .await;
    // Still serving, and a fresh wait still works.
    let req = pb::AwaitWorkflowRequest {
        workflow_id: "w".into(),
        timeout: Some(prost_types::Duration {
            seconds: 0,
            nanos: 50_000_000,
        }),
        ..Default::default()
    };
    let mut s = srv.client.await_workflow(req).await.unwrap().into_inner();
    let first = tokio::time::timeout(WAIT, s.message())
        .await
        .expect("update in time");
    assert!(first.expect("status update").is_some());
    drop(s);
    eventually("the last waiter to leave", || async {
        (srv.hub.waiting_keys() == 0).then_some(())
    })
    .await;
    srv.stop().await;
}
