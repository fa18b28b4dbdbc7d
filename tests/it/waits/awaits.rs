//! AwaitWorkflow and AwaitWorkflows: results pushed by the hub (one batched poll per tick for all
//! waiters), with the real DBOS Python worker.

use std::collections::HashSet;

use dbosd::pb::{
    self, await_workflow_response::Kind, AwaitMode, AwaitWorkflowRequest, AwaitWorkflowsRequest,
    WorkflowStatus,
};
use serde_json::json;
use tokio_stream::StreamExt;
use tonic::{Code, Streaming};

use crate::harness::{
    assert_status, enqueue_req, eventually, payload_json, TestServer, Worker, WorkerLang,
    WorkerOptions, WAIT,
};

fn await_req(id: &str, timeout_ms: Option<i64>) -> AwaitWorkflowRequest {
    AwaitWorkflowRequest {
        workflow_id: id.into(),
        timeout: timeout_ms.map(|ms| prost_types::Duration {
            seconds: ms / 1000,
            nanos: ((ms % 1000) * 1_000_000) as i32,
        }),
        ..Default::default()
    }
}

/// Reads an AwaitWorkflow stream to its end: the statuses seen and the outcome.
async fn drain(
    mut stream: Streaming<pb::AwaitWorkflowResponse>,
) -> (Vec<WorkflowStatus>, pb::WorkflowOutcome) {
    let mut statuses = Vec::new();
    loop {
        let msg = tokio::time::timeout(WAIT, stream.next())
            .await
            .expect("stream stalled");
        match msg
            .expect("stream ended without an outcome")
            .expect("stream error")
            .kind
        {
            Some(Kind::StatusUpdate(info)) => statuses.push(info.status()),
            Some(Kind::Outcome(outcome)) => {
                assert!(
                    tokio::time::timeout(WAIT, stream.next())
                        .await
                        .unwrap()
                        .is_none(),
                    "outcome is last"
                );
                return (statuses, outcome);
            }
            None => panic!("empty message"),
        }
    }
}

async fn results_are_awaited_before_the_start_while_running_and_after_the_end(lang: WorkerLang) {
    let mut srv = TestServer::start().await;
    let worker = Worker::start(lang, &srv.db.url, WorkerOptions::default()).await;
    // Before the workflow exists: DBOS clients wait for the row too.
    let early = srv
        .client
        .await_workflow(await_req("slow", None))
        .await
        .unwrap()
        .into_inner();
    let mut req = enqueue_req("sleepy", "test_queue", vec![json!(0.5)]);
    req.workflow_id = Some("slow".into());
    srv.client.enqueue_workflow(req).await.unwrap();
    eventually("the workflow to run", || {
        let mut c = srv.client.clone();
        async move {
            (crate::harness::get_workflow(&mut c, "slow").await.status() == WorkflowStatus::Pending)
                .then_some(())
        }
    })
    .await;
    let running = srv
        .client
        .await_workflow(await_req("slow", None))
        .await
        .unwrap()
        .into_inner();

    let (statuses, outcome) = drain(early).await;
    assert_eq!(
        statuses.last(),
        Some(&WorkflowStatus::Success),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&WorkflowStatus::Pending),
        "each status change is streamed: {statuses:?}"
    );
    assert_eq!(outcome.status(), WorkflowStatus::Success);
    assert_eq!(payload_json(&outcome.output), json!(0.5));
    let (statuses, outcome) = drain(running).await;
    assert_eq!(statuses.first(), Some(&WorkflowStatus::Pending));
    assert_eq!(payload_json(&outcome.output), json!(0.5));

    let after = srv
        .client
        .await_workflow(await_req("slow", Some(5_000)))
        .await
        .unwrap()
        .into_inner();
    let (statuses, outcome) = drain(after).await;
    assert_eq!(statuses, [WorkflowStatus::Success]);
    assert_eq!(payload_json(&outcome.output), json!(0.5));
    worker.stop().await;
    srv.stop().await;
}

