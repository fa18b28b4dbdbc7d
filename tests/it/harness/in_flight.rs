//! Calls held in flight on purpose: a unary call blocked on a table lock the test holds, a GetEvent
//! waiting for an event, an AwaitWorkflow stream known to be open, and a WatchWorkflows stream
//! known to be watching.

use std::sync::atomic::Ordering;

use dbosd::{
    hub::Hub,
    pb::{
        workflow_service_client::WorkflowServiceClient, AwaitWorkflowRequest,
        AwaitWorkflowResponse, GetEventRequest, GetEventResponse, SendMessageRequest,
        SendMessageResponse, WorkflowStatus,
    },
};
use tokio::task::JoinHandle;
use tokio_stream::StreamExt;
use tonic::{transport::Channel, Response, Status, Streaming};

use super::{eventually, pv, TestDb, WAIT};

/// A call running in its own task.
pub type InFlight<T> = JoinHandle<Result<Response<T>, Status>>;

/// Holds an exclusive lock on `dbos.notifications` until `COMMIT` is sent on (or drop of) the client.
pub async fn lock_notifications(db: &TestDb) -> tokio_postgres::Client {
    let locker = db.client().await;
    locker
        .batch_execute("BEGIN; LOCK TABLE dbos.notifications IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock notifications");
    locker
}

/// Starts a SendMessage to `to` and returns once it waits on the lock inside the database.
pub async fn send_in_flight(
    db: &TestDb,
    client: &WorkflowServiceClient<Channel>,
    to: &str,
) -> InFlight<SendMessageResponse> {
    let mut client = client.clone();
    let req = SendMessageRequest {
        destination_id: to.into(),
        topic: Some("t".into()),
        message: Some(pv(serde_json::json!("hello"))),
        ..Default::default()
    };
    let call = tokio::spawn(async move { client.send_message(req).await });
    let observer = db.client().await;
    eventually("SendMessage to wait on the lock", || async {
        let row = observer
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
                 AND wait_event_type = 'Lock'",
                &[],
            )
            .await
            .ok()?;
        (row.get::<_, i64>(0) > 0).then_some(())
    })
    .await;
    call
}

/// Starts a GetEvent on `key` of `workflow_id` that waits up to `seconds`.
pub fn get_event_in_flight(
    client: &WorkflowServiceClient<Channel>,
    workflow_id: &str,
    key: &str,
    seconds: i64,
) -> InFlight<GetEventResponse> {
    let mut client = client.clone();
    let req = GetEventRequest {
        workflow_id: workflow_id.into(),
        key: key.into(),
        timeout: Some(prost_types::Duration { seconds, nanos: 0 }),
    };
    tokio::spawn(async move { client.get_event(req).await })
}

/// An AwaitWorkflow stream on `workflow_id`, once its first status update arrived (so it is open).
pub async fn open_await(
    client: &WorkflowServiceClient<Channel>,
    workflow_id: &str,
) -> Result<Streaming<AwaitWorkflowResponse>, Status> {
    let req = AwaitWorkflowRequest {
        workflow_id: workflow_id.into(),
        ..Default::default()
    };
    let mut stream = client.clone().await_workflow(req).await?.into_inner();
    let first = tokio::time::timeout(WAIT, stream.next()).await;
    let first = first.expect("the first status update in time");
    assert!(matches!(first, Some(Ok(_))), "{first:?}");
    Ok(stream)
}

/// Reads an AwaitWorkflow stream up to its outcome, and returns the outcome's status.
pub async fn outcome_of(stream: &mut Streaming<AwaitWorkflowResponse>) -> WorkflowStatus {
    use dbosd::pb::await_workflow_response::Kind;
    loop {
        let msg = tokio::time::timeout(WAIT, stream.next())
            .await
            .expect("the outcome in time")
            .expect("the stream open until its outcome")
            .expect("no error");
        if let Some(Kind::Outcome(o)) = msg.kind {
            return o.status();
        }
    }
}

/// Waits until a WatchWorkflows stream is subscribed to `hub`'s feed and the feed has polled once:
/// changes count as transitions from that poll on.
pub async fn watching(hub: &Hub) {
    eventually("the watcher to subscribe", || async {
        (hub.feed_subscribers() >= 1).then_some(())
    })
    .await;
    let ticks = hub.stats.poll_ticks.load(Ordering::Relaxed);
    eventually("the feed's first poll", || async {
        (hub.stats.poll_ticks.load(Ordering::Relaxed) > ticks).then_some(())
    })
    .await;
}
