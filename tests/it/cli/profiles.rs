//! The client config file (`dbosd config`) and where a connection setting comes from: a flag beats
//! the environment, which beats the profile (`--profile`/DBOSD_PROFILE, else `default`), found under
//! XDG_CONFIG_HOME.

use std::os::unix::fs::PermissionsExt;
use std::process::Output;

use super::{assert_code, command, text};
use crate::harness::{run_bounded, TestServer};

/// `dbosd <args>` with the config under `xdg` and these extra environment variables.
async fn run(xdg: &std::path::Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = command();
    cmd.env_remove("DBOSD_CONFIG").env("XDG_CONFIG_HOME", xdg);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_bounded(cmd, &format!("dbosd {}", args.join(" "))).await
}

#[tokio::test]
async fn flags_beat_env_beat_profile() {
    let srv = TestServer::start().await;
    let live = srv.addr.to_string();
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let xdg = tempfile::tempdir().expect("tmp");
    let x = xdg.path();

    assert_code(&run(x, &[], &["config", "set", "address", &live]).await, 0);
    assert_code(
        &run(
            x,
            &[],
            &["config", "set", "address", &dead, "--profile", "down"],
        )
        .await,
        0,
    );
    let file = x.join("dbosd/config.toml");
    let mode = std::fs::metadata(&file)
        .expect("config file written")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the file may hold tokens");
    assert!(std::fs::read_to_string(&file)
        .unwrap()
        .contains("[profiles.down]"));

    let list = ["workflow", "list", "-o", "json", "--connect-timeout", "2"];
    // Profile `default` only.
    assert_code(&run(x, &[], &list).await, 0);
    // The chosen profile, by env or flag.
    let out = run(x, &[("DBOSD_PROFILE", "down")], &list).await;
    assert_code(&out, 1);
    assert!(text(&out.stderr).contains(&dead), "{}", text(&out.stderr));
    assert_code(
        &run(x, &[], &[&list[..], &["--profile", "down"]].concat()).await,
        1,
    );
    // A flag beats the profile; the environment beats the profile; a flag beats the environment.
    assert_code(
        &run(
            x,
            &[],
            &[&list[..], &["--profile", "down", "--address", &live]].concat(),
        )
        .await,
        0,
    );
    assert_code(&run(x, &[("DBOSD_ADDRESS", &dead)], &list).await, 1);
    assert_code(
        &run(
            x,
            &[("DBOSD_PROFILE", "down"), ("DBOSD_ADDRESS", &live)],
            &list,
        )
        .await,
        0,
    );
    assert_code(
        &run(
            x,
            &[("DBOSD_ADDRESS", &dead)],
            &[&list[..], &["--address", &live]].concat(),
        )
        .await,
        0,
    );
    // A profile asked for by name must exist.
    let out = run(x, &[], &[&list[..], &["--profile", "nosuch"]].concat()).await;
    assert_code(&out, 2);
    assert!(
        text(&out.stderr).contains("--profile \"nosuch\""),
        "{}",
        text(&out.stderr)
    );

    // get / list (tokens masked) / delete.
    let out = run(x, &[], &["config", "get", "address"]).await;
    assert_eq!(text(&out.stdout).trim(), live);
    assert_code(&run(x, &[], &["config", "set", "token", "s3cret"]).await, 0);
    let out = run(x, &[], &["config", "list", "--all"]).await;
    let listed = text(&out.stdout);
    assert!(
        listed.contains("default.token = ****") && !listed.contains("s3cret"),
        "{listed}"
    );
    assert!(
        listed.contains(&format!("down.address = {dead}")),
        "{listed}"
    );
    assert_code(&run(x, &[], &["config", "set", "colour", "red"]).await, 2);
    assert_code(&run(x, &[], &["config", "delete", "token"]).await, 0);
    assert_code(&run(x, &[], &["config", "get", "token"]).await, 1);
    assert_code(
        &run(x, &[], &["config", "delete", "--profile", "down"]).await,
        0,
    );
    let out = run(x, &[], &["config", "list", "--all"]).await;
    assert!(
        !text(&out.stdout).contains("down."),
        "{}",
        text(&out.stdout)
    );
    srv.stop().await;
}
