//! The worker runs what dbosd enqueues, honouring every queue option, and dbosd reads back what the
//! worker wrote: results, errors, messages and events.

use dbosd::pb::{self, DeduplicationPolicy, EnqueueOutcome, WorkflowStatus};
use serde_json::json;
use tonic::Code;

use super::{enqueue, wait_running, with_id, with_worker};
use crate::harness::{
    assert_status, enqueue_req, get_workflow, payload_json, pv, register_queue, wait_terminal,
    TestServer, Worker, WorkerLang, WorkerOptions,
};

on_both_workers!(
    worker_runs_enqueued_workflows_with_positional_and_named_args,
    messages_reach_recv_and_events_set_by_the_worker_are_read,
    a_raised_error_reads_back_as_a_structured_error,
    deduplication_holds_while_active_and_releases_on_completion,
    priority_orders_a_concurrency_one_queue,
    delay_and_timeout_are_honoured_by_the_worker,
    app_version_pins_which_worker_dequeues,
);

async fn worker_runs_enqueued_workflows_with_positional_and_named_args(lang: WorkerLang) {
    let (mut srv, worker) = with_worker(lang).await;
    let echo = enqueue(
        &mut srv,
        enqueue_req(
            "echo",
            "test_queue",
            vec![json!({"msg": "hi", "n": [1, 2.5, null]})],
        ),
    )
    .await;
    let positional = enqueue(
        &mut srv,
        enqueue_req("add", "test_queue", vec![json!(2), json!(40)]),
    )
    .await;
    let mut named = enqueue_req("add", "test_queue", vec![json!(2)]);
    named.named_args = Some(prost_types::Struct {
        fields: [("b".to_owned(), pv(json!(40)))].into_iter().collect(),
    });
    let named = enqueue(&mut srv, named).await;
    // Raw inputs: the envelope's keys are optional (here no namedArgs), as with the SQL API.
    let mut raw = enqueue_req("add", "_dbos_internal_queue", vec![]);
    raw.inputs_json = r#"{"positionalArgs":[1.5,2]}"#.into();
    let raw = enqueue(&mut srv, raw).await;

    let done = wait_terminal(&srv.client, &echo).await;
    assert_eq!(done.status(), WorkflowStatus::Success);
    assert_eq!(
        payload_json(&done.output),
        json!({"msg": "hi", "n": [1, 2.5, null]})
    );
    assert_eq!(done.serialization, "portable_json");
    assert!(
        done.executor_id.starts_with(lang.label()),
        "the worker stamped its executor id: {:?}",
        done.executor_id
    );
    assert!(done.dequeued_at.is_some() && done.completed_at.is_some());
    assert_eq!(done.recovery_attempts, 1);
    let done = wait_terminal(&srv.client, &positional).await;
    assert_eq!(payload_json(&done.output), json!(42));
    // TypeScript workflows take positional arguments only: the TS worker drops namedArgs, so
    // add(2, b=40) runs as add(2, undefined), which is NaN, which JSON writes as null.
    let done = wait_terminal(&srv.client, &named).await;
    assert_eq!(done.status(), WorkflowStatus::Success);
    let expected = if lang.reads_named_args() {
        json!(42)
    } else {
        json!(null)
    };
    assert_eq!(payload_json(&done.output), expected);
    let done = wait_terminal(&srv.client, &raw).await;
    assert_eq!(payload_json(&done.output), json!(3.5));
    worker.stop().await;
    srv.stop().await;
}

async fn messages_reach_recv_and_events_set_by_the_worker_are_read(lang: WorkerLang) {
    let (mut srv, worker) = with_worker(lang).await;
    let receiver = enqueue(
        &mut srv,
        enqueue_req(
            "wait_recv",
            "test_queue",
            vec![json!("greetings"), json!(30)],
        ),
    )
    .await;
    wait_running(&srv, &receiver).await;
    let send = pb::SendMessageRequest {
        destination_id: receiver.clone(),
        topic: Some("greetings".into()),
        message: Some(pv(json!({"from": "dbosd"}))),
        idempotency_key: Some("once".into()),
        ..Default::default()
    };
    srv.client.send_message(send.clone()).await.unwrap();
    assert!(
        !srv.client
            .send_message(send)
            .await
            .unwrap()
            .into_inner()
            .delivered
    );
    let done = wait_terminal(&srv.client, &receiver).await;
    assert_eq!(payload_json(&done.output), json!({"from": "dbosd"}));

    // GetEvent waits for a value the worker sets after the call started.
    let setter_id = "event-setter".to_owned();
    let mut waiter = srv.client.clone();
    let wait_id = setter_id.clone();
    let wait = tokio::spawn(async move {
        waiter
            .get_event(pb::GetEventRequest {
                workflow_id: wait_id,
                key: "progress".into(),
                timeout: Some(prost_types::Duration {
                    seconds: 30,
                    nanos: 0,
                }),
            })
            .await
    });
    enqueue(
        &mut srv,
        with_id(
            enqueue_req(
                "set_event_wf",
                "test_queue",
                vec![json!("progress"), json!({"pct": 50})],
            ),
            &setter_id,
        ),
    )
    .await;
    let got = tokio::time::timeout(crate::harness::WAIT, wait)
        .await
        .unwrap()
        .unwrap()
        .unwrap()
        .into_inner();
    assert!(got.found);
    assert_eq!(got.value.unwrap().json, Some(pv(json!({"pct": 50}))));
    worker.stop().await;
    srv.stop().await;
}

