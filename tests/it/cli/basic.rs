//! The first-try path: enqueue, await, get, list, send, cancel, resume, fork, and an unreachable
//! address, with a real DBOS Python worker where a workflow must run.

use tokio::process::Command;

use super::{command, dbosd, json_out, text};
use crate::harness::{run_bounded, TestServer, Worker, WorkerLang, WorkerOptions};

#[tokio::test]
async fn enqueue_await_get_list_and_send_with_a_worker() {
    let srv = TestServer::start().await;
    let worker = Worker::start(WorkerLang::Python, &srv.db.url, WorkerOptions::default()).await;

    let out = dbosd(
        &srv,
        &[
            "enqueue", "add", "2", "--named", "b=40", "--id", "cli-1", "--await", "-o", "json",
        ],
    )
    .await;
    let doc = json_out(&out, 0);
    assert_eq!(doc["status"], "SUCCESS", "{doc}");
    assert_eq!(doc["output"], 42, "{doc}");
    let progress = text(&out.stderr);
    assert!(
        progress.contains("cli-1 SUCCESS"),
        "no progress line:\n{progress}"
    );

    let doc = json_out(
        &dbosd(&srv, &["workflow", "get", "cli-1", "--output", "json"]).await,
        0,
    );
    assert_eq!(doc["workflowName"], "add");
    assert_eq!(doc["input"]["namedArgs"]["b"], 40, "{doc}");

    let out = dbosd(
        &srv,
        &["enqueue", "wait_recv", "greeting", "60", "--id", "cli-2"],
    )
    .await;
    assert!(
        text(&out.stdout).contains("CREATED"),
        "{}",
        text(&out.stdout)
    );
    let doc = json_out(
        &dbosd(
            &srv,
            &[
                "send",
                "cli-2",
                r#"{"hello":"world"}"#,
                "--topic",
                "greeting",
                "-o",
                "json",
            ],
        )
        .await,
        0,
    );
    assert_eq!(doc["delivered"], true);
    let doc = json_out(
        &dbosd(
            &srv,
            &[
                "workflow",
                "await",
                "cli-2",
                "--timeout",
                "60",
                "-o",
                "json",
            ],
        )
        .await,
        0,
    );
    assert_eq!(doc["output"]["hello"], "world", "{doc}");

    let out = dbosd(
        &srv,
        &["workflow", "list", "--prefix", "cli-", "--oldest-first"],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("WORKFLOW ID") && lines[0].contains("STATUS"),
        "{table}"
    );
    assert!(
        lines[1].starts_with("cli-1") && lines[1].contains("SUCCESS") && lines[1].contains("add"),
        "{table}"
    );
    assert!(
        lines[2].starts_with("cli-2") && lines[2].contains("wait_recv"),
        "{table}"
    );

    worker.stop().await;
    srv.stop().await;
}

#[tokio::test]
async fn await_times_out_then_cancel_resume_and_fork() {
    let srv = TestServer::start().await;
    // No worker: the workflow stays ENQUEUED.
    let doc = json_out(
        &dbosd(
            &srv,
            &["enqueue", "echo", "hi", "--id", "idle-1", "-o", "json"],
        )
        .await,
        0,
    );
    assert_eq!(doc["status"], "ENQUEUED");

    let out = dbosd(&srv, &["workflow", "await", "idle-1", "--timeout", "1"]).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("idle-1 ENQUEUED"),
        "{}",
        text(&out.stderr)
    );

    let doc = json_out(
        &dbosd(&srv, &["workflow", "cancel", "idle-1", "-o", "json"]).await,
        0,
    );
    assert_eq!(doc["outcome"], "CANCELLED", "{doc}");
    assert_eq!(doc["previousStatus"], "ENQUEUED", "{doc}");
    let doc = json_out(
        &dbosd(&srv, &["workflow", "await", "idle-1", "-o", "json"]).await,
        1,
    );
    assert_eq!(doc["status"], "CANCELLED", "{doc}");

    let out = dbosd(&srv, &["workflow", "resume", "idle-1"]).await;
    let table = text(&out.stdout);
    assert!(out.status.success() && table.contains("RESUMED"), "{table}");

    let doc = json_out(
        &dbosd(
            &srv,
            &[
                "workflow",
                "fork",
                "idle-1",
                "--new-id",
                "idle-fork",
                "-o",
                "json",
            ],
        )
        .await,
        0,
    );
    assert_eq!(doc["outcome"], "FORKED", "{doc}");
    assert_eq!(doc["forkedWorkflowId"], "idle-fork", "{doc}");
    let doc = json_out(
        &dbosd(&srv, &["workflow", "get", "idle-fork", "-o", "json"]).await,
        0,
    );
    assert_eq!(doc["forkedFrom"], "idle-1", "{doc}");

    let doc = json_out(
        &dbosd(
            &srv,
            &["workflow", "list", "--status", "enqueued", "-o", "json"],
        )
        .await,
        0,
    );
    let ids: Vec<&str> = doc
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w["workflowId"].as_str())
        .collect();
    assert_eq!(ids, ["idle-fork", "idle-1"], "newest first: {doc}");

    let out = dbosd(&srv, &["workflow", "get", "no-such-workflow"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("NotFound"),
        "{}",
        text(&out.stderr)
    );
    srv.stop().await;
}

#[tokio::test]
async fn an_unreachable_address_fails_in_one_line() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let mut cmd: Command = command();
    cmd.args(["workflow", "list", "--address", &addr.to_string()]);
    let out = run_bounded(cmd, "dbosd workflow list").await;
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("dbosd: cannot connect to dbosd at http://"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}
