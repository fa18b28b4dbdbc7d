//! dbosd through pgbouncer in transaction-pooling mode (Debian's pgbouncer, two server connections
//! for eight pooled client connections): every call works although consecutive statements of a
//! connection land on different server sessions, and the hub's LISTEN goes to PostgreSQL directly.

use std::sync::atomic::Ordering;

use dbosd::pb::{
    await_workflow_response::Kind, AwaitWorkflowRequest, CancelWorkflowRequest,
    ListWorkflowStepsRequest, ListWorkflowsRequest, WorkflowStatus,
};
use serde_json::json;
use tokio::task::JoinSet;
use tokio_stream::StreamExt;

use crate::harness::{
    enqueue_req, eventually, get_event_in_flight, get_workflow, Pgbouncer, TestDb, TestServer, WAIT,
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
    let mut waiting = client
        .await_workflow(AwaitWorkflowRequest {
            workflow_id: "pgb-2".into(),
            ..Default::default()
        })
        .await
        .expect("AwaitWorkflow")
        .into_inner();
    let event = get_event_in_flight(&client, "pgb-3", "progress", 30);
    let hub = srv.hub.clone();
    eventually("both waits to register", || async {
        (hub.waiting_keys() == 2).then_some(())
    })
    .await;
    let notified = hub.stats.notifications.load(Ordering::Relaxed);
    let worker = srv.db.client().await;
    worker
        .batch_execute(
            "UPDATE dbos.workflow_status SET status = 'SUCCESS', output = '1' \
               WHERE workflow_uuid = 'pgb-2'; \
             INSERT INTO dbos.workflow_events (workflow_uuid, key, value, serialization) \
               VALUES ('pgb-3', 'progress', '7', 'portable_json'); \
             SELECT pg_notify('dbos_workflow_events_channel', 'pgb-3::progress');",
        )
        .await
        .unwrap();
    let outcome = async {
        while let Some(msg) = waiting.next().await {
            if let Some(Kind::Outcome(o)) = msg.expect("stream").kind {
                return o.status();
            }
        }
        panic!("the stream ended without an outcome");
    };
    let status = tokio::time::timeout(WAIT, outcome).await.expect("outcome");
    assert_eq!(status, WorkflowStatus::Success);
    let event = tokio::time::timeout(WAIT, event)
        .await
        .expect("GetEvent ends");
    assert!(event.unwrap().expect("GetEvent").into_inner().found);
    assert!(
        hub.stats.notifications.load(Ordering::Relaxed) > notified,
        "the notification reached the direct LISTEN connection"
    );
    srv.stop().await;
}