async fn a_raised_error_reads_back_as_a_structured_error(lang: WorkerLang) {
    let (mut srv, worker) = with_worker(lang).await;
    let id = enqueue(
        &mut srv,
        enqueue_req(
            "fail",
            "test_queue",
            vec![json!("boom"), json!("E_INTEROP")],
        ),
    )
    .await;
    let no_code = enqueue(
        &mut srv,
        enqueue_req("fail", "test_queue", vec![json!("no code")]),
    )
    .await;
    let done = wait_terminal(&srv.client, &id).await;
    assert_eq!(done.status(), WorkflowStatus::Error);
    let err = done.error.expect("error");
    assert_eq!(err.name, "InteropError");
    assert_eq!(err.message, "boom");
    assert_eq!(err.code, Some(pv(json!("E_INTEROP"))));
    assert!(done.output.is_none());
    // An error without a code: Python records `"code":null`, TypeScript leaves the key out.
    let err = wait_terminal(&srv.client, &no_code).await.error.unwrap();
    assert_eq!(err.message, "no code");
    let expected = match lang {
        WorkerLang::Python => Some(pv(json!(null))),
        WorkerLang::TypeScript => None,
    };
    assert_eq!(err.code, expected, "stored {:?}", err.payload);
    worker.stop().await;
    srv.stop().await;
}

async fn deduplication_holds_while_active_and_releases_on_completion(lang: WorkerLang) {
    let (mut srv, worker) = with_worker(lang).await;
    let mut holder = with_id(
        enqueue_req("blocker", "test_queue", vec![json!("release")]),
        "holder",
    );
    holder.deduplication_id = Some("job-42".into());
    enqueue(&mut srv, holder.clone()).await;
    wait_running(&srv, "holder").await;
    let mut second = with_id(holder.clone(), "second");
    assert_status(
        srv.client.enqueue_workflow(second.clone()).await,
        Code::AlreadyExists,
        "job-42",
    );
    second.deduplication_policy = DeduplicationPolicy::ReturnExisting as i32;
    let resp = srv
        .client
        .enqueue_workflow(second.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (resp.workflow_id.as_str(), resp.outcome()),
        ("holder", EnqueueOutcome::Deduplicated)
    );

    srv.client
        .send_message(pb::SendMessageRequest {
            destination_id: "holder".into(),
            topic: Some("release".into()),
            message: Some(pv(json!("go"))),
            ..Default::default()
        })
        .await
        .unwrap();
    let done = wait_terminal(&srv.client, "holder").await;
    assert_eq!(payload_json(&done.output), json!("go"));
    assert!(
        done.deduplication_id.is_empty(),
        "the worker clears the deduplication id on completion"
    );
    second.deduplication_policy = DeduplicationPolicy::Reject as i32;
    second.workflow_name = "echo".into();
    let resp = srv
        .client
        .enqueue_workflow(second)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.outcome(), EnqueueOutcome::Created);
    assert_eq!(
        wait_terminal(&srv.client, "second").await.status(),
        WorkflowStatus::Success
    );
    worker.stop().await;
    srv.stop().await;
}

