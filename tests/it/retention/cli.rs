//! `dbosd retention`: `policy` shows what the flags and environment configure, `run --dry-run`
//! says what a round would delete and deletes nothing, `run` deletes it, and without a bound the
//! command refuses in the flags' terms; with `--database NAME --config FILE` both use that
//! database of the servers' config file, under its own bounds over the flags'.

use super::seed_old;
use crate::cli::{assert_code, command, text};
use crate::harness::{run_bounded, TestDb};

async fn retention(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = command();
    cmd.arg("retention").args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_bounded(cmd, &format!("dbosd retention {}", args.join(" "))).await
}

#[tokio::test]
async fn the_retention_command_shows_previews_and_runs_the_policy() {
    let out = retention(
        &["policy"],
        &[
            ("DBOSD_RETENTION_MAX_AGE", "30d"),
            ("DBOSD_RETENTION_MAX_ROWS", "1000"),
        ],
    )
    .await;
    assert_code(&out, 0);
    assert_eq!(
        text(&out.stdout).trim(),
        "delete finished workflows older than 30d, beyond the newest 1000 workflows; every 5m, 1000 per batch"
    );
    let off = retention(&["policy"], &[]).await;
    assert_code(&off, 1);
    assert!(
        text(&off.stderr).contains("--retention-max-age"),
        "{}",
        text(&off.stderr)
    );
    let bad = retention(&["policy", "--retention-max-age", "soon"], &[]).await;
    assert_code(&bad, 2);

    let db = TestDb::new().await;
    seed_old(&db, 8, 3).await;
    let url = db.url.as_str();
    let dry = retention(
        &[
            "run",
            "--dry-run",
            "--database-url",
            url,
            "--retention-max-age",
            "1h",
        ],
        &[],
    )
    .await;
    assert_code(&dry, 0);
    let shown = text(&dry.stdout);
    assert!(shown.contains("would_delete_workflows: 8"), "{shown}");
    assert!(shown.contains("  SUCCESS: 2"), "{shown}");
    assert_eq!(
        db.workflow_ids().await.len(),
        11,
        "a dry run deletes nothing"
    );

    let run = retention(
        &[
            "run",
            "--database-url",
            url,
            "--retention-max-age",
            "1h",
            "--retention-batch-size",
            "3",
        ],
        &[],
    )
    .await;
    assert_code(&run, 0);
    let shown = text(&run.stdout);
    assert!(shown.contains("deleted_workflows: 8"), "{shown}");
    assert!(shown.contains("batches: 3"), "{shown}");
    assert!(shown.contains("  operation_outputs: 8"), "{shown}");
    assert_eq!(db.workflow_ids().await.len(), 3);
}

#[tokio::test]
async fn the_retention_command_applies_a_config_databases_own_bounds() {
    let db = TestDb::new().await;
    seed_old(&db, 8, 3).await;
    let mut config = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(
        &mut config,
        format!(
            "[databases.b]\nurl = \"{}\"\nretention_max_rows = 2\n[databases.off]\nurl = \"{}\"\nretention = false\n",
            db.url, db.url
        )
        .as_bytes(),
    )
    .unwrap();
    let file = config.path().to_str().unwrap();
    // The flags' 30 days, and b's own bound of 2 rows over them.
    let flags = ["--retention-max-age", "30d", "--config", file];
    let policy = retention(&[&["policy", "--database", "b"], &flags[..]].concat(), &[]).await;
    assert_code(&policy, 0);
    assert_eq!(
        text(&policy.stdout).trim(),
        "delete finished workflows older than 30d, beyond the newest 2 workflows; every 5m, 1000 per batch"
    );
    let off = retention(
        &[&["policy", "--database", "off"], &flags[..]].concat(),
        &[],
    )
    .await;
    assert_code(&off, 1);
    assert!(
        text(&off.stderr).contains("retention = false"),
        "{}",
        text(&off.stderr)
    );
    let unknown = retention(
        &[&["policy", "--database", "nosuch"], &flags[..]].concat(),
        &[],
    )
    .await;
    assert_code(&unknown, 1);
    assert!(
        text(&unknown.stderr).contains("no such database"),
        "{}",
        text(&unknown.stderr)
    );

    // Under the flags alone the day-old workflows stay; as b, the finished ones older than the
    // newest 2 go (6 of them; the 3 running ones stay with the newest 2).
    let url = db.url.as_str();
    let flags_only = retention(
        &["run", "--database-url", url, "--retention-max-age", "30d"],
        &[],
    )
    .await;
    assert_code(&flags_only, 0);
    assert_eq!(
        db.workflow_ids().await.len(),
        11,
        "{}",
        text(&flags_only.stdout)
    );
    let as_b = retention(&[&["run", "--database", "b"], &flags[..]].concat(), &[]).await;
    assert_code(&as_b, 0);
    let shown = text(&as_b.stdout);
    assert!(shown.contains("deleted_workflows: 6"), "{shown}");
    assert_eq!(db.workflow_ids().await.len(), 5);
}
