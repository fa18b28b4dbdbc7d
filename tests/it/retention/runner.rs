//! The runner inside dbosd: a workflow a real DBOS worker ran (leaving rows in every table a
//! workflow owns) is deleted with all of them once it is past --retention-max-age, a running one
//! just as old is left alone, and the metrics endpoint says what was deleted.

use std::time::Duration;

use dbosd::pb;
use serde_json::json;

use super::{owned_rows, OWNED};
use crate::harness::{
    enqueue_req, eventually, payload_json, telemetry_sample, wait_terminal, TestDb, TestServer,
    Worker, WorkerLang, WorkerOptions,
};

async fn enqueue(srv: &mut TestServer, id: &str, mut req: pb::EnqueueWorkflowRequest) {
    req.workflow_id = Some(id.to_owned());
    srv.client.enqueue_workflow(req).await.expect("enqueue");
}

#[tokio::test]
async fn the_runner_deletes_an_old_finished_workflow_with_its_rows_and_keeps_a_running_one() {
    let db = TestDb::new().await;
    let mut srv = TestServer::start_on(db, |s| {
        s.retention = Some(dbosd::retention::RetentionPolicy {
            max_age: Some(Duration::from_secs(3_600)),
            max_rows: None,
            interval: Duration::from_millis(200),
            batch_size: 100,
            dry_run: false,
        });
    })
    .await;
    let worker = Worker::start(WorkerLang::Python, &srv.db.url, WorkerOptions::default()).await;
    let traces = enqueue_req("leave_traces", "test_queue", vec![json!("k"), json!("t")]);
    enqueue(&mut srv, "traces", traces).await;
    enqueue(
        &mut srv,
        "running",
        enqueue_req("blocker", "test_queue", vec![json!("never")]),
    )
    .await;
    srv.client
        .send_message(pb::SendMessageRequest {
            destination_id: "traces".into(),
            topic: Some("t".into()),
            message_json: "\"bye\"".into(),
            ..Default::default()
        })
        .await
        .expect("send");
    let done = wait_terminal(&srv.client, "traces").await;
    assert_eq!(payload_json(&done.output)["message"], json!("bye"));
    let ids = ["traces".to_owned()];
    for (table, column) in OWNED {
        assert!(
            owned_rows(&srv.db, table, column, &ids).await > 0,
            "the worker left no row in {table}"
        );
    }
    let running = ["running".to_owned()];
    eventually("the blocker to run", || async {
        let n = srv.db.count("SELECT count(*) FROM dbos.workflow_status WHERE workflow_uuid = 'running' AND status = 'PENDING'").await;
        (n == 1).then_some(())
    })
    .await;

    // Both were created two days ago, as far as the runner can tell.
    srv.db
        .client()
        .await
        .batch_execute("UPDATE dbos.workflow_status SET created_at = created_at - 172800000")
        .await
        .unwrap();
    eventually("the runner to delete the finished workflow", || async {
        (owned_rows(&srv.db, "workflow_status", "workflow_uuid", &ids).await == 0).then_some(())
    })
    .await;
    for (table, column) in OWNED {
        assert_eq!(
            owned_rows(&srv.db, table, column, &ids).await,
            0,
            "{table} keeps rows"
        );
    }
    assert_eq!(
        owned_rows(&srv.db, "workflow_status", "workflow_uuid", &running).await,
        1
    );
    assert!(owned_rows(&srv.db, "workflow_input", "workflow_uuid", &running).await > 0);

    let scrape = srv.scrape().await;
    assert_eq!(
        telemetry_sample(
            &scrape,
            r#"dbosd_retention_deleted_workflows_total{database="default"}"#
        ),
        Some(1.0),
        "{scrape}"
    );
    let steps = telemetry_sample(
        &scrape,
        r#"dbosd_retention_deleted_rows_total{database="default",table="operation_outputs"}"#,
    );
    assert!(steps.is_some_and(|n| n >= 1.0), "{scrape}");
    assert!(telemetry_sample(
        &scrape,
        r#"dbosd_retention_batches_total{database="default"}"#
    )
    .is_some_and(|n| n >= 1.0));
    assert!(telemetry_sample(
        &scrape,
        r#"dbosd_retention_last_run_timestamp_seconds{database="default"}"#
    )
    .is_some_and(|t| t > 1.7e9));
    assert_eq!(
        telemetry_sample(
            &scrape,
            r#"dbosd_retention_errors_total{database="default"}"#
        ),
        Some(0.0)
    );
    worker.stop().await;
    srv.stop().await;
}
