//! Concurrent EnqueueWorkflow calls sharing statements: each call still gets the outcome it would
//! get alone (created, existing, deduplicated, rejected), real workers run exactly what each call
//! asked for, a call that gave up before its write began writes nothing, and a lost enqueue
//! session (the prepared statement's connection) is replaced without failing a call.

use std::time::Duration;

use dbosd::pb::{self, EnqueueOutcome};
use futures::future::join_all;
use serde_json::json;
use tonic::Code;

use crate::harness::{
    assert_status, enqueue_req, eventually, payload_json, telemetry_sample, wait_terminal, TestDb,
    TestServer, Worker, WorkerLang, WorkerOptions,
};

/// A server whose enqueues go through ONE statement at a time, so concurrent calls must share.
async fn one_slot_server() -> TestServer {
    TestServer::start_on(TestDb::new().await, |s| s.enqueue_slots = 1).await
}

fn call(id: &str, workflow: &str, arg: serde_json::Value) -> pb::EnqueueWorkflowRequest {
    let mut req = enqueue_req(workflow, "test_queue", vec![arg]);
    req.workflow_id = Some(id.to_owned());
    req
}

/// Sends every request at once and returns each call's result, in order.
async fn all_at_once(
    srv: &TestServer,
    reqs: Vec<pb::EnqueueWorkflowRequest>,
) -> Vec<Result<pb::EnqueueWorkflowResponse, tonic::Status>> {
    join_all(reqs.into_iter().map(|req| {
        let mut client = srv.client.clone();
        async move { client.enqueue_workflow(req).await.map(|r| r.into_inner()) }
    }))
    .await
}

#[tokio::test]
async fn concurrent_calls_share_statements() {
    let srv = one_slot_server().await;
    let reqs = (0..64)
        .map(|i| call(&format!("shared-{i}"), "echo", json!(i)))
        .collect();
    for done in all_at_once(&srv, reqs).await {
        assert_eq!(done.expect("enqueue").outcome(), EnqueueOutcome::Created);
    }
    let scrape = srv.scrape().await;
    let workflows = telemetry_sample(&scrape, "dbosd_enqueue_workflows_total").unwrap_or(0.0);
    let statements = telemetry_sample(&scrape, "dbosd_enqueue_statements_total").unwrap_or(0.0);
    assert_eq!(workflows, 64.0, "{scrape}");
    assert!(
        statements < workflows,
        "64 simultaneous calls on one slot must share statements: {statements} statements"
    );
    // Each row holds its own call's input.
    let db = srv.db.client().await;
    for row in db
        .query("SELECT workflow_uuid, inputs FROM dbos.workflow_input", &[])
        .await
        .unwrap()
    {
        let (id, input): (String, String) = (row.get(0), row.get(1));
        let i = id.trim_start_matches("shared-");
        let args: serde_json::Value = serde_json::from_str(&input).unwrap();
        assert_eq!(args["positionalArgs"][0].to_string(), i, "{id}: {input}");
    }
    assert_eq!(
        srv.db
            .count("SELECT count(*) FROM dbos.workflow_status")
            .await,
        64
    );
    srv.stop().await;
}

#[tokio::test]
async fn each_call_in_a_shared_statement_gets_its_own_outcome() {
    let srv = one_slot_server().await;
    let mut taken = srv.client.clone();
    taken
        .enqueue_workflow(call("taken", "add", json!(1)))
        .await
        .expect("first enqueue");
    let mut reqs: Vec<_> = (0..40)
        .map(|i| call(&format!("plain-{i}"), "echo", json!(i)))
        .collect();
    // Five calls for one id, five for one deduplication id, one for an id held by another workflow.
    reqs.extend((0..5).map(|i| call("same", "echo", json!(i))));
    reqs.extend((0..5).map(|i| {
        let mut req = call(&format!("dedup-{i}"), "echo", json!(i));
        req.deduplication_id = Some("d".into());
        req
    }));
    reqs.push(call("taken", "echo", json!(2)));
    let results = all_at_once(&srv, reqs).await;

    let outcome = |r: &Result<pb::EnqueueWorkflowResponse, tonic::Status>| {
        r.as_ref().map(|r| r.outcome()).map_err(|s| s.code())
    };
    for r in &results[..40] {
        assert_eq!(outcome(r), Ok(EnqueueOutcome::Created), "{r:?}");
    }
    let same: Vec<_> = results[40..45].iter().map(outcome).collect();
    assert_eq!(
        same.iter()
            .filter(|o| **o == Ok(EnqueueOutcome::Created))
            .count(),
        1,
        "{same:?}"
    );
    assert_eq!(
        same.iter()
            .filter(|o| **o == Ok(EnqueueOutcome::Existing))
            .count(),
        4,
        "{same:?}"
    );
    let dedup: Vec<_> = results[45..50].iter().map(outcome).collect();
    assert_eq!(
        dedup
            .iter()
            .filter(|o| **o == Ok(EnqueueOutcome::Created))
            .count(),
        1,
        "{dedup:?}"
    );
    assert_eq!(
        dedup
            .iter()
            .filter(|o| **o == Err(Code::AlreadyExists))
            .count(),
        4,
        "{dedup:?}"
    );
    assert_status(
        results[50].clone(),
        Code::AlreadyExists,
        "different workflow name",
    );
    // 40 plain, one "same", one deduplication holder, the earlier "taken": nothing else.
    for table in ["workflow_status", "workflow_input"] {
        let rows = srv
            .db
            .count(&format!("SELECT count(*) FROM dbos.{table}"))
            .await;
        assert_eq!(rows, 43, "{table}");
    }
    srv.stop().await;
}

