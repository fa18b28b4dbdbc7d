//! The console in real headless Chromium (Debian's /usr/bin/chromium driven by Playwright's Python
//! package from .venv-browser; tests/console/drive.py), against dbosd with tokens and a real
//! Python DBOS worker: the token is asked for, the list shows the workflows and their counts, `/`
//! searches, j and Enter open a workflow whose steps, output, events and children show, a waiting
//! workflow is cancelled through the confirmation (checked in the database), a bulk action shows
//! its dry-run count, the workflow's messages show received (with the step) and pending ones and its
//! stream keys list and read, the database picker switches to a second database and the URL carries
//! it, and a token scoped to another application sees none of it and reads PERMISSION_DENIED where
//! it may not call. Screenshots: target/console-screenshots/.

use std::io::Write;

use dbosd::pb::WorkflowStatus;
use serde_json::{json, Value};
use tokio::process::Command;

use crate::auth::setup::{client_as, ALPHA, OPS, TOKENS};

/// The authorization tests' tokens, with `ops` also granted every database of the fleet (a token
/// without `databases` may use the default one only).
fn console_tokens() -> String {
    let ops = r#""token": "tok-ops-5e2", "applications": ["*"]"#;
    assert!(TOKENS.contains(ops));
    TOKENS.replace(ops, &format!(r#"{ops}, "databases": ["*"]"#))
}
use crate::harness::{
    assert_success, enqueue_req, ensure_clients, eventually, payload_json, pv, repo_file,
    run_bounded, TestDb, TestServer, Worker, WorkerLang, WorkerOptions,
};

const DONE: &str = "console-order-7f3a";
const PARKED: &str = "console-parked-1";
const LIVE: &str = "console-live-1";
const SCHEDULE: &str = "console-nightly";
/// The second database of the fleet (in the same cluster) and a workflow only it holds.
const SECOND_DB: &str = "second";
const SECOND_ID: &str = "console-second-db-1";

#[tokio::test]
async fn a_person_lists_opens_and_cancels_workflows_in_the_console() {
    let mut tokens = tempfile::NamedTempFile::new().unwrap();
    tokens.write_all(console_tokens().as_bytes()).unwrap();
    let path = tokens.path().to_owned();
    let second = TestDb::new().await;
    let srv = TestServer::start_on(TestDb::new().await, |s| {
        s.ui = true;
        s.tokens_file = Some(path);
        s.databases = vec![crate::fleet::spec(SECOND_DB, &second.url)];
    })
    .await;
    let worker = Worker::start(WorkerLang::Python, &srv.db.url, WorkerOptions::default()).await;
    let mut ops = client_as(&srv.channel, OPS);

    // A workflow with steps, an event, a stream and two children, finished by a message.
    let mut req = enqueue_req(
        "leave_traces",
        "test_queue",
        vec![json!("progress"), json!("approval"), json!(2)],
    );
    req.workflow_id = Some(DONE.into());
    ops.enqueue_workflow(req).await.expect("enqueue");
    let db = srv.db.share();
    eventually("the children to finish", || async {
        let done = db
            .count(&format!(
                "SELECT count(*) FROM dbos.workflow_status \
                 WHERE parent_workflow_id = '{DONE}' AND status = 'SUCCESS'"
            ))
            .await;
        (done == 2).then_some(())
    })
    .await;
    ops.send_message(dbosd::pb::SendMessageRequest {
        destination_id: DONE.into(),
        topic: Some("approval".into()),
        message: Some(pv(json!("approved"))),
        ..Default::default()
    })
    .await
    .expect("send");
    eventually("the workflow to finish", || async {
        let n = db
            .count(&format!(
                "SELECT count(*) FROM dbos.workflow_status WHERE workflow_uuid = '{DONE}' AND status = 'SUCCESS'"
            ))
            .await;
        (n == 1).then_some(())
    })
    .await;
    // A message after the end: no recv takes it, it stays pending.
    ops.send_message(dbosd::pb::SendMessageRequest {
        destination_id: DONE.into(),
        topic: Some("late".into()),
        message: Some(pv(json!({"after": "the end"}))),
        ..Default::default()
    })
    .await
    .expect("send late");
    let done = get(&mut ops, DONE).await;
    assert_eq!(
        payload_json(&done.output),
        json!({"message": "approved", "children": [0, 1]})
    );
    // A workflow on a queue no worker polls: it waits, ENQUEUED, until the console cancels it.
    let mut req = enqueue_req("echo", "console_parked", vec![json!({"hello": "world"})]);
    req.workflow_id = Some(PARKED.into());
    ops.enqueue_workflow(req).await.expect("enqueue parked");

    // A schedule for the Python worker's `scheduled` workflow, paused and triggered in the console.
    ops.create_schedule(dbosd::pb::CreateScheduleRequest {
        schedule_name: SCHEDULE.into(),
        workflow_name: "scheduled".into(),
        cron: "0 3 * * *".into(),
        language: dbosd::pb::WorkerLanguage::Python.into(),
        ..Default::default()
    })
    .await
    .expect("create schedule");

    // A workflow only the second database holds (on a queue no worker polls).
    let on_second = crate::fleet::client_on(&srv, Some(SECOND_DB), Some(OPS));
    let mut req = enqueue_req("echo", "console_parked", vec![json!("second")]);
    req.workflow_id = Some(SECOND_ID.into());
    eventually("the second database to open", || {
        let mut client = on_second.clone();
        let req = req.clone();
        async move {
            match client.enqueue_workflow(req).await {
                Ok(_) => Some(()),
                Err(e) if matches!(e.code(), tonic::Code::Unavailable | tonic::Code::NotFound) => {
                    None
                }
                Err(e) => panic!("enqueue on {SECOND_DB}: {e:?}"),
            }
        }
    })
    .await;

    let seen = drive(&srv).await;
    assert_eq!(seen["console_errors"], json!([]), "{seen}");
    assert_eq!(seen["asked_for_token"], true, "{seen}");
    let listed = seen["list_ids"].as_array().expect("list ids");
    for id in [DONE, PARKED] {
        assert!(listed.contains(&json!(id)), "{id} listed: {seen}");
    }
    assert_eq!(seen["chips"]["ENQUEUED"], "1", "counts by status: {seen}");
    assert_eq!(seen["chips"]["ALL"], listed.len().to_string(), "{seen}");
    assert_eq!(seen["live"], true);
    assert_eq!(
        seen["live_banner"], "1 workflow changed or added — show",
        "WatchWorkflows announced the workflow enqueued while the list was open"
    );
    assert_eq!(seen["search_focused"], true, "`/` focuses the search");
    let search = seen["search_url"].as_str().unwrap();
    assert!(
        search.contains("#/workflows?prefix=console-order-7f"),
        "{search}"
    );
    assert_eq!(seen["selected"], DONE, "j moved the selection: {seen}");
    assert!(
        seen["detail_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("#/workflow/{DONE}")),
        "{seen}"
    );
    assert_eq!(seen["detail_status"], "SUCCESS");

    // The steps are the worker's, in order, with the children linked.
    let steps = seen["steps"].as_array().expect("steps");
    let names: Vec<&str> = steps.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names[0], "step_value", "{names:?}");
    assert!(names.contains(&"DBOS.recv"), "{names:?}");
    let children: Vec<String> = srv
        .db
        .texts(&format!(
            "SELECT workflow_uuid FROM dbos.workflow_status WHERE parent_workflow_id = '{DONE}' ORDER BY 1"
        ))
        .await;
    let mut linked: Vec<String> = steps
        .iter()
        .filter_map(|s| s["child"].as_str().map(str::to_owned))
        .collect();
    linked.sort();
    linked.dedup();
    assert_eq!(linked, children, "each child linked from its step");
    let mut shown_children: Vec<String> = serde_json::from_value(seen["children"].clone()).unwrap();
    shown_children.sort();
    assert_eq!(shown_children, children, "lineage lists the children");
    assert_eq!(
        seen["child_parent_link"],
        json!([DONE]),
        "a child links its parent"
    );
    let output: Value =
        serde_json::from_str(seen["output"].as_str().expect("output shown")).unwrap();
    assert_eq!(output, json!({"message": "approved", "children": [0, 1]}));
    let input: Value = serde_json::from_str(seen["input"].as_str().expect("input shown")).unwrap();
    assert_eq!(input["positionalArgs"], json!(["progress", "approval", 2]));
    assert_eq!(seen["events"], json!(["progress"]));

    // Messages: the one the workflow's recv took, at its recv step, and the one sent after it ended.
    let recv_step = srv
        .db
        .texts(&format!(
            "SELECT function_id::text FROM dbos.operation_outputs \
             WHERE workflow_uuid = '{DONE}' AND function_name = 'DBOS.recv'"
        ))
        .await;
    assert_eq!(
        seen["messages"],
        json!([
            {"topic": "approval", "consumed": true, "message": "\"approved\"",
             "state": format!("RECEIVED · step {}", recv_step[0])},
            {"topic": "late", "consumed": false, "message": "{\"after\":\"the end\"}",
             "state": "PENDING"},
        ]),
        "{seen}"
    );
    // The stream the workflow wrote and closed, listed by key, and read by a click.
    assert_eq!(
        seen["stream_keys"],
        json!([{"key": "progress", "count": "1 value", "state": "CLOSED"}])
    );
    assert_eq!(seen["stream_values"], json!(["\"v0\""]));

    // The database picker: both databases, the default chosen; the second one's list in its URL.
    assert_eq!(seen["db_options"], json!(["default", SECOND_DB]), "{seen}");
    assert_eq!(seen["db_selected_before"], "default");
    assert_eq!(seen["db_selected_after"], SECOND_DB);
    assert_eq!(seen["second_list_ids"], json!([SECOND_ID]), "{seen}");
    let url = seen["second_url"].as_str().unwrap();
    assert!(
        url.contains(&format!("/ui/?db={SECOND_DB}#/workflows")),
        "{url}"
    );
    assert_eq!(
        seen["second_detail_status"], "ENQUEUED",
        "the shared URL opens it"
    );

    // The cancel went through: the database says so, not just the page.
    assert_eq!(seen["parked_before"], "ENQUEUED");
    assert_eq!(seen["parked_after"], "CANCELLED");
    let parked = get(&mut ops, PARKED).await;
    assert_eq!(parked.status(), WorkflowStatus::Cancelled);
    assert_eq!(
        srv.db
            .count(&format!(
                "SELECT count(*) FROM dbos.workflow_status WHERE workflow_uuid = '{PARKED}' AND status = 'CANCELLED'"
            ))
            .await,
        1
    );

    // The bulk dry run (before the schedule's trigger) counted what the filter matched: the
    // workflow and its two children; dismissed, it deleted nothing.
    assert_eq!(seen["bulk_dry_run"], "3 workflows match; 3 would delete.");
    assert_eq!(
        srv.db
            .count(&format!(
                "SELECT count(*) FROM dbos.workflow_status WHERE status = 'SUCCESS' \
                 AND (workflow_uuid = '{DONE}' OR parent_workflow_id = '{DONE}')"
            ))
            .await,
        3,
        "nothing deleted"
    );

    // The schedule is paused in the database, and its trigger enqueued a workflow.
    let schedule = ops
        .get_schedule(dbosd::pb::GetScheduleRequest {
            schedule_name: SCHEDULE.into(),
        })
        .await
        .expect("GetSchedule")
        .into_inner()
        .schedule
        .expect("schedule");
    assert_eq!(schedule.status(), dbosd::pb::ScheduleStatus::Paused);
    let toast = seen["trigger_toast"].as_str().expect("trigger toast");
    let triggered = toast.trim_start_matches("Trigger: enqueued ");
    assert!(
        triggered.starts_with(&format!("sched-{SCHEDULE}-trigger-")),
        "{toast}"
    );
    assert_eq!(get(&mut ops, triggered).await.schedule_name, SCHEDULE);
    assert_eq!(seen["queues"]["test_queue"][0], "0", "{seen}");

    // The fork from the chosen step exists, forked from the workflow.
    let fork = get(&mut ops, seen["fork"]["id"].as_str().expect("fork id")).await;
    assert_eq!(fork.forked_from, DONE, "{seen}");
    assert_eq!(seen["fork"]["step"], "5", "the first echo step: {seen}");
    let copied = srv
        .db
        .count(&format!(
            "SELECT count(*) FROM dbos.operation_outputs WHERE workflow_uuid = '{}' AND function_id < 5",
            fork.workflow_id
        ))
        .await;
    assert_eq!(copied, 4, "the steps before the chosen one were copied");

    // A token for application alpha sees none of these workflows; the queue registry needs a
    // token for every application, and the page says permission denied.
    assert_eq!(seen["narrow_list_ids"], json!([]), "{seen}");
    assert_eq!(seen["narrow_databases"], "1", "{seen}");
    assert_eq!(seen["narrow_picker"], false, "one database: no picker");
    let denied = seen["narrow_queues_error"].as_str().unwrap();
    assert!(denied.starts_with("permission denied"), "{denied}");
    for shot in [
        "1-workflows",
        "2-workflow",
        "3-cancel-confirm",
        "4-bulk-dry-run",
        "5-queues",
        "7-permission-denied",
        "8-database-picker",
    ] {
        assert!(
            repo_file(&format!("target/console-screenshots/{shot}.png")).exists(),
            "{shot}"
        );
    }
    worker.stop().await;
    srv.stop().await;
    drop(second);
}

/// Runs tests/console/drive.py against `srv`; returns what it saw.
async fn drive(srv: &TestServer) -> Value {
    ensure_clients();
    let mut cmd = Command::new(repo_file(".venv-browser/bin/python"));
    cmd.arg(repo_file("tests/console/drive.py"))
        .args(["--base", &format!("http://{}", srv.addr)])
        .args(["--token", OPS, "--narrow-token", ALPHA])
        .args(["--done", DONE, "--parked", PARKED])
        .args(["--live-id", LIVE, "--schedule", SCHEDULE])
        .args(["--second-db", SECOND_DB, "--second-id", SECOND_ID])
        .arg("--shots")
        .arg(repo_file("target/console-screenshots"));
    let out = run_bounded(cmd, "the console driver").await;
    assert_success(&out, "the console driver");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "driver output is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Reads a workflow through dbosd with the all-applications token.
async fn get(ops: &mut crate::auth::setup::Client, id: &str) -> dbosd::pb::WorkflowInfo {
    ops.get_workflow(dbosd::pb::GetWorkflowRequest {
        workflow_id: id.into(),
        ..Default::default()
    })
    .await
    .expect("GetWorkflow")
    .into_inner()
    .workflow
    .expect("workflow")
}
