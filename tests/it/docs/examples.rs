//! examples/python and examples/node, run as a user would against a live dbosd and a real DBOS
//! Python worker: each generates or loads its client from proto/, enqueues, streams a result, sends
//! a message, watches an event and lists workflows, and exits non-zero on any surprise.

use tokio::process::Command;

use crate::harness::{
    assert_success, clients_bin, repo_root, run_bounded, TestServer, Worker, WorkerLang,
    WorkerOptions,
};

/// Runs one example program against a fresh dbosd with a Python worker and checks its output.
async fn run_example(program: std::path::PathBuf, script: &str, ok_line: &str) {
    let srv = TestServer::start().await;
    let worker = Worker::start(WorkerLang::Python, &srv.db.url, WorkerOptions::default()).await;
    let mut cmd = Command::new(program);
    cmd.arg(repo_root().join(script))
        .arg(srv.addr.to_string())
        .env_remove("DBOSD_ADDRESS");
    let out = run_bounded(cmd, script).await;
    assert_success(&out, script);
    let stdout = String::from_utf8_lossy(&out.stdout);
    for needle in [
        ok_line,
        "add(2",
        "= 42",
        "wait_recv received",
        "event progress",
    ] {
        assert!(
            stdout.contains(needle),
            "{script} printed no {needle:?}:\n{stdout}"
        );
    }
    worker.stop().await;
    srv.stop().await;
}

#[tokio::test]
async fn python_example_runs_against_dbosd() {
    let python = clients_bin().join("python");
    run_example(python, "examples/python/example.py", "python example: ok").await;
}

#[tokio::test]
async fn node_example_runs_against_dbosd() {
    crate::harness::ensure_clients();
    run_example(
        "node".into(),
        "examples/node/example.mjs",
        "node example: ok",
    )
    .await;
}
