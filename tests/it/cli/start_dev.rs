//! `dbosd start-dev` as a user runs it: a taken port fails before any PostgreSQL work, dead runs'
//! scratch dirs are swept (and only those), a PostgreSQL that dies stops dbosd with a clear message
//! and a non-zero exit, and `--data-dir` keeps workflows between runs.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout};

use super::{assert_code, command, text};
use crate::harness::run_bounded;

/// Starts `dbosd start-dev <args>` with piped output.
fn start(args: &[&str]) -> (Child, Lines<BufReader<ChildStdout>>) {
    let mut cmd = command();
    cmd.arg("start-dev")
        .args(args)
        .env("DBOSD_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("spawn start-dev");
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    (child, lines)
}

/// Reads stdout lines until one contains `want`; returns every line read.
async fn until(lines: &mut Lines<BufReader<ChildStdout>>, want: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let read = async {
        while let Some(line) = lines.next_line().await.expect("read") {
            let done = line.contains(want);
            seen.push(line);
            if done {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(120), read)
        .await
        .unwrap_or_else(|_| panic!("no {want:?} line; got {seen:?}"));
    seen
}

fn free_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: plain syscall on a process this test started (or its PostgreSQL).
    unsafe { libc::kill(pid as libc::pid_t, sig) };
}

/// One test, two flows in turn: every start-dev sweeps dead runs' dirs, so a second start-dev running
/// alongside could take the fake dead dir the first flow expects to remove.
#[tokio::test]
async fn start_dev_as_a_user_runs_it() {
    a_taken_port_fails_before_postgres_and_stale_dirs_are_swept().await;
    a_dead_postgres_stops_start_dev_and_data_dir_keeps_workflows().await;
}

async fn a_taken_port_fails_before_postgres_and_stale_dirs_are_swept() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    // A scratch dir of a dead run (its owner pid cannot exist) and one of a live run (ours).
    let base = dbosd::pgcluster::PgCluster::scratch_base();
    let dead = tempfile::Builder::new()
        .prefix("dbosd-pg-clitest-")
        .tempdir_in(&base)
        .unwrap()
        .keep();
    std::fs::create_dir_all(dead.join("data")).unwrap();
    std::fs::write(dead.join("data/big"), vec![0u8; 1 << 20]).unwrap();
    std::fs::write(dead.join("dbosd-owner"), "999999999 1").unwrap();
    let live = tempfile::Builder::new()
        .prefix("dbosd-pg-clitest-")
        .tempdir_in(&base)
        .unwrap();
    let me = std::fs::read_to_string("/proc/self/stat").unwrap();
    let started = me[me.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .nth(19)
        .unwrap()
        .to_owned();
    std::fs::write(
        live.path().join("dbosd-owner"),
        format!("{} {started}", std::process::id()),
    )
    .unwrap();

    let mut cmd = command();
    cmd.args(["start-dev", "--listen", &addr]);
    // Refused before initdb: nothing about PostgreSQL is printed (checked below), not timed.
    let out = run_bounded(cmd, "start-dev on a taken port").await;
    assert_code(&out, 1);
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("cannot listen on {addr}")) && err.contains("--listen"),
        "{err}"
    );
    assert!(
        !text(&out.stdout).contains("PostgreSQL"),
        "nothing started: {}",
        text(&out.stdout)
    );
    assert!(dead.exists(), "the port is checked before anything else");
    drop(taken);

    // A free port: the dead run's dir goes (and is reported), the live one stays.
    let listen = free_port();
    let (mut child, mut lines) = start(&["--listen", &listen]);
    let seen = until(&mut lines, "dbosd listening on").await;
    let removed = format!("removed {}", dead.display());
    assert!(
        seen.iter()
            .any(|l| l.starts_with(&removed) && l.contains("1.0 MB")),
        "{seen:?}"
    );
    assert!(!dead.exists() && live.path().exists());
    // Serving (so the signal handlers are in place) before the signal.
    let mut cmd = command();
    cmd.args(["workflow", "list", "--address", &listen]);
    assert_code(&run_bounded(cmd, "workflow list").await, 0);
    signal(child.id().unwrap(), libc::SIGTERM);
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("exits")
        .unwrap();
    assert!(status.success(), "{status:?}");
    let rest = until(&mut lines, "stopped PostgreSQL").await;
    assert!(rest.iter().any(|l| l.contains("removed /")), "{rest:?}");
}

async fn a_dead_postgres_stops_start_dev_and_data_dir_keeps_workflows() {
    let data = tempfile::Builder::new()
        .prefix("dbosd-clitest-data-")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(
        data.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let dir = data.path().join("pg");
    let dir_arg = dir.to_str().unwrap();
    let listen = free_port();

    let (mut child, mut lines) = start(&["--listen", &listen, "--data-dir", dir_arg]);
    let seen = until(&mut lines, "dbosd listening on").await;
    assert!(
        seen.iter().any(|l| l.contains("kept between runs")),
        "{seen:?}"
    );
    let mut cmd = command();
    cmd.args([
        "enqueue",
        "echo",
        "kept",
        "--id",
        "kept-1",
        "--address",
        &listen,
    ]);
    assert_code(&run_bounded(cmd, "enqueue").await, 0);
    signal(child.id().unwrap(), libc::SIGTERM);
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("exits")
        .unwrap();
    assert!(status.success(), "{status:?}");
    let rest = until(&mut lines, "stopped PostgreSQL").await;
    assert!(rest.iter().any(|l| l.contains("data kept in")), "{rest:?}");

    let (child, mut lines) = start(&["--listen", &listen, "--data-dir", dir_arg]);
    let seen = until(&mut lines, "dbosd listening on").await;
    let mut cmd = command();
    cmd.args([
        "workflow",
        "describe",
        "kept-1",
        "-o",
        "json",
        "--address",
        &listen,
    ]);
    let out = run_bounded(cmd, "describe").await;
    assert_code(&out, 0);
    assert!(
        text(&out.stdout).contains("\"ENQUEUED\""),
        "{}",
        text(&out.stdout)
    );

    // PostgreSQL dies under it: start-dev notices, says so, and exits non-zero.
    let pg = seen
        .iter()
        .find_map(|l| {
            l.strip_prefix("PostgreSQL (pid ")?
                .split(',')
                .next()?
                .parse::<u32>()
                .ok()
        })
        .unwrap_or_else(|| panic!("no PostgreSQL pid in {seen:?}"));
    signal(pg, libc::SIGKILL);
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("start-dev exits when PostgreSQL dies")
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{:?}", out.status);
    let err = text(&out.stderr);
    assert!(err.contains("PostgreSQL exited unexpectedly"), "{err}");
}