#[tokio::test]
async fn a_call_that_timed_out_waiting_for_a_statement_writes_nothing() {
    // The server's own deadline ends calls, so the handler is gone before the caller hears of it.
    let srv = TestServer::start_on(TestDb::new().await, |s| {
        s.enqueue_slots = 1;
        s.rpc_timeout = Some(Duration::from_millis(500));
    })
    .await;
    // Hold the table so the only statement slot blocks on it.
    let mut locker = srv.db.client().await;
    let lock = locker.transaction().await.unwrap();
    lock.batch_execute("LOCK TABLE dbos.workflow_status IN SHARE MODE")
        .await
        .unwrap();
    let mut first = srv.client.clone();
    let running = tokio::spawn(async move {
        first
            .enqueue_workflow(call("was-running", "echo", json!(1)))
            .await
    });
    eventually("the first enqueue to wait on the lock", || async {
        let waiting = srv
            .db
            .count("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            .await;
        (waiting > 0).then_some(())
    })
    .await;
    let mut second = srv.client.clone();
    assert_status(
        second
            .enqueue_workflow(call("never-started", "echo", json!(2)))
            .await,
        Code::DeadlineExceeded,
        "",
    );
    assert_status(running.await.unwrap(), Code::DeadlineExceeded, "");
    lock.rollback().await.unwrap();
    // The slot frees once the running statement ends; the call that never started was dropped.
    let later = srv.client.clone();
    eventually("an enqueue after the lock is gone", || {
        let mut later = later.clone();
        async move {
            later
                .enqueue_workflow(call("after", "echo", json!(3)))
                .await
                .ok()
        }
    })
    .await;
    // A statement already running when its caller's deadline passed still completes.
    assert_eq!(srv.db.workflow_ids().await, ["after", "was-running"]);
    srv.stop().await;
}

async fn workers_run_what_each_shared_call_asked_for(lang: WorkerLang) {
    let srv = one_slot_server().await;
    let worker = Worker::start(lang, &srv.db.url, WorkerOptions::default()).await;
    let reqs = (0..30)
        .map(|i| call(&format!("run-{i}"), "echo", json!({"i": i})))
        .collect();
    for done in all_at_once(&srv, reqs).await {
        done.expect("enqueue");
    }
    for i in 0..30 {
        let done = wait_terminal(&srv.client, &format!("run-{i}")).await;
        assert_eq!(payload_json(&done.output), json!({"i": i}));
    }
    worker.stop().await;
    srv.stop().await;
}

on_both_workers!(workers_run_what_each_shared_call_asked_for);

#[tokio::test]
async fn a_lost_enqueue_session_is_replaced_without_failing_a_call() {
    let srv = one_slot_server().await;
    let mut client = srv.client.clone();
    client
        .enqueue_workflow(call("before", "echo", json!(1)))
        .await
        .expect("first enqueue opens the session");
    // Pooled connections run the same statement when a session is lost: tell the session by name.
    let sessions = "SELECT pid::text FROM pg_stat_activity \
                    WHERE datname = current_database() AND application_name = 'dbosd enqueue session'";
    let old = srv.db.texts(sessions).await;
    assert_eq!(old.len(), 1, "one enqueue session: {old:?}");
    srv.db
        .count(&format!(
            "SELECT count(*) FROM pg_terminate_backend({})",
            old[0]
        ))
        .await;
    for i in 0..3 {
        client
            .enqueue_workflow(call(&format!("after-{i}"), "echo", json!(i)))
            .await
            .expect("an enqueue after the session was lost");
    }
    let new = srv.db.texts(sessions).await;
    assert!(
        new.len() == 1 && new != old,
        "a new session replaced {old:?}: {new:?}"
    );
    assert_eq!(srv.db.workflow_ids().await.len(), 4);
    srv.stop().await;
}

#[tokio::test]
async fn large_inputs_are_split_across_statements() {
    let srv = one_slot_server().await;
    // Each just under --max-payload-bytes (1 MiB) as stored.
    let big = "x".repeat((1 << 20) - 1024);
    let reqs = (0..8)
        .map(|i| call(&format!("big-{i}"), "echo", json!(format!("{i}{big}"))))
        .collect();
    for done in all_at_once(&srv, reqs).await {
        assert_eq!(done.expect("enqueue").outcome(), EnqueueOutcome::Created);
    }
    let scrape = srv.scrape().await;
    let statements = telemetry_sample(&scrape, "dbosd_enqueue_statements_total").unwrap_or(0.0);
    // Each combined statement is one transaction, so its rows share an xmin: the workflows each
    // statement carried, as PostgreSQL saw them.
    let mut carried: Vec<usize> = srv
        .db
        .texts("SELECT count(*)::text FROM dbos.workflow_input GROUP BY xmin::text")
        .await
        .iter()
        .map(|n| n.parse().unwrap())
        .collect();
    carried.sort();
    assert_eq!(carried.len() as f64, statements, "{carried:?}");
    // A statement takes calls until their inputs reach 4 MiB: at most five of these (each just
    // under 1 MiB), so eight take two statements or more however they arrive.
    assert!(
        carried.len() >= 2 && carried.iter().all(|&n| n <= 5),
        "workflows per statement: {carried:?}"
    );
    let sizes = srv
        .db
        .texts("SELECT length(inputs)::text FROM dbos.workflow_input")
        .await;
    assert_eq!(sizes.len(), 8);
    assert!(
        sizes
            .iter()
            .all(|s| s.parse::<usize>().unwrap() > (1 << 20) - 1024),
        "{sizes:?}"
    );
    srv.stop().await;
}