async fn error_and_cancel_outcomes(lang: WorkerLang) {
    let mut srv = TestServer::start().await;
    let worker = Worker::start(lang, &srv.db.url, WorkerOptions::default()).await;
    let mut fail = enqueue_req("fail", "test_queue", vec![json!("boom"), json!(7)]);
    fail.workflow_id = Some("fails".into());
    srv.client.enqueue_workflow(fail).await.unwrap();
    let mut timed = enqueue_req("sleepy", "test_queue", vec![json!(30)]);
    timed.workflow_id = Some("times-out".into());
    timed.timeout = Some(prost_types::Duration {
        seconds: 1,
        nanos: 0,
    });
    srv.client.enqueue_workflow(timed).await.unwrap();

    let (_, outcome) = drain(
        srv.client
            .await_workflow(await_req("fails", None))
            .await
            .unwrap()
            .into_inner(),
    )
    .await;
    assert_eq!(outcome.status(), WorkflowStatus::Error);
    let err = outcome.error.expect("structured error");
    assert_eq!(
        (err.name.as_str(), err.message.as_str()),
        ("InteropError", "boom")
    );
    assert_eq!(err.code, Some(crate::harness::pv(json!(7))));
    let (_, outcome) = drain(
        srv.client
            .await_workflow(await_req("times-out", None))
            .await
            .unwrap()
            .into_inner(),
    )
    .await;
    assert_eq!(outcome.status(), WorkflowStatus::Cancelled);
    assert!(outcome.output.is_none() && outcome.error.is_none());
    worker.stop().await;
    srv.stop().await;
}

