//! WatchEvent, ReadStream and WatchWorkflows with the real DBOS Python worker.

use std::{
    collections::{HashMap, HashSet},
    sync::atomic::Ordering,
    time::Duration,
};

use dbosd::pb::{
    self, ReadStreamRequest, WatchEventRequest, WatchWorkflowsRequest, WorkflowStatus,
};
use serde_json::json;
use tokio_stream::StreamExt;
use tonic::{Code, Streaming};

use crate::harness::{
    assert_status, enqueue_req, eventually, get_workflow, pv, wait_terminal, watching, TestDb,
    TestServer, Worker, WorkerLang, WorkerOptions, WAIT,
};

async fn next<T>(stream: &mut Streaming<T>) -> Option<T> {
    tokio::time::timeout(WAIT, stream.next())
        .await
        .expect("stream stalled")
        .map(|m| m.expect("stream error"))
}

async fn send(srv: &mut TestServer, dest: &str, topic: &str) {
    srv.client
        .send_message(pb::SendMessageRequest {
            destination_id: dest.into(),
            topic: Some(topic.into()),
            message: Some(pv(json!("done"))),
            ..Default::default()
        })
        .await
        .unwrap();
}

async fn events_are_read_while_pending_and_followed(lang: WorkerLang) {
    let mut srv = TestServer::start().await;
    let worker = Worker::start(lang, &srv.db.url, WorkerOptions::default()).await;
    let watch = |follow: bool| WatchEventRequest {
        workflow_id: "ev".into(),
        key: "progress".into(),
        follow,
        timeout: None,
    };
    let mut single = srv
        .client
        .watch_event(watch(false))
        .await
        .unwrap()
        .into_inner();
    let mut follow = srv
        .client
        .watch_event(watch(true))
        .await
        .unwrap()
        .into_inner();
    let mut req = enqueue_req(
        "set_events_then_wait",
        "test_queue",
        vec![
            json!("progress"),
            json!([1, 2]),
            json!("finish"),
            json!(0.3),
        ],
    );
    req.workflow_id = Some("ev".into());
    srv.client.enqueue_workflow(req).await.unwrap();

    let first = next(&mut single).await.expect("a value");
    assert_eq!(first.value.unwrap().json, Some(pv(json!(1))));
    assert!(
        next(&mut single).await.is_none(),
        "without follow the stream ends after one value"
    );
    assert_eq!(
        next(&mut follow).await.unwrap().value.unwrap().json,
        Some(pv(json!(1)))
    );
    assert_eq!(
        next(&mut follow).await.unwrap().value.unwrap().json,
        Some(pv(json!(2)))
    );
    // The workflow is still PENDING (waiting on recv) while its events are read.
    assert_eq!(
        get_workflow(&mut srv.client, "ev").await.status(),
        WorkflowStatus::Pending
    );
    send(&mut srv, "ev", "finish").await;
    assert!(
        next(&mut follow).await.is_none(),
        "follow ends when the workflow ends"
    );

    let mut late = srv
        .client
        .watch_event(WatchEventRequest {
            timeout: Some(prost_types::Duration {
                seconds: 0,
                nanos: 300_000_000,
            }),
            key: "never".into(),
            ..watch(false)
        })
        .await
        .unwrap()
        .into_inner();
    let err = tokio::time::timeout(WAIT, late.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded);
    assert_status(
        srv.client
            .watch_event(WatchEventRequest {
                key: String::new(),
                ..watch(false)
            })
            .await,
        Code::InvalidArgument,
        "key",
    );
    worker.stop().await;
    srv.stop().await;
}

