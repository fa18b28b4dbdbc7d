//! The CLI over a fleet: `dbosd database list`, `--database` on a client command (the default
//! database without it), and `dbosd migrate --config FILE --database NAME` migrating that one only.

use serde_json::json;

use super::{client_on, Two};
use crate::cli::{assert_code, command, dbosd, json_out, text};
use crate::harness::{enqueue_req, run_bounded, TestDb};

#[tokio::test]
async fn the_cli_lists_databases_and_works_on_the_one_named() {
    let two = Two::start(|_| {}, None).await;
    let mut req = enqueue_req("echo", "test_queue", vec![json!(1)]);
    req.workflow_id = Some("only-on-b".into());
    client_on(&two.srv, Some("b"), None)
        .enqueue_workflow(req)
        .await
        .unwrap();

    let listed = json_out(
        &dbosd(&two.srv, &["database", "list", "-o", "json"]).await,
        0,
    );
    let names: Vec<&str> = listed
        .as_array()
        .expect("a list")
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["b", "default"], "{listed}");

    let ids = |out: serde_json::Value| -> Vec<String> {
        out.as_array()
            .expect("a list")
            .iter()
            .map(|w| w["workflowId"].as_str().unwrap().to_owned())
            .collect()
    };
    let on_b = dbosd(
        &two.srv,
        &["workflow", "list", "--database", "b", "-o", "json"],
    )
    .await;
    assert_eq!(ids(json_out(&on_b, 0)), ["only-on-b"]);
    let on_default = dbosd(&two.srv, &["workflow", "list", "-o", "json"]).await;
    assert_eq!(ids(json_out(&on_default, 0)), Vec::<String>::new());
    let unknown = dbosd(&two.srv, &["workflow", "list", "--database", "nosuch"]).await;
    assert!(!unknown.status.success());
    let stderr = text(&unknown.stderr);
    assert!(
        stderr.contains("NotFound") && stderr.contains("\"nosuch\""),
        "{stderr}"
    );
    two.srv.stop().await;
}

#[tokio::test]
async fn migrate_migrates_the_databases_named_in_the_config_file() {
    let (c, d) = (TestDb::empty().await, TestDb::empty().await);
    let mut file = tempfile::NamedTempFile::new().unwrap();
    let config = format!(
        "[databases.c]\nurl = \"{}\"\n[databases.d]\nurl = \"{}\"\n",
        c.url, d.url
    );
    std::io::Write::write_all(&mut file, config.as_bytes()).unwrap();
    let path = file.path().to_str().unwrap().to_owned();
    let mut cmd = command();
    cmd.args(["migrate", "--config", &path, "--database", "c"]);
    cmd.env_remove("DBOS_SYSTEM_DATABASE_URL");
    let out = run_bounded(cmd, "dbosd migrate --database c").await;
    assert_code(&out, 0);
    assert_eq!(
        text(&out.stdout).trim(),
        "database c: schema dbos created at version 125"
    );
    let tables = "SELECT count(*) FROM pg_tables WHERE schemaname = 'dbos'";
    assert!(c.count(tables).await > 0);
    assert_eq!(
        d.count(tables).await,
        0,
        "only the named database is migrated"
    );

    let mut cmd = command();
    cmd.args(["migrate", "--config", &path, "--database", "e"]);
    cmd.env_remove("DBOS_SYSTEM_DATABASE_URL");
    let out = run_bounded(cmd, "dbosd migrate --database e").await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no such database"),
        "{}",
        text(&out.stderr)
    );
}
