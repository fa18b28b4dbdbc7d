//! `dbosd workflow messages` and `dbosd stream keys`, end to end: a workflow a real DBOS Python
//! worker ran received one message with `recv` and left another; it wrote a stream and closed it.

use serde_json::json;

use super::{assert_code, dbosd, json_out, text};
use crate::harness::{wait_terminal, TestServer, Worker, WorkerLang, WorkerOptions};

#[tokio::test]
async fn messages_and_stream_keys_of_a_workflow_a_worker_ran() {
    let srv = TestServer::start().await;
    let worker = Worker::start(WorkerLang::Python, &srv.db.url, WorkerOptions::default()).await;
    let run = |args: &'static [&'static str]| dbosd(&srv, args);
    // Parked on a queue no worker polls until both messages are there.
    const ENQUEUE: &[&str] = &[
        "enqueue",
        "wait_recv",
        "go",
        "--id",
        "cli-recv",
        "--queue",
        "cli_later",
    ];
    assert_code(&run(ENQUEUE).await, 0);
    assert_code(
        &run(&["send", "cli-recv", "\"keep\"", "--topic", "other"]).await,
        0,
    );
    assert_code(
        &run(&["send", "cli-recv", "{\"n\":7}", "--topic", "go"]).await,
        0,
    );
    let later = Worker::start(
        WorkerLang::Python,
        &srv.db.url,
        WorkerOptions {
            queues: vec!["cli_later".into()],
            ..Default::default()
        },
    )
    .await;
    wait_terminal(&srv.client, "cli-recv").await;

    let all = json_out(
        &run(&["workflow", "messages", "cli-recv", "-o", "json"]).await,
        0,
    );
    let all = all.as_array().expect("a list");
    assert_eq!(all.len(), 2, "{all:?}");
    let go = all.iter().find(|m| m["topic"] == "go").expect("go");
    assert_eq!(go["consumed"], true);
    assert_eq!(go["message"], json!({"n": 7}), "{go}");
    let step = go["consumedByStep"].as_i64().expect("the receiving step");
    assert_eq!(go["state"], format!("received at step {step}"));
    let pending = json_out(
        &run(&[
            "workflow",
            "messages",
            "cli-recv",
            "--consumed",
            "false",
            "-o",
            "json",
        ])
        .await,
        0,
    );
    assert_eq!(pending.as_array().unwrap().len(), 1, "{pending}");
    assert_eq!(pending[0]["state"], "pending");
    let table = run(&["workflow", "messages", "cli-recv", "--topic", "other"]).await;
    assert_code(&table, 0);
    let table = text(&table.stdout);
    assert!(table.starts_with("SENT"), "{table}");
    assert!(
        table.contains("pending") && table.contains("keep"),
        "{table}"
    );
    let missing = run(&["workflow", "messages", "cli-nope"]).await;
    assert_code(&missing, 1);
    assert!(
        text(&missing.stderr).contains("cli-nope"),
        "{}",
        text(&missing.stderr)
    );

    assert_code(
        &run(&[
            "enqueue",
            "write_stream_wf",
            "s",
            "[1,2,3]",
            "--id",
            "cli-writer",
            "--await",
        ])
        .await,
        0,
    );
    let keys = json_out(
        &run(&["stream", "keys", "cli-writer", "-o", "json"]).await,
        0,
    );
    assert_eq!(
        keys,
        json!([{"key": "s", "values": 3, "lastOffset": 3, "closed": true}])
    );
    later.stop().await;
    worker.stop().await;
    srv.stop().await;
}
