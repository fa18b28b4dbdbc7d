//! Each served database has its own background work, started and stopped with it: the retention
//! runner deletes old finished workflows on the default database and on `b` (a different cluster),
//! each under its own bounds (their own tables keep workflows the flags' bound would delete); a
//! database added by a reload gets its runner and its workflow-metrics refresher, and a database
//! removed by one loses its gauges.

use std::time::Duration;

use dbosd::{
    retention::{RetentionOverride, RetentionPolicy},
    telemetry::workflow_metrics::WorkflowMetricsSettings,
};
use serde_json::json;

use super::{client_on, DbClient, Two};
use crate::harness::{
    enqueue_req, eventually, finish_as_worker, telemetry_sample as sample, TestDb,
};

const DAY_MS: i64 = 86_400_000;

/// The config file: `b` with its own 30-day bound, and `c` when given.
fn config(b_url: &str, c_url: Option<&str>) -> String {
    let mut text =
        format!("[databases.b]\nurl = \"{b_url}\"\nmigrate = true\nretention_max_age = \"30d\"\n");
    if let Some(c) = c_url {
        text += &format!("[databases.c]\nurl = \"{c}\"\nmigrate = true\n");
    }
    text
}

/// Finished workflows `(id, days ago)` on `client`'s database `db`, as a worker leaves them, all
/// aged in one statement so that a retention round sees them all or none.
async fn finished(client: &mut DbClient, db: &TestDb, workflows: &[(&str, i64)]) {
    for (id, _) in workflows {
        let mut req = enqueue_req("echo", "test_queue", vec![json!(id)]);
        req.workflow_id = Some((*id).to_owned());
        client.enqueue_workflow(req).await.expect("enqueue");
        finish_as_worker(db, id, "1").await;
    }
    let cases: String = workflows
        .iter()
        .map(|(id, days)| format!("WHEN '{id}' THEN {} ", days * DAY_MS))
        .collect();
    let sql = format!(
        "UPDATE dbos.workflow_status SET created_at = created_at - CASE workflow_uuid {cases}ELSE 0 END"
    );
    db.client().await.batch_execute(&sql).await.expect("age");
}

async fn exists(db: &TestDb, id: &str) -> bool {
    let sql = format!("SELECT count(*) FROM dbos.workflow_status WHERE workflow_uuid = '{id}'");
    db.count(&sql).await == 1
}

/// Waits until `id` is deleted from `db`.
async fn deleted(db: &TestDb, id: &str) {
    eventually(&format!("retention to delete {id}"), || async {
        (!exists(db, id).await).then_some(())
    })
    .await
}

#[tokio::test]
async fn each_database_runs_its_own_retention_and_a_reloaded_one_starts_its_tasks() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let path = file.path().to_owned();
    let c_db = TestDb::new().await;
    let two = Two::start(
        |s| {
            s.retention = Some(RetentionPolicy {
                max_age: Some(Duration::from_secs(3_600)),
                interval: Duration::from_millis(200),
                ..RetentionPolicy::default()
            });
            // The default database's own table (a config file's `default`): 3 days.
            s.default_retention = RetentionOverride {
                max_age: Some(Duration::from_secs(3 * 86_400)),
                ..RetentionOverride::default()
            };
            // As the file below says, so the first reload leaves b alone.
            s.databases[0].retention = RetentionOverride {
                max_age: Some(Duration::from_secs(30 * 86_400)),
                ..RetentionOverride::default()
            };
            s.workflow_metrics = WorkflowMetricsSettings {
                interval: Duration::from_millis(200),
                max_names: 100,
            };
            s.config_file = Some(path.clone());
            s.config_poll = Duration::from_millis(100);
        },
        None,
    )
    .await;
    let b_url = two.b_db.url.clone();
    let mut a = client_on(&two.srv, None, None);
    let mut b = client_on(&two.srv, Some("b"), None);
    finished(&mut a, &two.srv.db, &[("a-old", 4), ("a-kept", 2)]).await;
    finished(&mut b, &two.b_db, &[("b-older", 40), ("b-old", 2)]).await;

    // Each database's own bound over the flags' hour: 3 days on the default one, 30 on b.
    deleted(&two.srv.db, "a-old").await;
    deleted(&two.b_db, "b-older").await;
    // The rounds that deleted a-old and b-older saw a-kept and b-old too (aged in the same
    // statement): they kept them.
    assert!(
        exists(&two.srv.db, "a-kept").await,
        "the default database's own bound was not honored"
    );
    assert!(
        exists(&two.b_db, "b-old").await,
        "b's own bound was not honored"
    );

    // A reload adds c: its runner deletes (under the flags' hour) and its metrics refresh.
    std::fs::write(&path, config(&b_url, Some(&c_db.url))).unwrap();
    two.wait_open("c", None).await;
    let mut c = client_on(&two.srv, Some("c"), None);
    finished(&mut c, &c_db, &[("c-old", 2)]).await;
    deleted(&c_db, "c-old").await;
    let c_up = r#"dbosd_database_up{database="c"}"#;
    let scrape = eventually("c's workflow metrics", || async {
        let scrape = two.srv.scrape().await;
        (sample(&scrape, c_up) == Some(1.0)).then_some(scrape)
    })
    .await;
    for database in ["default", "b", "c"] {
        let series = format!(r#"dbosd_retention_deleted_workflows_total{{database="{database}"}}"#);
        assert_eq!(sample(&scrape, &series), Some(1.0), "{series} in {scrape}");
    }
    assert!(exists(&two.b_db, "b-old").await);

    // A reload removes c: its gauges go (its refresher stopped with it), b's stay.
    std::fs::write(&path, config(&b_url, None)).unwrap();
    let scrape = eventually("c's gauges to go", || async {
        let scrape = two.srv.scrape().await;
        sample(&scrape, c_up).is_none().then_some(scrape)
    })
    .await;
    let b_up = r#"dbosd_database_up{database="b"}"#;
    assert_eq!(sample(&scrape, b_up), Some(1.0), "{scrape}");
    two.srv.stop().await;
}
