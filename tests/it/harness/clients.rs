//! The real gRPC clients the docs and examples use (grpcurl, grpcio, @grpc/grpc-js), installed once per
//! test process by scripts/setup-clients.sh, and a bounded way to run them as child processes.

use std::{
    path::PathBuf,
    process::{Output, Stdio},
    sync::OnceLock,
};

use tokio::process::Command;

use super::{repo_root, WAIT};

static SETUP: OnceLock<Result<(), String>> = OnceLock::new();

/// Runs scripts/setup-clients.sh once per test process (a no-op when everything is installed).
pub fn ensure_clients() {
    let result = SETUP.get_or_init(|| {
        let script = repo_root().join("scripts/setup-clients.sh");
        let status = std::process::Command::new("bash")
            .arg(&script)
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .status()
            .map_err(|e| format!("run {}: {e}", script.display()))?;
        status
            .success()
            .then_some(())
            .ok_or_else(|| format!("{} failed: {status}", script.display()))
    });
    if let Err(e) = result {
        panic!("gRPC clients unavailable: {e}");
    }
}

/// The bin directory of the clients' virtualenv (python with grpcio, grpcurl).
pub fn clients_bin() -> PathBuf {
    ensure_clients();
    repo_root().join(".venv-clients/bin")
}

/// `PATH` with the clients' bin directory first.
pub fn clients_path() -> String {
    let old = std::env::var("PATH").unwrap_or_default();
    format!("{}:{old}", clients_bin().display())
}

/// Runs `cmd` to completion (stdin closed, output captured), killing it after twice `WAIT`.
pub async fn run_bounded(mut cmd: Command, what: &str) -> Output {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    match tokio::time::timeout(WAIT * 2, child.wait_with_output()).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => panic!("{what}: {e}"),
        Err(_) => panic!("{what} did not finish within {:?}", WAIT * 2),
    }
}

/// Panics with both output streams unless `out` is a success.
pub fn assert_success(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({})\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
