//! Graceful drain of the real binary on SIGTERM/SIGINT (ARCHITECTURE.md, "Drain"): health NOT_SERVING first,
//! a grace period, then every open wait ends with UNAVAILABLE and a retry hint while unary calls in
//! flight complete, and the process exits 0 within the drain timeout. A second signal exits at once.

use std::time::{Duration, Instant};

use dbosd::pb::{
    workflow_service_client::WorkflowServiceClient, WatchWorkflowsRequest, WorkflowStatus,
};
use tokio_stream::StreamExt;
use tonic::{transport::Channel, Code, Status, Streaming};
use tonic_health::pb::{
    health_check_response::ServingStatus, health_client::HealthClient, HealthCheckRequest,
    HealthCheckResponse,
};

use crate::harness::{
    enqueue_req, get_event_in_flight, lock_notifications, open_await, send_in_flight, Dbosd,
    TestDb, WAIT,
};

async fn start(db: &TestDb, grace_ms: u64, timeout_ms: u64) -> Dbosd {
    let (grace, timeout) = (grace_ms.to_string(), timeout_ms.to_string());
    let args = [
        "--database-url",
        &db.url,
        "--listen",
        "127.0.0.1:0",
        "--health-interval-ms",
        "200",
        "--drain-grace-ms",
        &grace,
        "--drain-timeout-ms",
        &timeout,
    ];
    Dbosd::spawn(&args, &[], Dbosd::READY).await
}

