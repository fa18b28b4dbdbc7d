//! `dbosd event`, `stream`, `queue`, `schedule` and `version`, end to end: events and streams
//! written by a real DBOS Python worker, queues and versions as workers register them, schedules
//! created through the CLI.

use serde_json::json;

use super::{assert_code, dbosd, json_out, text};
use crate::harness::{register_queue, TestServer, Worker, WorkerLang, WorkerOptions};

#[tokio::test]
async fn events_and_streams_written_by_a_worker() {
    let srv = TestServer::start().await;
    let worker = Worker::start(WorkerLang::Python, &srv.db.url, WorkerOptions::default()).await;
    let run = |args: &'static [&'static str]| dbosd(&srv, args);

    assert_code(
        &run(&[
            "enqueue",
            "set_event_wf",
            "color",
            r#"{"a":1}"#,
            "--id",
            "ev-1",
            "--await",
        ])
        .await,
        0,
    );
    let doc = json_out(
        &run(&["event", "get", "ev-1", "color", "-o", "json"]).await,
        0,
    );
    assert_eq!(doc["value"], json!({"a": 1}), "{doc}");
    let out = run(&["event", "get", "ev-1", "color"]).await;
    assert_eq!(text(&out.stdout).trim(), r#"{"a":1}"#);
    let out = run(&["event", "get", "ev-1", "missing"]).await;
    assert_code(&out, 3);
    assert!(
        text(&out.stderr).contains("not set"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&["event", "list", "ev-1", "-o", "jsonl"]).await;
    assert_code(&out, 0);
    assert_eq!(
        text(&out.stdout).trim(),
        r#"{"key":"color","value":{"a":1}}"#
    );
    let out = run(&[
        "event", "watch", "ev-1", "color", "--max", "1", "-o", "jsonl",
    ])
    .await;
    assert_code(&out, 0);
    assert!(
        text(&out.stdout).contains(r#""value":{"a":1}"#),
        "{}",
        text(&out.stdout)
    );

    assert_code(
        &run(&[
            "enqueue",
            "write_stream_wf",
            "s",
            "[10,20,30]",
            "--id",
            "st-1",
            "--await",
        ])
        .await,
        0,
    );
    let out = run(&["stream", "read", "st-1", "s", "-o", "jsonl"]).await;
    assert_code(&out, 0);
    let values: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect(l))
        .collect();
    assert_eq!(values.len(), 3, "{values:?}");
    assert_eq!(values[2], json!({"offset": 2, "value": 30}));
    let doc = json_out(
        &run(&["stream", "read", "st-1", "s", "--offset", "1", "-o", "json"]).await,
        0,
    );
    assert_eq!(doc.as_array().map(Vec::len), Some(2), "{doc}");

    worker.stop().await;
    srv.stop().await;
}

#[tokio::test]
async fn queues_versions_and_schedules() {
    let srv = TestServer::start().await;
    register_queue(&srv.db, "cliq", Some(3)).await;
    let db = srv.db.client().await;
    db.execute(
        "INSERT INTO dbos.application_versions (version_id, version_name, version_timestamp) \
         VALUES ('v-old-id', 'v-old', 1000), ('v-new-id', 'v-new', 2000)",
        &[],
    )
    .await
    .expect("versions");

    let doc = json_out(&dbosd(&srv, &["queue", "list", "-o", "json"]).await, 0);
    let q = doc
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "cliq")
        .cloned();
    assert_eq!(q.map(|q| q["concurrency"].clone()), Some(json!(3)), "{doc}");
    let args = [
        "queue",
        "update",
        "cliq",
        "--concurrency",
        "5",
        "--rate-limit",
        "10/60",
        "-o",
        "json",
    ];
    let doc = json_out(&dbosd(&srv, &args).await, 0);
    assert_eq!(doc["concurrency"], 5, "{doc}");
    assert_eq!(doc["rateLimit"]["limit"], 10, "{doc}");
    let doc = json_out(
        &dbosd(
            &srv,
            &[
                "queue",
                "update",
                "cliq",
                "--concurrency",
                "none",
                "-o",
                "json",
            ],
        )
        .await,
        0,
    );
    assert!(
        doc["concurrency"].is_null() && doc["rateLimit"]["limit"] == 10,
        "{doc}"
    );
    let out = dbosd(&srv, &["queue", "describe", "cliq"]).await;
    assert!(
        text(&out.stdout).contains("name:") && text(&out.stdout).contains("cliq"),
        "{}",
        text(&out.stdout)
    );
    assert_code(&dbosd(&srv, &["queue", "update", "cliq"]).await, 2);

    let doc = json_out(&dbosd(&srv, &["version", "list", "-o", "json"]).await, 0);
    let names: Vec<&str> = doc
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["versionName"].as_str())
        .collect();
    assert_eq!(names, ["v-new", "v-old"], "newest first: {doc}");
    assert_code(&dbosd(&srv, &["version", "set-latest", "v-old"]).await, 0);
    let doc = json_out(&dbosd(&srv, &["version", "list", "-o", "json"]).await, 0);
    assert_eq!(doc[0]["versionName"], "v-old", "{doc}");
    let out = dbosd(&srv, &["version", "set-latest", "v-none"]).await;
    assert_code(&out, 1);
    assert!(
        text(&out.stderr).contains("NotFound"),
        "{}",
        text(&out.stderr)
    );

    let create = [
        "schedule",
        "create",
        "hourly",
        "--workflow",
        "stamp",
        "--cron",
        "0 * * * *",
        "--context",
        r#"{"k":1}"#,
        "-o",
        "json",
    ];
    let doc = json_out(&dbosd(&srv, &create).await, 0);
    assert_eq!(
        (doc["status"].as_str(), doc["cron"].as_str()),
        (Some("ACTIVE"), Some("0 * * * *")),
        "{doc}"
    );
    let out = dbosd(&srv, &["schedule", "list"]).await;
    assert!(
        text(&out.stdout)
            .lines()
            .any(|l| l.starts_with("hourly") && l.contains("ACTIVE")),
        "{}",
        text(&out.stdout)
    );
    let doc = json_out(
        &dbosd(&srv, &["schedule", "pause", "hourly", "-o", "json"]).await,
        0,
    );
    assert_eq!(doc["status"], "PAUSED");
    let doc = json_out(
        &dbosd(
            &srv,
            &["schedule", "list", "--status", "paused", "-o", "json"],
        )
        .await,
        0,
    );
    assert_eq!(doc.as_array().map(Vec::len), Some(1), "{doc}");
    let doc = json_out(
        &dbosd(&srv, &["schedule", "resume", "hourly", "-o", "json"]).await,
        0,
    );
    assert_eq!(doc["status"], "ACTIVE");
    let doc = json_out(
        &dbosd(&srv, &["schedule", "trigger", "hourly", "-o", "json"]).await,
        0,
    );
    let triggered = doc["workflowId"].as_str().unwrap_or_default().to_owned();
    assert!(!triggered.is_empty(), "{doc}");
    let doc = json_out(
        &dbosd(&srv, &["workflow", "describe", &triggered, "-o", "json"]).await,
        0,
    );
    assert_eq!(doc["workflowName"], "stamp", "{doc}");
    let out = dbosd(
        &srv,
        &[
            "schedule", "backfill", "hourly", "--start", "3h", "--end", "1h", "-o", "jsonl",
        ],
    )
    .await;
    assert_code(&out, 0);
    assert_eq!(
        text(&out.stdout).lines().count(),
        2,
        "two hours fired: {}",
        text(&out.stdout)
    );
    let doc = json_out(
        &dbosd(&srv, &["schedule", "delete", "hourly", "-o", "json"]).await,
        0,
    );
    assert_eq!(doc["deleted"], true);
    assert_code(&dbosd(&srv, &["schedule", "describe", "hourly"]).await, 1);
    srv.stop().await;
}
