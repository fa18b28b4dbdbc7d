//! WatchWorkflows' two ways of finding changes: by index at every tick (new, dequeued, finished or
//! cancelled rows) and by a rescan of every in-flight row on a budget (what no index finds, e.g. a
//! resume). `--hub-watch-rescan-ms` spaces the rescans: one hour proves the indexed transitions
//! need no rescan; a short spacing proves a resume still arrives through one.

use std::{sync::atomic::Ordering, time::Duration};

use dbosd::pb::{self, WatchWorkflowsRequest, WorkflowStatus};
use serde_json::json;
use tokio_stream::StreamExt;
use tonic::Streaming;

use crate::harness::{
    enqueue_req, eventually, pv, watching, TestDb, TestServer, Worker, WorkerLang, WorkerOptions,
    WAIT,
};

/// Starts a server polling every 2 ms whose feed rescans at most every `rescan`.
async fn server(rescan: Duration) -> TestServer {
    TestServer::start_on(TestDb::new().await, move |s| {
        s.hub_tick = Duration::from_millis(2);
        s.hub_watch_rescan = rescan;
    })
    .await
}

/// Opens a watch on ids starting with `prefix`, once the feed's first rescan (at its first poll
/// after the clock is known) is behind it, so later changes can only come from the indexed part
/// or a later rescan.
async fn watch(srv: &mut TestServer, prefix: &str) -> Streaming<pb::WatchWorkflowsResponse> {
    let stream = srv
        .client
        .watch_workflows(WatchWorkflowsRequest {
            workflow_id_prefixes: vec![prefix.into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    watching(&srv.hub).await;
    let from = srv.hub.stats.poll_ticks.load(Ordering::Relaxed);
    eventually("the feed's first polls", || async {
        (srv.hub.stats.poll_ticks.load(Ordering::Relaxed) >= from + 3).then_some(())
    })
    .await;
    stream
}

/// Reads the watch until `id` reaches `status`; returns the statuses seen for `id` on the way.
async fn until(
    stream: &mut Streaming<pb::WatchWorkflowsResponse>,
    id: &str,
    status: WorkflowStatus,
) -> Vec<WorkflowStatus> {
    let mut seen = Vec::new();
    loop {
        let msg = tokio::time::timeout(WAIT, stream.next())
            .await
            .unwrap_or_else(|_| panic!("{id} never reached {status:?} (saw {seen:?})"))
            .expect("watch ended")
            .expect("watch error");
        let wf = msg.workflow.expect("a workflow");
        if wf.workflow_id != id {
            continue;
        }
        assert!(!msg.replayed, "a live transition");
        seen.push(wf.status());
        if wf.status() == status {
            return seen;
        }
    }
}

/// Waits until every row whose id starts with `prefix` was created more than the feed's margin
/// (2 s) ago by the database clock: `created_at` no longer finds them.
async fn older_than_the_margin(srv: &TestServer, prefix: &str) {
    let db = srv.db.client().await;
    let pattern = format!("{prefix}%");
    eventually("the rows to be older than the feed's margin", || async {
        let young: i64 = db
            .query_one(
                "SELECT count(*) FROM dbos.workflow_status WHERE workflow_uuid LIKE $1 \
                   AND created_at > (EXTRACT(epoch FROM now()) * 1000)::bigint - 3000",
                &[&pattern],
            )
            .await
            .unwrap()
            .get(0);
        (young == 0).then_some(())
    })
    .await;
}

fn parked(id: &str) -> pb::EnqueueWorkflowRequest {
    let mut req = enqueue_req("echo", "parked_queue", vec![json!(1)]);
    req.workflow_id = Some(id.into());
    req
}

async fn cancel(srv: &mut TestServer, id: &str) {
    srv.client
        .cancel_workflow(pb::CancelWorkflowRequest {
            workflow_id: id.into(),
            ..Default::default()
        })
        .await
        .unwrap();
}

/// With no rescan for an hour, a dequeue (ENQUEUED → PENDING, found through `started_at`), a
/// cancel and a completion (through `completed_at`) still arrive tick by tick. The rows are older
/// than the feed's margin first, so their `created_at` cannot find them; the worker starts only
/// then; the workflow stays PENDING until the test saw PENDING.
#[tokio::test]
async fn dequeues_ends_and_cancels_arrive_without_a_rescan() {
    let mut srv = server(Duration::from_secs(3600)).await;
    let mut held = enqueue_req("blocker", "test_queue", vec![json!("go")]);
    held.workflow_id = Some("idx-held".into());
    srv.client.enqueue_workflow(held).await.unwrap();
    srv.client
        .enqueue_workflow(parked("idx-parked"))
        .await
        .unwrap();
    // Old before the watch opens: the feed's first read of rows created lately cannot see them
    // either, so they are nobody's starting state and only their transitions arrive.
    older_than_the_margin(&srv, "idx-").await;
    let mut stream = watch(&mut srv, "idx-").await;

    cancel(&mut srv, "idx-parked").await;
    assert_eq!(
        until(&mut stream, "idx-parked", WorkflowStatus::Cancelled).await,
        [WorkflowStatus::Cancelled]
    );
    let worker = Worker::start(WorkerLang::Python, &srv.db.url, WorkerOptions::default()).await;
    assert_eq!(
        until(&mut stream, "idx-held", WorkflowStatus::Pending).await,
        [WorkflowStatus::Pending]
    );
    srv.client
        .send_message(pb::SendMessageRequest {
            destination_id: "idx-held".into(),
            topic: Some("go".into()),
            message: Some(pv(json!("done"))),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        until(&mut stream, "idx-held", WorkflowStatus::Success).await,
        [WorkflowStatus::Success]
    );
    worker.stop().await;
    srv.stop().await;
}

/// A resume (CANCELLED → ENQUEUED) changes no indexed column: it arrives through the rescan, which
/// must reach back to the previous rescan however many ticks ran in between.
#[tokio::test]
async fn a_resume_arrives_through_a_spaced_rescan() {
    let mut srv = server(Duration::from_secs(3)).await;
    let mut stream = watch(&mut srv, "rs-").await;
    srv.client.enqueue_workflow(parked("rs-1")).await.unwrap();
    until(&mut stream, "rs-1", WorkflowStatus::Enqueued).await;
    cancel(&mut srv, "rs-1").await;
    until(&mut stream, "rs-1", WorkflowStatus::Cancelled).await;
    // Then only a rescan can find the resume: it sets no created_at, started_at or completed_at.
    older_than_the_margin(&srv, "rs-").await;
    srv.client
        .resume_workflow(pb::ResumeWorkflowRequest {
            workflow_id: "rs-1".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        until(&mut stream, "rs-1", WorkflowStatus::Enqueued).await,
        [WorkflowStatus::Enqueued]
    );
    srv.stop().await;
}
