//! dbosd through pgbouncer in transaction-pooling mode (Debian's pgbouncer, two server connections
//! for eight pooled client connections): every call works although consecutive statements of a
//! connection land on different server sessions, and the hub's LISTEN goes to PostgreSQL directly.

use std::sync::atomic::Ordering;

use dbosd::pb::{
    CancelWorkflowRequest, ListWorkflowStepsRequest, ListWorkflowsRequest, WorkflowStatus,
};
use serde_json::json;
use tokio::task::JoinSet;

use crate::harness::{
    enqueue_req, eventually, finish_as_worker, get_event_in_flight, get_workflow, open_await,
    outcome_of, set_event_as_worker, Pgbouncer, TestDb, TestServer, WAIT,
};

#[tokio::test]
async fn every_call_works_through_a_transaction_pooling_pgbouncer() {
    let db = TestDb::new().await;
    let bouncer = Pgbouncer::start(&db, 2).await;
    let direct = db.url.clone();
    let pooled = bouncer.url.clone();
    let srv = TestServer::start_on(db, |s| {
        s.database_url = pooled;
        s.direct_database_url = Some(direct);
        s.pool.size = 8;
    })
    .await;

    // Many calls at once: each pooled connection's statements interleave on two server sessions.
    let mut calls = JoinSet::new();
    for i in 0..40 {
        let mut client = srv.client.clone();
        calls.spawn(async move {
            let mut req = enqueue_req("wf", "q", vec![json!(i)]);
            req.workflow_id = Some(format!("pgb-{i}"));
            client.enqueue_workflow(req).await?;
            let id = format!("pgb-{i}");
            client
                .get_workflow(dbosd::pb::GetWorkflowRequest {
                    workflow_id: id.clone(),
                    ..Default::default()
                })
                .await?;
            client
                .list_workflow_steps(ListWorkflowStepsRequest {
                    workflow_id: id,
                    ..Default::default()
                })
                .await?;
            Ok::<_, tonic::Status>(())
        });
    }
    while let Some(done) = calls.join_next().await {
        done.unwrap().expect("a call through pgbouncer");
    }
    let mut client = srv.client.clone();
    let listed = client
        .list_workflows(ListWorkflowsRequest {
            page_size: 100,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.workflows.len(), 40);
    client
        .cancel_workflow(CancelWorkflowRequest {
            workflow_id: "pgb-1".into(),
            cancel_children: false,
        })
        .await
        .expect("cancel");
    assert_eq!(
        get_workflow(&mut client, "pgb-1").await.status(),
        WorkflowStatus::Cancelled
    );

    // Waits: a result (the poller) and an event (LISTEN, on the direct connection).
    let mut waiting = open_await(&client, "pgb-2").await.expect("AwaitWorkflow");
    let event = get_event_in_flight(&client, "pgb-3", "progress", 30);
    let hub = srv.hub.clone();
    eventually("both waits to register", || async {
        (hub.waiting_keys() == 2).then_some(())
    })
    .await;
    let notified = hub.stats.notifications.load(Ordering::Relaxed);
    finish_as_worker(&srv.db, "pgb-2", "1").await;
    set_event_as_worker(&srv.db, "pgb-3", "progress", "7").await;
    assert_eq!(outcome_of(&mut waiting).await, WorkflowStatus::Success);
    let event = tokio::time::timeout(WAIT, event)
        .await
        .expect("GetEvent ends");
    assert!(event.unwrap().expect("GetEvent").into_inner().found);
    // The hub's poll may answer the GetEvent first; the notification still arrives.
    eventually(
        "the notification to reach the direct LISTEN connection",
        || async { (hub.stats.notifications.load(Ordering::Relaxed) > notified).then_some(()) },
    )
    .await;
    srv.stop().await;
}
