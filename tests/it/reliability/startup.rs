//! A database that is not there yet at startup: with `--wait-for-database-ms` the real binary opens
//! its port, reports NOT_SERVING and UNAVAILABLE, retries with backoff and serves once PostgreSQL
//! appears; when the wait runs out it exits non-zero with one clear line.

use std::process::Stdio;

use dbosd::pb::{workflow_service_client::WorkflowServiceClient, ListWorkflowsRequest};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;

use crate::harness::{eventually, health_status, RestartableDb, WAIT};

/// A loopback port nothing listens on (bound and released).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn dbosd(db_port: u16, wait_ms: &str) -> Child {
    let url = format!("postgres://postgres@127.0.0.1:{db_port}/postgres");
    Command::new(env!("CARGO_BIN_EXE_dbosd"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--migrate",
            "--health-interval-ms",
            "200",
        ])
        .args(["--database-url", &url, "--wait-for-database-ms", wait_ms])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn dbosd")
}

#[tokio::test]
async fn dbosd_waits_for_a_late_database_then_serves() {
    let db_port = free_port();
    let mut child = dbosd(db_port, "60000");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .expect("address line");
    let line = line.unwrap().expect("dbosd prints its address");
    let addr = line
        .strip_prefix("dbosd listening on ")
        .expect(&line)
        .to_owned();
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .expect("the port is open before the database is there");
    let status = || async { health_status(&channel).await };
    assert_eq!(status().await, Some(ServingStatus::NotServing));
    let mut client = WorkflowServiceClient::new(channel.clone());
    let err = client
        .list_workflows(ListWorkflowsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert!(err.message().contains("retry"), "{err:?}");

    let mut pg = RestartableDb::start(Some(db_port)).await;
    // The stand-in hands the port over to the real server: the channel reconnects on its own.
    eventually("SERVING once the database is there", || async {
        (status().await == Some(ServingStatus::Serving)).then_some(())
    })
    .await;
    let listed = eventually("the API to serve", || {
        let mut client = client.clone();
        async move {
            client
                .list_workflows(ListWorkflowsRequest::default())
                .await
                .ok()
        }
    })
    .await;
    assert!(listed.into_inner().workflows.is_empty());

    // SAFETY: plain kill(2) on our own child's pid.
    unsafe { libc::kill(child.id().expect("pid") as i32, libc::SIGTERM) };
    let exit = tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("exits on SIGTERM");
    assert!(exit.unwrap().success());
    pg.stop().await;
}

#[tokio::test]
async fn dbosd_exits_when_the_wait_for_the_database_runs_out() {
    let child = dbosd(free_port(), "300");
    let out = tokio::time::timeout(WAIT, child.wait_with_output()).await;
    let out = out.expect("dbosd gives up in time").unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("dbosd: cannot connect to the system database"),
        "{stderr}"
    );
}
