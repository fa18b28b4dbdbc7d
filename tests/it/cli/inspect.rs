//! `workflow describe|show|steps|result|count|delete|watch` on workflows a real DBOS Python worker
//! ran: the steps' timeline, outcomes and their exit codes, counts per status, a live watch.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};

use super::{assert_code, command, dbosd, json_out, text};
use crate::harness::{TestServer, Worker, WorkerLang, WorkerOptions};

#[tokio::test]
async fn describe_show_steps_result_count_delete_with_a_worker() {
    let srv = TestServer::start().await;
    let worker = Worker::start(WorkerLang::Python, &srv.db.url, WorkerOptions::default()).await;

    // Table output of a successful --await: the outcome, and no empty `error:` line.
    let out = dbosd(
        &srv,
        &["enqueue", "multi_step", "3", "--id", "ms-1", "--await"],
    )
    .await;
    assert_code(&out, 0);
    let table = text(&out.stdout);
    assert!(
        table.contains("SUCCESS") && table.contains("[0,1,2]"),
        "{table}"
    );
    assert!(!table.lines().any(|l| l.trim_end() == "error:"), "{table}");

    let out = dbosd(&srv, &["workflow", "describe", "ms-1"]).await;
    assert_code(&out, 0);
    let page = text(&out.stdout);
    for want in [
        "status:",
        "SUCCESS",
        "input:",
        "output:",
        "[0,1,2]",
        "TIMELINE",
        "step_value",
        "|",
    ] {
        assert!(page.contains(want), "{want}: {page}");
    }
    assert_eq!(page.matches("step_value").count(), 3, "{page}");
    let doc = json_out(
        &dbosd(&srv, &["workflow", "describe", "ms-1", "-o", "json"]).await,
        0,
    );
    assert_eq!(doc["steps"].as_array().map(Vec::len), Some(3), "{doc}");
    assert!(doc["steps"][0]["durationMs"].is_i64(), "{doc}");

    let out = dbosd(&srv, &["workflow", "show", "ms-1"]).await;
    assert_code(&out, 0);
    let page = text(&out.stdout);
    assert!(page.starts_with("ms-1 multi_step SUCCESS"), "{page}");
    assert!(
        page.lines().nth(1).is_some_and(|l| l.contains("DURATION")),
        "{page}"
    );

    let doc = json_out(
        &dbosd(
            &srv,
            &["workflow", "steps", "ms-1", "--payloads", "-o", "json"],
        )
        .await,
        0,
    );
    let names: Vec<&str> = doc
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["functionName"].as_str())
        .collect();
    assert_eq!(names.len(), 3, "{doc}");
    assert!(names.iter().all(|n| n.ends_with("step_value")), "{doc}");

    let doc = json_out(
        &dbosd(&srv, &["workflow", "result", "ms-1", "-o", "json"]).await,
        0,
    );
    assert_eq!(doc["output"], serde_json::json!([0, 1, 2]));

    // A failed workflow: result exits 1 and prints the error.
    let out = dbosd(&srv, &["enqueue", "fail", "boom", "--id", "ms-fail"]).await;
    assert_code(&out, 0);
    let doc = json_out(
        &dbosd(
            &srv,
            &[
                "workflow",
                "result",
                "ms-fail",
                "--timeout",
                "60",
                "-o",
                "json",
            ],
        )
        .await,
        1,
    );
    assert_eq!(doc["status"], "ERROR", "{doc}");
    assert!(doc["error"].to_string().contains("boom"), "{doc}");

    let doc = json_out(
        &dbosd(
            &srv,
            &["workflow", "count", "--prefix", "ms-", "-o", "json"],
        )
        .await,
        0,
    );
    assert_eq!(doc["total"], 2, "{doc}");
    assert_eq!(doc["byStatus"]["SUCCESS"], 1, "{doc}");
    assert_eq!(doc["byStatus"]["ERROR"], 1, "{doc}");

    let doc = json_out(
        &dbosd(&srv, &["workflow", "delete", "ms-fail", "-o", "json"]).await,
        0,
    );
    assert_eq!(doc["outcome"], "DELETED", "{doc}");
    let out = dbosd(&srv, &["workflow", "describe", "ms-fail"]).await;
    assert_code(&out, 1);
    assert!(
        text(&out.stderr).contains("NotFound"),
        "{}",
        text(&out.stderr)
    );

    worker.stop().await;
    srv.stop().await;
}

#[tokio::test]
async fn watch_prints_changes_as_they_happen() {
    let srv = TestServer::start().await;
    let mut cmd = command();
    cmd.args(["workflow", "watch", "--prefix", "wt-", "-o", "jsonl"])
        .env("DBOSD_ADDRESS", srv.addr.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut errors = BufReader::new(child.stderr.take().unwrap()).lines();
    // The watch says when it is open; then enqueue (no worker: it stays ENQUEUED) and cancel: two
    // changes.
    let ready = tokio::time::timeout(std::time::Duration::from_secs(30), errors.next_line()).await;
    let ready = ready
        .expect("watch opens")
        .expect("read")
        .unwrap_or_default();
    assert!(ready.starts_with("watching"), "{ready}");
    // The server may subscribe just after answering: enqueue until one is reported (each attempt
    // waits a bounded second for the line), then cancel that one.
    let mut first = None;
    for attempt in 0..30 {
        let id = format!("wt-{attempt}");
        assert_code(
            &dbosd(&srv, &["enqueue", "echo", "x", "--id", &id]).await,
            0,
        );
        let next = tokio::time::timeout(std::time::Duration::from_secs(1), lines.next_line()).await;
        if let Ok(line) = next {
            first = line.expect("read");
            break;
        }
    }
    let first = first.expect("an enqueued workflow is reported");
    let row: serde_json::Value = serde_json::from_str(&first).expect(&first);
    assert_eq!(row["status"], "ENQUEUED", "{row}");
    let id = row["workflowId"].as_str().unwrap().to_owned();
    assert_code(&dbosd(&srv, &["workflow", "cancel", &id]).await, 0);
    // Its cancellation follows (a late report of an earlier attempt may come first).
    let cancelled = async {
        while let Some(line) = lines.next_line().await.expect("read") {
            if line.contains(&id) && line.contains("CANCELLED") {
                return;
            }
        }
        panic!("the watch ended");
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), cancelled)
        .await
        .expect("the cancellation is reported");
    child.kill().await.expect("stop the watch");
    srv.stop().await;
}
