//! A dbosd with bearer tokens: the CLI sends the token from `--token`, `DBOSD_TOKEN` or the profile
//! (in that order), and health and reflection stay open without one, so `grpcurl list` and probes
//! work (the default `--auth-exempt`).

use std::io::Write;

use super::{assert_code, command, text};
use crate::harness::{clients_path, run_bounded, TestDb, TestServer};

const TOKENS: &str =
    r#"{"tokens": [{"name": "ops", "token": "tok-cli-ops", "applications": ["*"]}]}"#;

#[tokio::test]
async fn tokens_from_flag_env_or_profile_and_reflection_open_without_one() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(TOKENS.as_bytes()).unwrap();
    let path = file.path().to_owned();
    let srv = TestServer::start_on(TestDb::new().await, |s| s.tokens_file = Some(path)).await;
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        config.path(),
        "[profiles.default]\ntoken = \"tok-cli-ops\"\n",
    )
    .unwrap();

    let run = |env: Vec<(&'static str, String)>, extra: &'static [&'static str]| {
        let mut cmd = command();
        cmd.args(["workflow", "list", "--address", &srv.addr.to_string()])
            .args(extra);
        for (k, v) in env {
            cmd.env(k, v);
        }
        run_bounded(cmd, "dbosd workflow list")
    };
    let out = run(vec![], &[]).await;
    assert_code(&out, 1);
    assert!(
        text(&out.stderr).contains("Unauthenticated"),
        "{}",
        text(&out.stderr)
    );
    assert_code(
        &run(vec![("DBOSD_TOKEN", "tok-cli-ops".into())], &[]).await,
        0,
    );
    assert_code(&run(vec![], &["--token", "tok-cli-ops"]).await, 0);
    let profile = ("DBOSD_CONFIG", config.path().to_str().unwrap().to_owned());
    assert_code(&run(vec![profile.clone()], &[]).await, 0);
    // The environment and the flag beat the profile's token.
    assert_code(
        &run(vec![profile.clone(), ("DBOSD_TOKEN", "wrong".into())], &[]).await,
        1,
    );
    assert_code(&run(vec![profile], &["--token", "wrong"]).await, 1);

    // grpcurl, as the README shows it, without a token: reflection lists the services.
    let mut grpcurl = tokio::process::Command::new("grpcurl");
    grpcurl.env("PATH", clients_path());
    grpcurl.args(["-plaintext", &srv.addr.to_string(), "list"]);
    let out = run_bounded(grpcurl, "grpcurl list").await;
    assert_code(&out, 0);
    assert!(
        text(&out.stdout).contains("dbosd.v1.WorkflowService"),
        "{}",
        text(&out.stdout)
    );
    let mut grpcurl = tokio::process::Command::new("grpcurl");
    grpcurl.env("PATH", clients_path());
    grpcurl.args([
        "-plaintext",
        &srv.addr.to_string(),
        "grpc.health.v1.Health/Check",
    ]);
    let out = run_bounded(grpcurl, "grpcurl health").await;
    assert_code(&out, 0);
    assert!(
        text(&out.stdout).contains("SERVING"),
        "{}",
        text(&out.stdout)
    );
    srv.stop().await;
}
