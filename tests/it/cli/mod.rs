//! The `dbosd` client commands, run as the real binary against an in-process dbosd on a private
//! PostgreSQL, with real DBOS Python workers where rows must be written by a workflow. One file per
//! command family; this one holds the helpers that drive the binary.

mod basic;
mod docs;
mod inbox;
mod inspect;
mod more;
mod output;
mod profiles;
mod start_dev;
mod tls;
mod tokens;

use std::process::Output;

use serde_json::Value as Json;
use tokio::process::Command;

use crate::harness::{run_bounded, TestServer};

/// `dbosd` with a clean client environment: no config file, profile, token or output format from
/// the machine running the tests.
pub fn command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dbosd"));
    for var in [
        "DBOSD_ADDRESS",
        "DBOSD_PROFILE",
        "DBOSD_TOKEN",
        "DBOSD_DATABASE",
        "DBOSD_OUTPUT",
        "DBOSD_TLS_CA",
        "NO_COLOR",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("DBOSD_CONFIG", "/nonexistent/dbosd-tests/config.toml");
    cmd
}

/// Runs `dbosd <args>` against `srv` (address from the environment, as a user would set it).
pub async fn dbosd(srv: &TestServer, args: &[&str]) -> Output {
    let mut cmd = command();
    cmd.args(args).env("DBOSD_ADDRESS", srv.addr.to_string());
    run_bounded(cmd, &format!("dbosd {}", args.join(" "))).await
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts the exit code, showing both streams when it differs.
pub fn assert_code(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// Stdout as JSON, after checking the exit code.
pub fn json_out(out: &Output, code: i32) -> Json {
    assert_code(out, code);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", text(&out.stdout)))
}
