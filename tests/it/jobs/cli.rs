//! `dbosd job start|list|describe|watch|abort` against a live dbosd: a dry run counts, a started
//! job is watched to its end (exit 0 on COMPLETED), listed and described; aborting a finished job
//! exits 1 with the RPC's message, and flags that do not fit the operation are a usage error.

use serde_json::Value as Json;

use super::{count_status, enqueue_many};
use crate::cli::{assert_code, dbosd, json_out, text};

#[tokio::test]
async fn job_commands_start_watch_list_describe_and_abort() {
    let srv = super::server().await;
    enqueue_many(&srv.client, "cj-", 120).await;

    let dry = dbosd(
        &srv,
        &[
            "job",
            "start",
            "cancel",
            "--prefix",
            "cj-",
            "--dry-run",
            "-o",
            "json",
        ],
    )
    .await;
    assert_eq!(json_out(&dry, 0)["matched"], 120);

    let args = [
        "job",
        "start",
        "cancel",
        "--prefix",
        "cj-",
        "--job-id",
        "cli-job",
        "--batch-size",
        "50",
        "--watch",
        "-o",
        "jsonl",
    ];
    let watched = dbosd(&srv, &args).await;
    assert_code(&watched, 0);
    let events: Vec<Json> = text(&watched.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let last = events.last().expect("at least the final state");
    assert_eq!(last["state"], "COMPLETED", "{events:?}");
    assert_eq!(
        (last["processed"].as_i64(), last["changed"].as_i64()),
        (Some(120), Some(120))
    );
    assert_eq!(last["batches"], 3);
    assert_eq!(count_status(&srv.db, "cj-", "CANCELLED").await, 120);

    let listed = json_out(
        &dbosd(&srv, &["job", "list", "--state", "completed", "-o", "json"]).await,
        0,
    );
    assert_eq!(listed[0]["jobId"], "cli-job", "{listed}");
    let described = json_out(
        &dbosd(&srv, &["job", "describe", "cli-job", "-o", "json"]).await,
        0,
    );
    assert_eq!(described["operation"], "CANCEL");
    assert_eq!(described["total"], 120);

    let abort = dbosd(&srv, &["job", "abort", "cli-job"]).await;
    assert_code(&abort, 1);
    assert!(
        text(&abort.stderr).starts_with("dbosd: AbortBulkJob: "),
        "{}",
        text(&abort.stderr)
    );
    assert!(text(&abort.stderr).contains("already finished (COMPLETED)"));

    let misfit = dbosd(
        &srv,
        &[
            "job",
            "start",
            "cancel",
            "--prefix",
            "cj-",
            "--to-queue",
            "q",
        ],
    )
    .await;
    assert_code(&misfit, 2);
    assert!(text(&misfit.stderr).contains("--to-queue applies only to resume and fork"));
    let bad_state = dbosd(&srv, &["job", "list", "--state", "done"]).await;
    assert_code(&bad_state, 2);
    srv.stop().await;
}
