//! A refresh that cannot read the system database says so (`dbosd_database_up` 0, an error
//! refresh, the series kept as they were), and the next one that can turns it back to 1.

use super::metered_server;
use crate::harness::{eventually, telemetry_sample as sample, TestDb};

const UP: &str = r#"dbosd_database_up{database="default"}"#;
const FAILED: &str = r#"dbosd_workflow_metrics_refreshes_total{database="default",result="error"}"#;

#[tokio::test]
async fn a_failing_refresh_reports_the_database_down_until_one_succeeds() {
    let srv = metered_server(TestDb::new().await).await;
    eventually("a first good refresh", || async {
        (sample(&srv.scrape().await, UP) == Some(1.0)).then_some(())
    })
    .await;
    let db = srv.db.client().await;
    // The refresh's table gone for a while, as during a failed restore: its statement fails.
    db.batch_execute("ALTER TABLE dbos.operation_outputs RENAME TO operation_outputs_away")
        .await
        .expect("hide the table");
    let scrape = eventually("a failed refresh", || async {
        let scrape = srv.scrape().await;
        (sample(&scrape, UP) == Some(0.0)).then_some(scrape)
    })
    .await;
    assert!(sample(&scrape, FAILED) >= Some(1.0), "{scrape}");
    db.batch_execute("ALTER TABLE dbos.operation_outputs_away RENAME TO operation_outputs")
        .await
        .expect("restore the table");
    eventually("a good refresh again", || async {
        (sample(&srv.scrape().await, UP) == Some(1.0)).then_some(())
    })
    .await;
}
