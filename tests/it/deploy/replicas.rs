//! Several dbosd replicas on one database are correct: each has its own hub and pool and shares
//! nothing but the database. Two in-process servers on the same database race idempotent enqueues,
//! and a wait on one sees changes made through the other or by the database directly.

use dbosd::pb::{AwaitWorkflowRequest, CancelWorkflowRequest, EnqueueOutcome, WorkflowStatus};
use serde_json::json;

use crate::harness::{
    enqueue_req, eventually, finish_as_worker, get_event_in_flight, outcome_of,
    set_event_as_worker, TestDb, TestServer, WAIT,
};

async fn two_replicas() -> (TestServer, TestServer) {
    let a = TestServer::start_on(TestDb::new().await, |_| {}).await;
    let b = TestServer::start_on(a.db.share(), |_| {}).await;
    (a, b)
}

#[tokio::test]
async fn the_same_enqueue_on_two_replicas_creates_one_workflow() {
    let (a, b) = two_replicas().await;
    for i in 0..10 {
        let mut req = enqueue_req("wf", "q", vec![json!(i)]);
        req.workflow_id = Some(format!("both-{i}"));
        let (mut ca, mut cb) = (a.client.clone(), b.client.clone());
        let (ra, rb) = tokio::join!(
            ca.enqueue_workflow(req.clone()),
            cb.enqueue_workflow(req.clone())
        );
        let mut outcomes = [
            ra.expect("enqueue on A").into_inner().outcome(),
            rb.expect("enqueue on B").into_inner().outcome(),
        ];
        outcomes.sort_by_key(|o| *o as i32);
        assert_eq!(
            outcomes,
            [EnqueueOutcome::Created, EnqueueOutcome::Existing]
        );
    }
    let db = a.db.client().await;
    let rows = db
        .query_one(
            "SELECT count(*) FROM dbos.workflow_status WHERE workflow_uuid LIKE 'both-%'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.get::<_, i64>(0), 10);
    b.stop().await;
    a.stop().await;
}

#[tokio::test]
async fn a_wait_on_one_replica_sees_changes_made_through_the_other_or_the_database() {
    let (a, b) = two_replicas().await;
    let (mut ca, mut cb) = (a.client.clone(), b.client.clone());
    for id in ["via-a", "via-db"] {
        let mut req = enqueue_req("wf", "q", vec![]);
        req.workflow_id = Some(id.into());
        ca.enqueue_workflow(req).await.expect("enqueue on A");
    }
    let wait_on_b = |id: &str| {
        let mut cb = cb.clone();
        let req = AwaitWorkflowRequest {
            workflow_id: id.into(),
            ..Default::default()
        };
        async move {
            cb.await_workflow(req)
                .await
                .expect("AwaitWorkflow on B")
                .into_inner()
        }
    };
    let (mut via_a, mut via_db) = (wait_on_b("via-a").await, wait_on_b("via-db").await);
    let event = get_event_in_flight(&cb, "via-db", "progress", 30);
    // B's own hub holds the waits; A's has none.
    eventually("B to wait on both workflows and the event", || async {
        (b.hub.waiting_keys() == 3).then_some(())
    })
    .await;
    assert_eq!(a.hub.waiting_keys(), 0);

    // Through A: cancel. By the database (as a worker would): finish, set an event and notify.
    ca.cancel_workflow(CancelWorkflowRequest {
        workflow_id: "via-a".into(),
        cancel_children: false,
    })
    .await
    .expect("cancel on A");
    assert_eq!(outcome_of(&mut via_a).await, WorkflowStatus::Cancelled);
    set_event_as_worker(&a.db, "via-db", "progress", "50").await;
    finish_as_worker(&a.db, "via-db", "\"done\"").await;
    assert_eq!(outcome_of(&mut via_db).await, WorkflowStatus::Success);
    let event = tokio::time::timeout(WAIT, event)
        .await
        .expect("GetEvent ends");
    assert!(event.unwrap().expect("GetEvent on B").into_inner().found);
    cb.list_workflows(dbosd::pb::ListWorkflowsRequest::default())
        .await
        .expect("B still serves");
    b.stop().await;
    a.stop().await;
}
