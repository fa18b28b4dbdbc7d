//! Idempotency under concurrency: many callers racing on one workflow id, one deduplication id or one
//! message idempotency key leave exactly one row, and exactly one of them is told it created it.

use dbosd::pb::{self, DeduplicationPolicy, EnqueueOutcome};
use futures::future::join_all;
use serde_json::json;
use tonic::Code;

use crate::harness::{enqueue_req, TestServer, WAIT};

const CALLERS: usize = 50;

/// Runs `CALLERS` copies of a call at once (each on its own cloned client) and returns every result.
async fn race<T, F, Fut>(srv: &TestServer, call: F) -> Vec<Result<T, tonic::Status>>
where
    F: Fn(pb::workflow_service_client::WorkflowServiceClient<tonic::transport::Channel>) -> Fut,
    Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>> + Send + 'static,
    T: Send + 'static,
{
    let tasks = (0..CALLERS).map(|_| tokio::spawn(call(srv.client.clone())));
    let all = tokio::time::timeout(WAIT, join_all(tasks)).await;
    all.expect("racing calls finish")
        .into_iter()
        .map(|r| r.expect("task").map(tonic::Response::into_inner))
        .collect()
}

#[tokio::test]
async fn fifty_enqueues_of_one_workflow_id_create_one_row() {
    let srv = TestServer::start().await;
    let mut req = enqueue_req("echo", "q", vec![json!("same")]);
    req.workflow_id = Some("one-id".into());
    let results = race(&srv, |mut c| {
        let req = req.clone();
        async move { c.enqueue_workflow(req).await }
    })
    .await;
    let oks: Vec<_> = results
        .into_iter()
        .map(|r| r.expect("every caller succeeds"))
        .collect();
    assert!(oks.iter().all(|r| r.workflow_id == "one-id"), "{oks:?}");
    let created = oks
        .iter()
        .filter(|r| r.outcome() == EnqueueOutcome::Created)
        .count();
    assert_eq!(created, 1, "exactly one caller creates: {oks:?}");
    assert!(oks.iter().all(|r| matches!(
        r.outcome(),
        EnqueueOutcome::Created | EnqueueOutcome::Existing
    )));
    let sql = "SELECT count(*) FROM dbos.workflow_status WHERE workflow_uuid = 'one-id'";
    assert_eq!(srv.db.count(sql).await, 1);
    srv.stop().await;
}

#[tokio::test]
async fn fifty_enqueues_with_one_deduplication_id_create_one_row() {
    let srv = TestServer::start().await;
    for policy in [
        DeduplicationPolicy::Reject,
        DeduplicationPolicy::ReturnExisting,
    ] {
        let dedup = format!("dedup-{}", policy as i32);
        let results = race(&srv, |mut c| {
            // Distinct workflow ids (generated), one deduplication id.
            let mut req = enqueue_req("echo", "q", vec![json!(1)]);
            req.deduplication_id = Some(dedup.clone());
            req.deduplication_policy = policy as i32;
            async move { c.enqueue_workflow(req).await }
        })
        .await;
        let mut created = Vec::new();
        let mut holders = Vec::new();
        for r in results {
            match (policy, r) {
                (_, Ok(r)) if r.outcome() == EnqueueOutcome::Created => created.push(r.workflow_id),
                (DeduplicationPolicy::ReturnExisting, Ok(r)) => {
                    assert_eq!(r.outcome(), EnqueueOutcome::Deduplicated, "{r:?}");
                    holders.push(r.workflow_id);
                }
                (DeduplicationPolicy::Reject, Err(s)) => {
                    assert_eq!(s.code(), Code::AlreadyExists, "{s:?}")
                }
                (_, other) => panic!("{policy:?}: unexpected {other:?}"),
            }
        }
        assert_eq!(created.len(), 1, "{policy:?}: exactly one CREATED");
        assert!(
            holders.iter().all(|h| *h == created[0]),
            "{policy:?}: {holders:?}"
        );
        let sql =
            format!("SELECT count(*) FROM dbos.workflow_status WHERE deduplication_id = '{dedup}'");
        assert_eq!(srv.db.count(&sql).await, 1, "{policy:?}");
    }
    srv.stop().await;
}

#[tokio::test]
async fn fifty_sends_with_one_idempotency_key_deliver_once() {
    let mut srv = TestServer::start().await;
    let mut req = enqueue_req("echo", "q", vec![]);
    req.workflow_id = Some("dest".into());
    srv.client.enqueue_workflow(req).await.unwrap();
    let results = race(&srv, |mut c| async move {
        c.send_message(pb::SendMessageRequest {
            destination_id: "dest".into(),
            message_json: "42".into(),
            idempotency_key: Some("key".into()),
            ..Default::default()
        })
        .await
    })
    .await;
    let oks: Vec<_> = results
        .into_iter()
        .map(|r| r.expect("every send succeeds"))
        .collect();
    assert!(oks.iter().all(|r| r.message_id == "key::dest"), "{oks:?}");
    assert_eq!(oks.iter().filter(|r| r.delivered).count(), 1, "{oks:?}");
    let sql = "SELECT count(*) FROM dbos.notifications WHERE destination_uuid = 'dest'";
    assert_eq!(srv.db.count(sql).await, 1);
    srv.stop().await;
}
