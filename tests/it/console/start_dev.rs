//! `dbosd start-dev` serves the console by default and prints its URL (the bound address, even
//! for `--listen 127.0.0.1:0`). (`--ui=false` is parsed off in config's unit test: one start-dev
//! here, since each one initdbs and sweeps the shared scratch directory.)

use std::process::Stdio;

use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::Command,
};

use crate::harness::WAIT;
use crate::http::curl;

/// Starts `dbosd start-dev`; returns the child and the stdout lines up to and
/// including the one saying where it listens.
async fn start_dev() -> (tokio::process::Child, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dbosd"))
        .args(["start-dev", "--listen", "127.0.0.1:0"])
        .env_remove("DBOS_SYSTEM_DATABASE_URL")
        .env_remove("DBOSD_UI")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn dbosd start-dev");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    // initdb on a 2-core machine can take a while.
    tokio::time::timeout(WAIT * 3, async {
        while let Ok(Some(line)) = lines.next_line().await {
            let done = line.starts_with("dbosd listening on ");
            seen.push(line);
            if done {
                return;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("start-dev did not start in time: {seen:?}"));
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, seen)
}

async fn stop(mut child: tokio::process::Child) {
    // SAFETY: plain kill(2) on our own child's pid.
    unsafe { libc::kill(child.id().expect("running") as i32, libc::SIGTERM) };
    let status = tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("start-dev exits")
        .expect("wait");
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn start_dev_serves_the_console_and_prints_its_url() {
    let (child, seen) = start_dev().await;
    let addr = seen
        .last()
        .and_then(|l| l.strip_prefix("dbosd listening on "))
        .expect("listening line")
        .to_owned();
    let url = format!("http://{addr}/ui/");
    assert!(
        seen.contains(&format!("console: {url}")),
        "the console's URL, with the bound port: {seen:?}"
    );
    let page = curl(&url, &[], b"").await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    stop(child).await;
}