async fn await_workflows_first_and_all(lang: WorkerLang) {
    let mut srv = TestServer::start().await;
    let worker = Worker::start(lang, &srv.db.url, WorkerOptions::default()).await;
    let ids = ["w-0.2", "w-0.8", "w-1.4"];
    let first = srv
        .client
        .await_workflows(AwaitWorkflowsRequest {
            workflow_ids: ids.iter().map(|s| s.to_string()).collect(),
            mode: AwaitMode::First as i32,
            timeout: None,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let all = srv
        .client
        .await_workflows(AwaitWorkflowsRequest {
            workflow_ids: ids
                .iter()
                .chain(ids.iter())
                .map(|s| s.to_string())
                .collect(),
            mode: AwaitMode::All as i32,
            timeout: None,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    for id in ids {
        let secs: f64 = id[2..].parse().unwrap();
        let mut req = enqueue_req("sleepy", "test_queue", vec![json!(secs)]);
        req.workflow_id = Some(id.into());
        srv.client.enqueue_workflow(req).await.unwrap();
    }
    let collect = |s: Streaming<pb::AwaitWorkflowsResponse>| async move {
        tokio::time::timeout(
            WAIT,
            s.map(|m| m.unwrap().outcome.unwrap().workflow_id)
                .collect::<Vec<_>>(),
        )
        .await
        .expect("stream ends")
    };
    assert_eq!(collect(first).await, ["w-0.2"]);
    assert_eq!(
        collect(all).await,
        ids,
        "one outcome per workflow, in completion order, duplicates ignored"
    );
    worker.stop().await;
    srv.stop().await;
}

#[tokio::test]
async fn wait_errors_timeouts_and_hangups() {
    let mut srv = TestServer::start().await;
    let mut timed_out = srv
        .client
        .await_workflow(await_req("never", Some(300)))
        .await
        .unwrap()
        .into_inner();
    let status = tokio::time::timeout(WAIT, timed_out.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded);
    assert!(status.message().contains("never"), "{status:?}");
    assert_status(
        srv.client.await_workflow(await_req("", None)).await,
        Code::InvalidArgument,
        "workflow_id",
    );
    assert_status(
        srv.client.await_workflow(await_req("x", Some(-1))).await,
        Code::InvalidArgument,
        "timeout",
    );
    let none = AwaitWorkflowsRequest {
        workflow_ids: vec![],
        mode: AwaitMode::All as i32,
        timeout: None,
        ..Default::default()
    };
    assert_status(
        srv.client.await_workflows(none).await,
        Code::InvalidArgument,
        "workflow_ids",
    );
    let no_mode = AwaitWorkflowsRequest {
        workflow_ids: vec!["a".into()],
        mode: 0,
        timeout: None,
        ..Default::default()
    };
    assert_status(
        srv.client.await_workflows(no_mode).await,
        Code::InvalidArgument,
        "mode",
    );

    // A client that hangs up mid-wait frees its waiter at once.
    let hub = srv.hub.clone();
    eventually("no waiters", || async {
        (hub.waiting_keys() == 0).then_some(())
    })
    .await;
    let stream = srv
        .client
        .await_workflow(await_req("abandoned", None))
        .await
        .unwrap()
        .into_inner();
    eventually("the waiter to register", || async {
        (hub.waiting_keys() == 1).then_some(())
    })
    .await;
    drop(stream);
    eventually("the waiter to be freed", || async {
        (hub.waiting_keys() == 0).then_some(())
    })
    .await;
    srv.stop().await;
}

#[tokio::test]
async fn a_thousand_waiters_share_one_poll_query_per_tick() {
    let srv = TestServer::start().await;
    let hub = srv.hub.clone();
    let ids: Vec<String> = (0..1000).map(|i| format!("many-{i}")).collect();
    let mut streams = Vec::new();
    for id in &ids {
        let mut client = srv.client.clone();
        streams.push(
            client
                .await_workflow(await_req(id, None))
                .await
                .unwrap()
                .into_inner(),
        );
    }
    eventually("1000 waiters", || async {
        (hub.waiting_keys() == 1000).then_some(())
    })
    .await;
    let ticks = |h: &dbosd::hub::Hub| {
        h.stats
            .poll_ticks
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    // Counted by PostgreSQL, not by the hub: every transaction on the database (a per-waiter
    // re-read would make 1000 per tick; the batched poll one). Transactions, not index scans: the
    // poll looks each swept id up through the primary key, which PostgreSQL counts as one index
    // scan per id.
    let db = srv.db.client().await;
    let scans = || async {
        db.batch_execute("SELECT pg_stat_clear_snapshot()")
            .await
            .unwrap();
        db.query_one(
            "SELECT (xact_commit + xact_rollback)::bigint FROM pg_stat_database
             WHERE datname = current_database()",
            &[],
        )
        .await
        .unwrap()
        .get::<_, i64>(0)
    };
    let (t0, s0) = (ticks(&hub), scans().await);
    // A backend reports its statistics at most once a second, so both ends of the count may be up
    // to a second stale: over three seconds that error stays small against the 1000x a
    // per-waiter poll would show.
    let since = std::time::Instant::now();
    eventually("20 more ticks over three seconds", || async {
        (ticks(&hub) >= t0 + 20 && since.elapsed() >= std::time::Duration::from_secs(3))
            .then_some(())
    })
    .await;
    eventually("the polls reach PostgreSQL's statistics", || async {
        (scans().await > s0).then_some(())
    })
    .await;
    let (t1, s1) = (ticks(&hub), scans().await);
    let per_tick = (s1 - s0) as f64 / (t1 - t0) as f64;
    assert!(
        per_tick <= 4.0,
        "{} transactions over {} ticks for 1000 waiters: one batched poll per tick",
        s1 - s0,
        t1 - t0
    );

    // Finish them all at once (as a worker would): every stream gets its outcome.
    let mut db = srv.db.client().await;
    let tx = db.transaction().await.unwrap();
    tx.execute(
        "INSERT INTO dbos.workflow_status (workflow_uuid, status, name, queue_name, serialization)
         SELECT unnest($1::text[]), 'SUCCESS', 'echo', 'q', 'portable_json'",
        &[&ids],
    )
    .await
    .unwrap();
    tx.execute(
        "INSERT INTO dbos.workflow_output (workflow_uuid, output) SELECT unnest($1::text[]), '\"done\"'",
        &[&ids],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let mut finished = HashSet::new();
    for stream in streams {
        let (_, outcome) = drain(stream).await;
        assert_eq!(payload_json(&outcome.output), json!("done"));
        finished.insert(outcome.workflow_id);
    }
    assert_eq!(finished.len(), 1000);
    eventually("all waiters freed", || async {
        (hub.waiting_keys() == 0).then_some(())
    })
    .await;
    srv.stop().await;
}

on_both_workers!(
    results_are_awaited_before_the_start_while_running_and_after_the_end,
    error_and_cancel_outcomes,
    await_workflows_first_and_all,
);
