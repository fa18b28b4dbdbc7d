//! One database down touches no other: with `b`'s cluster stopped, `b`'s calls answer UNAVAILABLE
//! while the default database's enqueues and waits keep working at their usual latency; when `b`'s
//! cluster comes back, `b` serves again without restarting dbosd.

use std::time::{Duration, Instant};

use dbosd::pb::{
    await_workflow_response::Kind, AwaitWorkflowRequest, DatabaseHealth, ListDatabasesRequest,
    ListWorkflowsRequest, WorkflowStatus,
};
use serde_json::json;
use tokio_stream::StreamExt;
use tonic::Code;

use super::{client_on, Two};
use crate::harness::{enqueue_req, eventually, finish_as_worker, WAIT};

#[tokio::test]
async fn a_stopped_cluster_fails_only_its_own_calls_and_recovers() {
    let mut two = Two::start(|_| {}, None).await;
    let mut a = client_on(&two.srv, None, None);
    let mut b = client_on(&two.srv, Some("b"), None);
    // A wait on the default database, open across b's outage.
    let mut req = enqueue_req("echo", "test_queue", vec![json!(1)]);
    req.workflow_id = Some("across".into());
    a.enqueue_workflow(req).await.unwrap();
    let mut across = a
        .await_workflow(AwaitWorkflowRequest {
            workflow_id: "across".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();

    two.b_cluster.stop().await;
    eventually("b's calls to fail UNAVAILABLE", || {
        let mut b = b.clone();
        async move {
            let err = b
                .list_workflows(ListWorkflowsRequest::default())
                .await
                .err()?;
            (err.code() == Code::Unavailable).then_some(())
        }
    })
    .await;
    eventually("b's health to turn NOT_SERVING", || {
        let mut a = a.clone();
        async move {
            let all = a
                .list_databases(ListDatabasesRequest {})
                .await
                .ok()?
                .into_inner();
            let b = all.databases.into_iter().find(|d| d.name == "b")?;
            (b.health() == DatabaseHealth::NotServing).then_some(())
        }
    })
    .await;
    // The default database: enqueues stay fast, and the open wait ends when its workflow does.
    let started = Instant::now();
    for i in 0..20 {
        let req = enqueue_req("echo", "test_queue", vec![json!(i)]);
        a.enqueue_workflow(req)
            .await
            .expect("enqueue on a while b is down");
    }
    let per_call = started.elapsed() / 20;
    assert!(
        per_call < Duration::from_millis(250),
        "enqueue took {per_call:?} with b down"
    );
    finish_as_worker(&two.srv.db, "across", "\"done\"").await;
    let outcome = loop {
        let msg = tokio::time::timeout(WAIT, across.next())
            .await
            .expect("the wait on a ends in time")
            .expect("an outcome")
            .expect("await ok");
        if let Some(Kind::Outcome(o)) = msg.kind {
            break o;
        }
    };
    assert_eq!(outcome.status(), WorkflowStatus::Success);

    // b comes back on its port: its calls work again, no restart of dbosd.
    two.b_cluster.restart().await;
    two.wait_open("b", None).await;
    let mut req = enqueue_req("echo", "test_queue", vec![json!("back")]);
    req.workflow_id = Some("after".into());
    b.enqueue_workflow(req)
        .await
        .expect("enqueue on b after its restart");
    assert_eq!(two.b_db.workflow_ids().await, ["after"]);
    two.srv.stop().await;
}