async fn a_dbos_stream_is_read_to_its_end(lang: WorkerLang) {
    let mut srv = TestServer::start().await;
    let worker = Worker::start(lang, &srv.db.url, WorkerOptions::default()).await;
    let values = json!([1, "two", {"three": 3}]);
    // The writer waits on "close" after writing, so the reader sees values arrive, then the close.
    let mut req = enqueue_req(
        "write_stream_wf",
        "test_queue",
        vec![json!("s"), values.clone(), json!(true), json!("close")],
    );
    req.workflow_id = Some("writer".into());
    let read = |offset: i32| ReadStreamRequest {
        workflow_id: "writer".into(),
        key: "s".into(),
        offset,
        timeout: None,
    };
    srv.client.enqueue_workflow(req).await.unwrap();
    let mut live = srv.client.read_stream(read(0)).await.unwrap().into_inner();
    let mut got = Vec::new();
    for _ in 0..3 {
        let msg = next(&mut live).await.expect("value");
        got.push((
            msg.offset,
            serde_json::from_str::<serde_json::Value>(&msg.value.unwrap().text).unwrap(),
        ));
    }
    assert_eq!(
        got,
        [(0, json!(1)), (1, json!("two")), (2, json!({"three": 3}))]
    );
    send(&mut srv, "writer", "close").await;
    assert!(
        next(&mut live).await.is_none(),
        "the close marker ends the stream"
    );
    wait_terminal(&srv.client, "writer").await;

    let from_one: Vec<i32> = srv
        .client
        .read_stream(read(1))
        .await
        .unwrap()
        .into_inner()
        .map(|m| m.unwrap().offset)
        .collect()
        .await;
    assert_eq!(from_one, [1, 2]);
    let missing = ReadStreamRequest {
        workflow_id: "nope".into(),
        ..read(0)
    };
    let mut missing = srv.client.read_stream(missing).await.unwrap().into_inner();
    let err = tokio::time::timeout(WAIT, missing.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_status(
        srv.client.read_stream(read(-1)).await,
        Code::InvalidArgument,
        "offset",
    );
    worker.stop().await;
    srv.stop().await;
}

async fn a_stream_of_a_finished_workflow_ends_after_its_values_even_unclosed(lang: WorkerLang) {
    let mut srv = TestServer::start().await;
    let worker = Worker::start(lang, &srv.db.url, WorkerOptions::default()).await;
    let mut req = enqueue_req(
        "write_stream_wf",
        "test_queue",
        vec![json!("s"), json!(["a", "b"]), json!(false)],
    );
    req.workflow_id = Some("unclosed".into());
    srv.client.enqueue_workflow(req).await.unwrap();
    let read = ReadStreamRequest {
        workflow_id: "unclosed".into(),
        key: "s".into(),
        offset: 0,
        timeout: None,
    };
    let values: Vec<String> = tokio::time::timeout(
        WAIT,
        srv.client
            .read_stream(read)
            .await
            .unwrap()
            .into_inner()
            .map(|m| m.unwrap().value.unwrap().text)
            .collect::<Vec<_>>(),
    )
    .await
    .unwrap();
    assert_eq!(values, [r#""a""#, r#""b""#]);
    worker.stop().await;
    srv.stop().await;
}

/// Collects WatchWorkflows messages until every id reached SUCCESS (or the stream is dropped after `limit`).
async fn watch_until(
    stream: &mut Streaming<pb::WatchWorkflowsResponse>,
    seen: &mut HashMap<String, Vec<(WorkflowStatus, bool)>>,
    cursor: &mut String,
    ids: &HashSet<String>,
    limit: Option<usize>,
) {
    let mut received = 0;
    while !ids.iter().all(|id| {
        seen.get(id)
            .is_some_and(|v| v.iter().any(|(s, _)| *s == WorkflowStatus::Success))
    }) {
        let msg = next(stream).await.expect("watch stream ended");
        let wf = msg.workflow.unwrap();
        seen.entry(wf.workflow_id.clone())
            .or_default()
            .push((wf.status(), msg.replayed));
        *cursor = msg.cursor;
        received += 1;
        if limit == Some(received) {
            return;
        }
    }
}

async fn watch_workflows_sees_every_transition_and_resumes_after_a_drop(lang: WorkerLang) {
    let mut srv = TestServer::start().await;
    let worker = Worker::start(lang, &srv.db.url, WorkerOptions::default()).await;
    let watch = |cursor: String| WatchWorkflowsRequest {
        queue_names: vec!["serial_queue".into()],
        cursor,
        ..Default::default()
    };
    let mut stream = srv
        .client
        .watch_workflows(watch(String::new()))
        .await
        .unwrap()
        .into_inner();
    watching(&srv.hub).await;
    // Hold the concurrency-1 queue so all 50 are visibly ENQUEUED first, then PENDING one by one.
    let mut blocker = enqueue_req("blocker", "serial_queue", vec![json!("go")]);
    blocker.workflow_id = Some("blocker".into());
    srv.client.enqueue_workflow(blocker).await.unwrap();
    eventually("the blocker to hold the queue", || {
        let mut c = srv.client.clone();
        async move {
            (get_workflow(&mut c, "blocker").await.status() == WorkflowStatus::Pending)
                .then_some(())
        }
    })
    .await;
    let ids: HashSet<String> = (0..50).map(|i| format!("watched-{i:02}")).collect();
    for id in &ids {
        let mut req = enqueue_req("sleepy", "serial_queue", vec![json!(0.05)]);
        req.workflow_id = Some(id.clone());
        srv.client.enqueue_workflow(req).await.unwrap();
    }
    // Unrelated work on another queue must not show up.
    srv.client
        .enqueue_workflow(enqueue_req("echo", "test_queue", vec![json!(1)]))
        .await
        .unwrap();
    send(&mut srv, "blocker", "go").await;

    let mut seen: HashMap<String, Vec<(WorkflowStatus, bool)>> = HashMap::new();
    let mut cursor = String::new();
    // Read part of the transitions, then drop the connection mid-stream.
    watch_until(&mut stream, &mut seen, &mut cursor, &ids, Some(70)).await;
    drop(stream);
    let mut resumed = srv
        .client
        .watch_workflows(watch(cursor.clone()))
        .await
        .unwrap()
        .into_inner();
    watch_until(&mut resumed, &mut seen, &mut cursor, &ids, None).await;

    assert!(
        seen.keys().all(|id| ids.contains(id) || id == "blocker"),
        "only serial_queue workflows: {:?}",
        seen.keys()
    );
    for id in &ids {
        let statuses: Vec<WorkflowStatus> = seen[id].iter().map(|(s, _)| *s).collect();
        // Live messages show every transition; after the drop, replayed ones may skip what was missed.
        let live: Vec<WorkflowStatus> = seen[id]
            .iter()
            .filter(|(_, r)| !r)
            .map(|(s, _)| *s)
            .collect();
        assert_eq!(
            statuses.first(),
            Some(&WorkflowStatus::Enqueued),
            "{id}: {statuses:?}"
        );
        assert_eq!(
            statuses.last(),
            Some(&WorkflowStatus::Success),
            "{id}: {statuses:?}"
        );
        let mut dedup = live.clone();
        dedup.dedup();
        assert_eq!(dedup, live, "{id}: no repeated live transitions: {live:?}");
        if !seen[id].iter().any(|(_, replayed)| *replayed) {
            assert_eq!(
                statuses,
                [
                    WorkflowStatus::Enqueued,
                    WorkflowStatus::Pending,
                    WorkflowStatus::Success
                ],
                "{id}"
            );
        }
    }
    worker.stop().await;
    srv.stop().await;
}

on_both_workers!(
    events_are_read_while_pending_and_followed,
    a_dbos_stream_is_read_to_its_end,
    a_stream_of_a_finished_workflow_ends_after_its_values_even_unclosed,
    watch_workflows_sees_every_transition_and_resumes_after_a_drop,
);

/// The first watcher's subscription starts the feed, but the poller only learns the database clock
/// at its next tick (up to a tick later): a change the caller makes as soon as its watch is open
/// falls in that gap and must still arrive as a live transition. A slow tick widens the gap, and a
/// waited workflow keeps the poller ticking so the watch opens mid-tick.
#[tokio::test]
async fn a_change_right_after_the_first_watch_opens_is_delivered() {
    let mut srv = TestServer::start_on(TestDb::new().await, |s| {
        s.hub_tick = Duration::from_millis(700)
    })
    .await;
    let parked = |id: &str| {
        let mut req = enqueue_req("echo", "parked_queue", vec![json!(1)]);
        req.workflow_id = Some(id.into());
        req
    };
    for id in ["held", "target"] {
        srv.client.enqueue_workflow(parked(id)).await.unwrap();
    }
    let mut waiter = srv.client.clone();
    let _held = tokio::spawn(async move {
        waiter
            .await_workflow(pb::AwaitWorkflowRequest {
                workflow_id: "held".into(),
                ..Default::default()
            })
            .await
    });
    eventually("the poller to tick for the held wait", || async {
        (srv.hub.stats.poll_ticks.load(Ordering::Relaxed) >= 2).then_some(())
    })
    .await;
    let mut stream = srv
        .client
        .watch_workflows(WatchWorkflowsRequest {
            workflow_ids: vec!["target".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    srv.client
        .cancel_workflow(pb::CancelWorkflowRequest {
            workflow_id: "target".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let update = next(&mut stream).await.expect("an update");
    let workflow = update.workflow.expect("a workflow");
    assert_eq!(workflow.workflow_id, "target");
    assert_eq!(workflow.status(), WorkflowStatus::Cancelled);
    assert!(!update.replayed, "a live transition, not a replay");
}