async fn priority_orders_a_concurrency_one_queue(lang: WorkerLang) {
    let (mut srv, worker) = with_worker(lang).await;
    // The blocker holds serial_queue (concurrency 1) while the prioritized workflows are enqueued.
    enqueue(
        &mut srv,
        with_id(
            enqueue_req("blocker", "serial_queue", vec![json!("go")]),
            "block",
        ),
    )
    .await;
    wait_running(&srv, "block").await;
    for (id, priority) in [("p5", 5), ("p1", 1), ("p3", 3), ("p0", 0)] {
        let mut req = with_id(enqueue_req("stamp", "serial_queue", vec![json!(id)]), id);
        if priority > 0 {
            req.priority = Some(priority);
        }
        enqueue(&mut srv, req).await;
    }
    srv.client
        .send_message(pb::SendMessageRequest {
            destination_id: "block".into(),
            topic: Some("go".into()),
            message: Some(pv(json!(null))),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut started = Vec::new();
    for id in ["p0", "p1", "p3", "p5"] {
        let done = wait_terminal(&srv.client, id).await;
        assert_eq!(payload_json(&done.output), json!({"tag": id}));
        let at = done.dequeued_at.expect("dequeued_at");
        started.push(((at.seconds, at.nanos), id));
    }
    started.sort();
    let order: Vec<&str> = started.iter().map(|(_, id)| *id).collect();
    assert_eq!(
        order,
        ["p0", "p1", "p3", "p5"],
        "lower priority value runs first"
    );
    worker.stop().await;
    srv.stop().await;
}

async fn delay_and_timeout_are_honoured_by_the_worker(lang: WorkerLang) {
    let (mut srv, worker) = with_worker(lang).await;
    let mut delayed = with_id(
        enqueue_req("echo", "test_queue", vec![json!("late")]),
        "delayed",
    );
    delayed.delay = Some(prost_types::Duration {
        seconds: 1,
        nanos: 500_000_000,
    });
    let resp = srv
        .client
        .enqueue_workflow(delayed)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.status(), WorkflowStatus::Delayed);

    let mut timed = with_id(
        enqueue_req("sleepy", "test_queue", vec![json!(30)]),
        "timed",
    );
    timed.timeout = Some(prost_types::Duration {
        seconds: 1,
        nanos: 0,
    });
    enqueue(&mut srv, timed).await;

    let done = wait_terminal(&srv.client, "delayed").await;
    assert_eq!(done.status(), WorkflowStatus::Success);
    let created = done.created_at.unwrap();
    let dequeued = done.dequeued_at.unwrap();
    let waited_ms = (dequeued.seconds - created.seconds) * 1000
        + i64::from(dequeued.nanos - created.nanos) / 1_000_000;
    assert!(
        waited_ms >= 1400,
        "dequeued {waited_ms} ms after enqueue, before the delay ended"
    );

    let done = wait_terminal(&srv.client, "timed").await;
    assert_eq!(
        done.status(),
        WorkflowStatus::Cancelled,
        "the worker cancels a workflow past its timeout"
    );
    assert!(
        done.deadline.is_some(),
        "the worker set the deadline from the timeout at dequeue"
    );
    worker.stop().await;
    srv.stop().await;
}

async fn app_version_pins_which_worker_dequeues(lang: WorkerLang) {
    let srv_db = crate::harness::TestDb::new().await;
    let mut srv = TestServer::start_on(srv_db, |_| {}).await;
    register_queue(&srv.db, "versioned_queue", None).await;
    let worker = Worker::start(
        lang,
        &srv.db.url,
        WorkerOptions {
            app_version: Some("v1".into()),
            ..Default::default()
        },
    )
    .await;
    let mut pinned_other = with_id(
        enqueue_req("echo", "versioned_queue", vec![json!("v2 only")]),
        "pinned-v2",
    );
    pinned_other.app_version = Some("v2".into());
    enqueue(&mut srv, pinned_other).await;
    let mut pinned_mine = with_id(
        enqueue_req("echo", "versioned_queue", vec![json!("v1")]),
        "pinned-v1",
    );
    pinned_mine.app_version = Some("v1".into());
    enqueue(&mut srv, pinned_mine).await;
    let unpinned = enqueue(
        &mut srv,
        enqueue_req("echo", "versioned_queue", vec![json!("latest")]),
    )
    .await;

    assert_eq!(
        payload_json(&wait_terminal(&srv.client, "pinned-v1").await.output),
        json!("v1")
    );
    let done = wait_terminal(&srv.client, &unpinned).await;
    assert_eq!(
        done.app_version, "v1",
        "unpinned work runs on the latest version"
    );
    // pinned-v2 was enqueued first, so every dequeue that took the later rows passed it over.
    let waiting = get_workflow(&mut srv.client, "pinned-v2").await;
    assert_eq!(waiting.status(), WorkflowStatus::Enqueued);
    assert_eq!(waiting.app_version, "v2");
    worker.stop().await;
    srv.stop().await;
}
