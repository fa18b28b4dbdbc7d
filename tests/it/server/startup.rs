//! The real binary: startup errors are one clear line and a non-zero exit; `start-dev` is one command
//! from nothing to a served, migrated throwaway database.

use std::time::Duration;

use dbosd::pb::{workflow_service_client::WorkflowServiceClient, ListWorkflowsRequest};
use tokio::process::Command;

use crate::harness::{Dbosd, TestDb, WAIT};

async fn run_dbosd(args: &[&str]) -> (bool, String) {
    let out = tokio::time::timeout(
        WAIT,
        Command::new(env!("CARGO_BIN_EXE_dbosd"))
            .args(args)
            .env_remove("DBOS_SYSTEM_DATABASE_URL")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("dbosd exits")
    .expect("run dbosd");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    )
}

#[tokio::test]
async fn startup_errors_are_one_clear_line() {
    let (ok, err) = run_dbosd(&["--listen", "127.0.0.1:0"]).await;
    assert!(!ok);
    assert!(
        err.contains("no database URL") && err.contains("DBOS_SYSTEM_DATABASE_URL"),
        "{err}"
    );

    let (ok, err) = run_dbosd(&["--database-url", "not a url at all ::"]).await;
    assert!(!ok);
    assert!(err.contains("invalid database URL"), "{err}");

    // A port nothing listens on (bound and released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://postgres:secret-pw@127.0.0.1:{port}/postgres?connect_timeout=5");
    let (ok, err) = run_dbosd(&["--database-url", &url]).await;
    assert!(!ok);
    assert!(
        err.contains("cannot connect to the system database"),
        "{err}"
    );
    assert!(
        !err.contains("secret-pw"),
        "the password must not be printed: {err}"
    );

    let empty = TestDb::empty().await;
    let (ok, err) = run_dbosd(&["--database-url", &empty.url, "--listen", "127.0.0.1:0"]).await;
    assert!(!ok);
    assert!(
        err.contains("dbosd migrate") && err.contains("--migrate"),
        "{err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.starts_with("dbosd:")).count(),
        1,
        "{err}"
    );
}

#[tokio::test]
async fn start_dev_serves_a_throwaway_database_with_one_command() {
    // initdb on a 2-core machine can take a while.
    let args = ["start-dev", "--listen", "127.0.0.1:0"];
    let mut dbosd = Dbosd::spawn(&args, &[], Duration::from_secs(90)).await;
    let mut client = WorkflowServiceClient::new(dbosd.channel.clone());
    let listed = client
        .list_workflows(ListWorkflowsRequest::default())
        .await
        .expect("served")
        .into_inner();
    assert!(listed.workflows.is_empty());

    dbosd.signal(libc::SIGTERM);
    let status = dbosd.exited_within(WAIT).await;
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn one_worker_thread_by_default_and_as_many_as_asked() {
    let db = TestDb::new().await;
    for (args, want) in [(vec![], 1), (vec!["--worker-threads", "3"], 3)] {
        let mut all = vec!["--database-url", db.url.as_str(), "--listen", "127.0.0.1:0"];
        all.extend(args);
        let dbosd = Dbosd::spawn(&all, &[], Dbosd::READY).await;
        let mut client = WorkflowServiceClient::new(dbosd.channel.clone());
        client
            .list_workflows(ListWorkflowsRequest::default())
            .await
            .expect("served");
        assert_eq!(dbosd.worker_threads(), want, "{all:?}");
    }
}
