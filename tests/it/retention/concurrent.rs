//! Three retention runners at once on one database (three tasks, each with its own pool, as three
//! replicas would be), straight to PostgreSQL and through a transaction-pooling pgbouncer: together
//! they delete every finished workflow exactly once, with its rows, and never one still running. A
//! dry run before counts the same workflows and deletes nothing. A round finds the lock a DBOS SDK
//! holds (a session lock on the same key) and leaves the work to it. The row bound.

use std::time::Duration;

use dbosd::{
    config::Settings,
    repo::{retention::lock_key, Repo},
    retention::{run_round, RetentionPolicy, RoundEnd},
    server,
};

use super::{owned_rows, seed_old, OWNED};
use crate::harness::{Pgbouncer, TestDb, WAIT};

const FINISHED: i32 = 240;
const RUNNING: i32 = 30;

async fn repo(db: &TestDb) -> Repo {
    server::prepare(&Settings::new(db.url.clone()))
        .await
        .expect("prepare a repository")
}

/// A repository whose pool goes through `pooled` (a pgbouncer in transaction mode).
async fn repo_via(db: &TestDb, pooled: &str) -> Repo {
    let mut settings = Settings::new(pooled.to_owned());
    settings.direct_database_url = Some(db.url.clone());
    server::prepare(&settings)
        .await
        .expect("prepare a repository")
}

fn policy() -> RetentionPolicy {
    RetentionPolicy {
        max_age: Some(Duration::from_secs(3_600)),
        max_rows: None,
        interval: Duration::from_secs(1),
        // Small batches, so the runners' transactions interleave.
        batch_size: 7,
        dry_run: false,
    }
}

fn ids(prefix: &str, n: i32) -> Vec<String> {
    (1..=n).map(|i| format!("{prefix}-{i}")).collect()
}

#[tokio::test]
async fn three_runners_delete_each_finished_workflow_once_and_never_a_running_one() {
    let db = TestDb::new().await;
    let repos = [repo(&db).await, repo(&db).await, repo(&db).await];
    three_runners(&db, repos).await;
}

#[tokio::test]
async fn three_runners_through_a_transaction_pooling_pgbouncer_do_the_same() {
    let db = TestDb::new().await;
    let bouncer = Pgbouncer::start(&db, 2).await;
    let url = bouncer.url.clone();
    let repos = [
        repo_via(&db, &url).await,
        repo_via(&db, &url).await,
        repo_via(&db, &url).await,
    ];
    three_runners(&db, repos).await;
}

#[tokio::test]
async fn a_round_leaves_the_work_to_an_sdk_holding_the_retention_lock() {
    let db = TestDb::new().await;
    seed_old(&db, 5, 1).await;
    let repo = repo(&db).await;
    let sdk = db.client().await;
    let key = lock_key("dbos");
    sdk.execute("SELECT pg_advisory_lock($1)", &[&key])
        .await
        .unwrap();
    let report = run_round(&repo, &policy(), false).await.expect("round");
    assert_eq!((report.end, report.workflows), (RoundEnd::Busy, 0));
    assert_eq!(db.workflow_ids().await.len(), 6);
    sdk.execute("SELECT pg_advisory_unlock($1)", &[&key])
        .await
        .unwrap();
    let report = run_round(&repo, &policy(), false).await.expect("round");
    assert_eq!((report.end, report.workflows), (RoundEnd::Done, 5));
}

async fn three_runners(db: &TestDb, repos: [Repo; 3]) {
    seed_old(db, FINISHED, RUNNING).await;

    let preview = run_round(&repos[0], &policy(), true)
        .await
        .expect("dry run");
    let would: i64 = preview.would_delete.iter().map(|d| d.workflows).sum();
    assert_eq!(would, i64::from(FINISHED), "{preview:?}");
    assert_eq!(
        preview.would_delete.len(),
        4,
        "one line per finished status"
    );
    assert_eq!(
        db.count("SELECT count(*) FROM dbos.workflow_status").await,
        i64::from(FINISHED + RUNNING)
    );

    // Each runner loops until its own round completes (a busy round means another one was at it).
    let rounds = repos.iter().map(|repo| async move {
        let mut deleted = 0;
        loop {
            let report = run_round(repo, &policy(), false).await.expect("round");
            deleted += report.workflows;
            if report.end == RoundEnd::Done {
                return deleted;
            }
            tokio::task::yield_now().await;
        }
    });
    let deleted = tokio::time::timeout(WAIT, futures::future::join_all(rounds))
        .await
        .expect("the rounds finish");
    assert_eq!(deleted.iter().sum::<u64>(), FINISHED as u64, "{deleted:?}");

    let done = ids("done", FINISHED);
    let live = ids("live", RUNNING);
    for (table, column) in OWNED {
        assert_eq!(
            owned_rows(db, table, column, &done).await,
            0,
            "{table} keeps rows of deleted workflows"
        );
    }
    assert_eq!(db.workflow_ids().await.len(), RUNNING as usize);
    for (table, column) in [
        ("workflow_status", "workflow_uuid"),
        ("operation_outputs", "workflow_uuid"),
        ("workflow_input", "workflow_uuid"),
        ("notifications", "destination_uuid"),
    ] {
        assert_eq!(
            owned_rows(db, table, column, &live).await,
            i64::from(RUNNING),
            "{table} lost rows of running workflows"
        );
    }
}

#[tokio::test]
async fn a_row_bound_keeps_the_newest_workflows_of_any_status() {
    let db = TestDb::new().await;
    // The newest five: live-1..4 and done-10, moved a second later than the rest.
    seed_old(&db, 10, 4).await;
    db.client()
        .await
        .batch_execute(
            "UPDATE dbos.workflow_status SET created_at = created_at + 1000 \
             WHERE workflow_uuid LIKE 'live-%' OR workflow_uuid = 'done-10'",
        )
        .await
        .unwrap();
    let repo = repo(&db).await;
    let rows_only = RetentionPolicy {
        max_age: None,
        max_rows: Some(5),
        ..policy()
    };
    let report = run_round(&repo, &rows_only, false).await.expect("round");
    assert_eq!(report.workflows, 9, "{report:?}");
    let mut left = db.workflow_ids().await;
    left.sort();
    assert_eq!(left, ["done-10", "live-1", "live-2", "live-3", "live-4"]);
    // Fewer workflows than the bound: nothing applies.
    let loose = RetentionPolicy {
        max_rows: Some(100),
        ..rows_only
    };
    let report = run_round(&repo, &loose, false).await.expect("round");
    assert_eq!((report.end, report.workflows), (RoundEnd::NoCutoff, 0));
}
