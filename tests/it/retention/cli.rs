//! `dbosd retention`: `policy` shows what the flags and environment configure, `run --dry-run`
//! says what a round would delete and deletes nothing, `run` deletes it, and without a bound the
//! command refuses in the flags' terms.

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
