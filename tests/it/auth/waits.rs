//! Waits check the owner when the row appears: alpha waiting on an id that does not exist yet, and
//! that beta then creates, gets nothing of beta's; the wait ends as it does for an id that never
//! appears. An `ops` waiter on the same id proves beta's row did appear (and woke the hub) while
//! alpha was waiting.

use dbosd::pb::{
    AwaitMode, AwaitWorkflowRequest, AwaitWorkflowsRequest, GetEventRequest, WatchEventRequest,
};
use tokio_stream::StreamExt;
use tonic::Code;

use crate::auth::setup::{client_as, enqueue_as_ops, same_as_unknown, server, ALPHA, OPS};
use crate::harness::{eventually, finish_as_worker, outcome_of, set_event_as_worker, WAIT};

fn seconds(s: i64) -> Option<prost_types::Duration> {
    Some(prost_types::Duration {
        seconds: s,
        nanos: 0,
    })
}

/// Waits until the hub has at least `n` keys waited on (the waits are subscribed).
async fn subscribed(srv: &crate::harness::TestServer, n: usize) {
    eventually("the waits to subscribe", || async {
        (srv.hub.waiting_keys() >= n).then_some(())
    })
    .await;
}

/// Every item of a stream up to its end (bounded).
async fn drain<T>(mut stream: tonic::Streaming<T>) -> (Vec<T>, Option<tonic::Status>) {
    let mut items = Vec::new();
    loop {
        match tokio::time::timeout(WAIT, stream.next())
            .await
            .expect("the stream ends in time")
        {
            Some(Ok(item)) => items.push(item),
            Some(Err(status)) => return (items, Some(status)),
            None => return (items, None),
        }
    }
}

#[tokio::test]
async fn awaiting_a_future_id_of_another_application_ends_as_an_unknown_id() {
    let (srv, _tokens) = server().await;
    let (mut alpha, mut ops) = (client_as(&srv.channel, ALPHA), client_as(&srv.channel, OPS));
    let await_one = |id: &str| AwaitWorkflowRequest {
        workflow_id: id.into(),
        timeout: seconds(4),
        ..Default::default()
    };
    let alpha_one = alpha.await_workflow(await_one("future-1")).await.unwrap();
    let alpha_many = alpha
        .await_workflows(AwaitWorkflowsRequest {
            workflow_ids: vec!["future-1".into(), "alpha-1".into()],
            mode: AwaitMode::All as i32,
            timeout: seconds(4),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut control = ops
        .await_workflow(AwaitWorkflowRequest {
            workflow_id: "future-1".into(),
            timeout: None,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    subscribed(&srv, 2).await;

    enqueue_as_ops(&srv, "future-1", "beta").await;
    enqueue_as_ops(&srv, "alpha-1", "alpha").await;
    finish_as_worker(&srv.db, "future-1", "\"beta's output\"").await;
    finish_as_worker(&srv.db, "alpha-1", "\"alpha's output\"").await;
    assert_eq!(
        outcome_of(&mut control).await,
        dbosd::pb::WorkflowStatus::Success,
        "beta's workflow finished while alpha waited"
    );

    let (items, end) = drain(alpha_one.into_inner()).await;
    assert!(items.is_empty(), "nothing of beta's: {items:?}");
    let unknown = alpha.await_workflow(await_one("never-1")).await.unwrap();
    let (_, unknown_end) = drain(unknown.into_inner()).await;
    same_as_unknown(
        "AwaitWorkflow",
        Code::DeadlineExceeded,
        (Err::<(), _>(end.expect("a deadline")), "future-1"),
        (Err(unknown_end.expect("a deadline")), "never-1"),
    );

    let (outcomes, end) = drain(alpha_many.into_inner()).await;
    let ids: Vec<String> = outcomes
        .into_iter()
        .map(|o| o.outcome.unwrap().workflow_id)
        .collect();
    assert_eq!(ids, ["alpha-1"], "only alpha's own outcome");
    assert_eq!(end.expect("a deadline").code(), Code::DeadlineExceeded);
    assert!(!format!("{ids:?}").contains("beta"));
    srv.stop().await;
}

#[tokio::test]
async fn get_event_and_watch_event_on_a_future_id_of_another_application_find_nothing() {
    let (srv, _tokens) = server().await;
    let (alpha, ops) = (client_as(&srv.channel, ALPHA), client_as(&srv.channel, OPS));
    let event = |timeout: i64| GetEventRequest {
        workflow_id: "future-2".into(),
        key: "k".into(),
        timeout: seconds(timeout),
    };
    let alpha_get = {
        let (mut alpha, req) = (alpha.clone(), event(5));
        tokio::spawn(async move { alpha.get_event(req).await })
    };
    let control = {
        let (mut ops, req) = (ops.clone(), event(WAIT.as_secs() as i64));
        tokio::spawn(async move { ops.get_event(req).await })
    };
    let watch = |id: &str| WatchEventRequest {
        workflow_id: id.into(),
        key: "k".into(),
        timeout: seconds(4),
        follow: false,
    };
    let alpha_watch = alpha.clone().watch_event(watch("future-2")).await.unwrap();
    subscribed(&srv, 1).await;

    enqueue_as_ops(&srv, "future-2", "beta").await;
    set_event_as_worker(&srv.db, "future-2", "k", "\"beta's value\"").await;
    let seen = control
        .await
        .unwrap()
        .expect("ops reads the event")
        .into_inner();
    assert!(seen.found, "beta's event was set while alpha waited");

    let got = alpha_get
        .await
        .unwrap()
        .expect("GetEvent answers")
        .into_inner();
    assert!(!got.found && got.value.is_none(), "{got:?}");

    let (values, end) = drain(alpha_watch.into_inner()).await;
    assert!(values.is_empty(), "nothing of beta's: {values:?}");
    let unknown = alpha.clone().watch_event(watch("never-2")).await.unwrap();
    let (_, unknown_end) = drain(unknown.into_inner()).await;
    same_as_unknown(
        "WatchEvent",
        Code::DeadlineExceeded,
        (Err::<(), _>(end.expect("a deadline")), "future-2"),
        (Err(unknown_end.expect("a deadline")), "never-2"),
    );
    srv.stop().await;
}

#[tokio::test]
async fn a_wait_on_an_own_future_id_still_gets_its_outcome() {
    let (srv, _tokens) = server().await;
    let mut alpha = client_as(&srv.channel, ALPHA);
    let stream = alpha
        .await_workflow(AwaitWorkflowRequest {
            workflow_id: "alpha-future".into(),
            timeout: None,
            ..Default::default()
        })
        .await
        .unwrap();
    subscribed(&srv, 1).await;
    enqueue_as_ops(&srv, "alpha-future", "alpha").await;
    finish_as_worker(&srv.db, "alpha-future", "\"done\"").await;
    let mut stream = stream.into_inner();
    let status = outcome_of(&mut stream).await;
    assert_eq!(status, dbosd::pb::WorkflowStatus::Success);
    srv.stop().await;
}
