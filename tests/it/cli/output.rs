//! Output and command-line contracts shared by every command: each `-o` format, flag validation in
//! the flags' own terms (exit 2), `--all` paging past 1000 rows as pages arrive, colour only when
//! asked or on a terminal, and a closed stdout ending the process quietly (no panic).

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

use serde_json::{json, Value as Json};
use tokio::io::{AsyncBufReadExt, BufReader};

use super::{assert_code, command, dbosd, json_out, text};
use crate::harness::{enqueue_req, TestServer};

/// Enqueues `n` workflows `<prefix>-<i>` (no worker: they stay ENQUEUED), 1000 per call.
async fn enqueue_many(srv: &TestServer, prefix: &str, n: usize) {
    let mut client = srv.client.clone();
    let reqs: Vec<_> = (0..n)
        .map(|i| {
            let mut r = enqueue_req("echo", "_dbos_internal_queue", vec![json!(i)]);
            r.workflow_id = Some(format!("{prefix}-{i:05}"));
            r
        })
        .collect();
    for chunk in reqs.chunks(1000) {
        let req = dbosd::pb::EnqueueWorkflowsRequest {
            workflows: chunk.to_vec(),
        };
        client
            .enqueue_workflows(req)
            .await
            .expect("EnqueueWorkflows");
    }
}

#[tokio::test]
async fn every_format_and_flag_errors_in_flag_terms() {
    let srv = TestServer::start().await;
    enqueue_many(&srv, "fmt", 3).await;
    let list = ["workflow", "list", "--prefix", "fmt-", "--oldest-first"];

    let out = dbosd(&srv, &list).await;
    assert_code(&out, 0);
    let table = text(&out.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    assert!(
        lines[0].starts_with("WORKFLOW ID") && lines[1].starts_with("fmt-00000"),
        "{table}"
    );
    assert!(!table.contains('\x1b'), "no colour into a pipe: {table:?}");

    let doc = json_out(
        &dbosd(&srv, &[&list[..], &["-o", "json"]].concat()).await,
        0,
    );
    let ids: Vec<&str> = doc
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w["workflowId"].as_str())
        .collect();
    assert_eq!(ids, ["fmt-00000", "fmt-00001", "fmt-00002"], "{doc}");

    let out = dbosd(&srv, &[&list[..], &["-o", "jsonl"]].concat()).await;
    assert_code(&out, 0);
    let rows: Vec<Json> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect(l))
        .collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[2]["status"], "ENQUEUED");

    let out = dbosd(&srv, &[&list[..], &["-o", "yaml"]].concat()).await;
    assert_code(&out, 0);
    let yaml: serde_norway::Value = serde_norway::from_slice(&out.stdout).expect("yaml");
    let seq = yaml.as_sequence().expect("a YAML sequence");
    assert_eq!(seq.len(), 3);
    assert_eq!(seq[1]["workflowId"].as_str(), Some("fmt-00001"));
    assert_eq!(
        seq[1]["recoveryAttempts"].as_i64(),
        Some(0),
        "numbers stay numbers"
    );

    let out = dbosd(&srv, &[&list[..], &["--color", "always"]].concat()).await;
    assert!(
        text(&out.stdout).contains("\x1b[36mENQUEUED"),
        "{}",
        text(&out.stdout)
    );

    // An empty result is still a valid document in every format.
    let none = ["workflow", "list", "--prefix", "nothing-"];
    assert_eq!(
        json_out(
            &dbosd(&srv, &[&none[..], &["-o", "json"]].concat()).await,
            0
        ),
        json!([])
    );
    let out = dbosd(&srv, &[&none[..], &["-o", "jsonl"]].concat()).await;
    assert_eq!(text(&out.stdout), "");

    // One object: describe in YAML.
    let out = dbosd(&srv, &["workflow", "describe", "fmt-00000", "-o", "yaml"]).await;
    assert_code(&out, 0);
    let yaml: serde_norway::Value = serde_norway::from_slice(&out.stdout).expect("yaml");
    assert_eq!(
        yaml["input"]["positionalArgs"][0].as_i64(),
        Some(0),
        "{}",
        text(&out.stdout)
    );

    // Bad flags: exit 2, the flag named, nothing from the API's field names.
    for (args, flag) in [
        (vec!["workflow", "list", "--limit", "0"], "--limit"),
        (vec!["workflow", "list", "--limit", "5000"], "--limit"),
        (vec!["workflow", "list", "--status", "DONE"], "--status"),
        (
            vec!["workflow", "list", "--created-after", "yesterday"],
            "--created-after",
        ),
        (vec!["workflow", "count", "--attr", "novalue"], "--attr"),
        (
            vec!["queue", "update", "q", "--concurrency", "many"],
            "--concurrency",
        ),
        (
            vec!["queue", "update", "q", "--rate-limit", "10"],
            "--rate-limit",
        ),
    ] {
        let out = dbosd(&srv, &args).await;
        assert_code(&out, 2);
        let err = text(&out.stderr);
        assert!(
            err.contains(flag) && !err.contains("page_size"),
            "{args:?}: {err}"
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    srv.stop().await;
}

#[tokio::test]
async fn all_pages_past_1000_and_a_closed_reader_ends_quietly() {
    let srv = TestServer::start().await;
    enqueue_many(&srv, "bulk", 1203).await;

    let args = [
        "workflow", "list", "--prefix", "bulk-", "--all", "--limit", "500", "-o", "jsonl",
    ];
    let out = dbosd(&srv, &args).await;
    assert_code(&out, 0);
    let mut ids: Vec<String> = text(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<Json>(l).expect(l)["workflowId"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1203);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 1203, "no workflow twice across pages");
    // Without --all, --limit bounds the whole answer.
    let out = dbosd(
        &srv,
        &[
            "workflow", "list", "--prefix", "bulk-", "--limit", "7", "-o", "jsonl",
        ],
    )
    .await;
    assert_eq!(text(&out.stdout).lines().count(), 7);

    // `| head -1`: the reader goes away after one line; ~600 KB more cannot fit the pipe.
    for format in ["jsonl", "table", "json", "yaml"] {
        let mut cmd = command();
        cmd.args([
            "workflow",
            "list",
            "--prefix",
            "bulk-",
            "--all",
            "--payloads",
            "-o",
            format,
        ])
        .env("DBOSD_ADDRESS", srv.addr.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
        let mut child = cmd.spawn().expect("spawn");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).await.expect("first line");
        assert!(!first.is_empty());
        drop(stdout);
        let out =
            tokio::time::timeout(std::time::Duration::from_secs(60), child.wait_with_output())
                .await
                .expect("exits once its reader is gone")
                .expect("wait");
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGPIPE),
            "{format}: {:?}",
            out.status
        );
        assert!(
            out.stderr.is_empty(),
            "{format}: quiet, no panic: {}",
            text(&out.stderr)
        );
    }
    srv.stop().await;
}
