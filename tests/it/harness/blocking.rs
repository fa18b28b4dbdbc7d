//! Holding a unary call in flight on purpose: a transaction in the test locks the table the call
//! writes, so the call waits inside the database until the test releases it.

use dbosd::pb::{
    workflow_service_client::WorkflowServiceClient, SendMessageRequest, SendMessageResponse,
};
use tokio::task::JoinHandle;
use tonic::{transport::Channel, Response, Status};

use super::{eventually, pv, TestDb};

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
) -> JoinHandle<Result<Response<SendMessageResponse>, Status>> {
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