/// A health Watch on `service`, once it has reported SERVING.
async fn serving_watch(channel: &Channel, service: &str) -> Streaming<HealthCheckResponse> {
    let mut watch = HealthClient::new(channel.clone())
        .watch(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .expect("health watch")
        .into_inner();
    while next_status(&mut watch).await != ServingStatus::Serving {}
    watch
}

async fn next_status(watch: &mut Streaming<HealthCheckResponse>) -> ServingStatus {
    let item = tokio::time::timeout(WAIT, watch.next())
        .await
        .expect("health update in time");
    item.expect("health watch open")
        .expect("health status")
        .status()
}

/// The next item of a stream that must end with the drain's UNAVAILABLE and retry hint.
async fn ends_draining<T: std::fmt::Debug>(what: &str, stream: &mut Streaming<T>) {
    is_draining_end(what, next_item(stream).await);
}

async fn next_item<T>(stream: &mut Streaming<T>) -> Option<Option<Result<T, Status>>> {
    tokio::time::timeout(WAIT, stream.next()).await.ok()
}

/// `item` (`None`: none in time) is the stream's end with UNAVAILABLE and a retry hint.
fn is_draining_end<T: std::fmt::Debug>(what: &str, item: Option<Option<Result<T, Status>>>) {
    match item.unwrap_or_else(|| panic!("{what}: still open after the drain")) {
        Some(Err(status)) => assert_draining(what, &status),
        other => panic!("{what}: expected UNAVAILABLE, got {other:?}"),
    }
}

fn assert_draining(what: &str, status: &Status) {
    assert_eq!(status.code(), Code::Unavailable, "{what}: {status:?}");
    assert!(status.message().contains("retry"), "{what}: {status:?}");
    let pushback = status.metadata().get("grpc-retry-pushback-ms");
    assert_eq!(
        pushback.and_then(|v| v.to_str().ok()),
        Some("1000"),
        "{what}: retry hint {status:?}"
    );
}

#[tokio::test]
async fn sigterm_drains_health_first_then_streams_while_unary_calls_finish() {
    const GRACE: Duration = Duration::from_millis(1500);
    let db = TestDb::new().await;
    let mut dbosd = start(&db, GRACE.as_millis() as u64, 20_000).await;
    let mut client = WorkflowServiceClient::new(dbosd.channel.clone());
    let mut health_all = serving_watch(&dbosd.channel, "").await;
    let mut health_api = serving_watch(&dbosd.channel, "dbosd.v1.WorkflowService").await;

    // Open waits of every kind: a result wait, a watch, and a unary GetEvent wait.
    let id = "drain-1";
    let mut enqueue = enqueue_req("never_runs", "drainq", vec![]);
    enqueue.workflow_id = Some(id.into());
    client.enqueue_workflow(enqueue).await.expect("enqueue");
    let mut awaiting = open_await(&client, id).await.expect("AwaitWorkflow");
    let mut watching = client
        .watch_workflows(WatchWorkflowsRequest::default())
        .await
        .expect("WatchWorkflows")
        .into_inner();
    let event_wait = get_event_in_flight(&client, id, "never-set", 3600);
    // And a unary call held in flight by a lock in the database.
    let locker = lock_notifications(&db).await;
    let sending = send_in_flight(&db, &client, id).await;

    let signalled = Instant::now();
    dbosd.signal(libc::SIGTERM);

    // 1. Health turns NOT_SERVING for both names, while dbosd still serves (the grace period).
    assert_eq!(
        next_status(&mut health_all).await,
        ServingStatus::NotServing
    );
    assert_eq!(
        next_status(&mut health_api).await,
        ServingStatus::NotServing
    );
    let check = HealthClient::new(dbosd.channel.clone())
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health Check still answered during the grace period");
    assert_eq!(check.into_inner().status(), ServingStatus::NotServing);
    assert!(
        signalled.elapsed() < GRACE,
        "the grace period must not have passed yet"
    );

    // 2. After the grace, every open wait ends with UNAVAILABLE and a retry hint.
    ends_draining("AwaitWorkflow", &mut awaiting).await;
    assert!(
        signalled.elapsed() >= GRACE,
        "streams ended before the grace period was over"
    );
    // The watch may first send drain-1's ENQUEUED: watching counts from a little before it opened
    // (hub::feed), so a change made just before may arrive as a transition.
    let mut item = next_item(&mut watching).await;
    if let Some(Some(Ok(change))) = &item {
        let info = change
            .workflow
            .as_ref()
            .expect("a change names its workflow");
        assert_eq!(
            (info.workflow_id.as_str(), info.status()),
            (id, WorkflowStatus::Enqueued)
        );
        item = next_item(&mut watching).await;
    }
    is_draining_end("WatchWorkflows", item);
    ends_draining("health Watch", &mut health_all).await;
    let event = tokio::time::timeout(WAIT, event_wait)
        .await
        .expect("GetEvent ends");
    assert_draining("GetEvent", &event.unwrap().unwrap_err());

    // 3. The unary call in flight keeps the process alive, then completes.
    assert!(dbosd.try_exited().is_none(), "exited with a call in flight");
    locker.batch_execute("COMMIT").await.expect("unlock");
    let sent = tokio::time::timeout(WAIT, sending)
        .await
        .expect("SendMessage ends");
    let sent = sent.unwrap().expect("the in-flight SendMessage completes");
    assert!(sent.into_inner().delivered);

    // 4. Exit 0, within the drain timeout.
    let status = dbosd.exited_within(WAIT).await;
    assert_eq!(status.code(), Some(0), "{status:?}");
    dbosd.logged("drained").await;
}

#[tokio::test]
async fn a_second_signal_exits_at_once() {
    let db = TestDb::new().await;
    // A grace far longer than the test may take: only the second signal can end it in time.
    let mut dbosd = start(&db, 120_000, 180_000).await;
    let mut health = serving_watch(&dbosd.channel, "").await;
    dbosd.signal(libc::SIGTERM);
    // A SIGTERM that arrived before the handlers were installed used to kill dbosd here (the watch
    // reset); `shutdown::signal` now installs them before the server serves. Say why if it recurs.
    let update = tokio::time::timeout(WAIT, health.next()).await;
    let Ok(Some(Ok(update))) = update else {
        panic!(
            "no NOT_SERVING after SIGTERM: {update:?}; dbosd exit {:?}; log:\n{}",
            dbosd.try_exited(),
            dbosd.log()
        );
    };
    assert_eq!(update.status(), ServingStatus::NotServing);
    dbosd.signal(libc::SIGINT);
    let status = dbosd.exited_within(WAIT).await;
    assert_eq!(status.code(), Some(128 + libc::SIGINT), "{status:?}");
}

#[tokio::test]
async fn the_drain_timeout_bounds_calls_stuck_in_flight() {
    const TIMEOUT: Duration = Duration::from_millis(1500);
    let db = TestDb::new().await;
    let mut dbosd = start(&db, 0, TIMEOUT.as_millis() as u64).await;
    let client = WorkflowServiceClient::new(dbosd.channel.clone());
    let _health = serving_watch(&dbosd.channel, "").await;
    let locker = lock_notifications(&db).await;
    let sending = send_in_flight(&db, &client, "nobody").await;

    let signalled = Instant::now();
    dbosd.signal(libc::SIGTERM);
    let status = dbosd.exited_within(WAIT).await;
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(
        signalled.elapsed() >= TIMEOUT,
        "exited before the drain timeout"
    );
    // The warning says what held the exit: the one connection and its stuck call.
    dbosd
        .logged_with(&["drain timeout", "connections_open=1", "calls_in_flight=1"])
        .await;
    let cut = tokio::time::timeout(WAIT, sending)
        .await
        .expect("SendMessage ends");
    assert!(
        cut.unwrap().is_err(),
        "the stuck call cannot have succeeded"
    );
    drop(locker);
}
