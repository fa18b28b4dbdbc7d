//! The exported series match what a real DBOS Python worker did: backlog while no worker polls,
//! then completions by name and status, queue completions, dequeue latencies and step durations.

use serde_json::json;

use super::metered_server;
use crate::harness::{
    enqueue_req, eventually, telemetry_sample as sample, wait_terminal, TestDb, Worker, WorkerLang,
    WorkerOptions,
};

const QUEUE: &str = "metrics_q";
/// A queue no worker polls.
const IDLE: &str = "metrics_idle";

#[tokio::test]
async fn a_real_workers_completions_failures_steps_and_dequeues_become_series() {
    let srv = metered_server(TestDb::new().await).await;
    let mut client = srv.client.clone();
    let jobs = [
        ("wm-add-1", "add", vec![json!(1), json!(2)]),
        ("wm-add-2", "add", vec![json!(3), json!(4)]),
        ("wm-fail", "fail", vec![json!("boom")]),
        ("wm-steps", "multi_step", vec![json!(3)]),
    ];
    for (id, name, args) in &jobs {
        let mut req = enqueue_req(name, QUEUE, args.clone());
        req.workflow_id = Some((*id).into());
        client.enqueue_workflow(req).await.expect("enqueue");
    }
    // On a queue no worker polls: it stays ENQUEUED until dead-lettered below.
    let mut req = enqueue_req("never_registered", IDLE, vec![]);
    req.workflow_id = Some("wm-stuck".into());
    client.enqueue_workflow(req).await.expect("enqueue");
    // No worker yet: the whole backlog is ENQUEUED, and its oldest workflow ages.
    let backlog = |status: &str| {
        format!(r#"dbosd_queue_workflows{{database="default",queue="{QUEUE}",status="{status}"}}"#)
    };
    eventually("the backlog of four", || async {
        let scrape = srv.scrape().await;
        let age = sample(
            &scrape,
            &format!(
                r#"dbosd_queue_oldest_workflow_age_seconds{{database="default",queue="{QUEUE}",status="ENQUEUED"}}"#
            ),
        );
        (sample(&scrape, &backlog("ENQUEUED")) == Some(4.0) && age > Some(0.0)).then_some(())
    })
    .await;

    let opts = WorkerOptions {
        queues: vec![QUEUE.into()],
        ..Default::default()
    };
    let worker = Worker::start(WorkerLang::Python, &srv.db.url, opts).await;
    for (id, _, _) in &jobs {
        wait_terminal(&client, id).await;
    }
    // What DBOS does when a workflow exhausts its recovery attempts (the dead-letter status).
    srv.db
        .client()
        .await
        .execute(
            "UPDATE dbos.workflow_status SET status = 'MAX_RECOVERY_ATTEMPTS_EXCEEDED', \
             queue_name = NULL, completed_at = (EXTRACT(EPOCH FROM now()) * 1000)::bigint \
             WHERE workflow_uuid = 'wm-stuck'",
            &[],
        )
        .await
        .expect("dead-letter wm-stuck");
    let steps = srv
        .db
        .texts("SELECT DISTINCT function_name FROM dbos.operation_outputs WHERE workflow_uuid = 'wm-steps'")
        .await;
    assert_eq!(
        steps.len(),
        1,
        "multi_step runs one step function: {steps:?}"
    );
    let step = &steps[0];

    let expected = [
        (r#"dbosd_workflows_completed_total{database="default",name="add",status="SUCCESS"}"#.to_owned(), 2.0),
        (r#"dbosd_workflows_completed_total{database="default",name="fail",status="ERROR"}"#.to_owned(), 1.0),
        (r#"dbosd_workflows_completed_total{database="default",name="multi_step",status="SUCCESS"}"#.to_owned(), 1.0),
        (
            r#"dbosd_workflows_completed_total{database="default",name="never_registered",status="MAX_RECOVERY_ATTEMPTS_EXCEEDED"}"#.to_owned(),
            1.0,
        ),
        (format!(r#"dbosd_queue_workflows_completed_total{{database="default",queue="{QUEUE}",status="SUCCESS"}}"#), 3.0),
        (format!(r#"dbosd_queue_workflows_completed_total{{database="default",queue="{QUEUE}",status="ERROR"}}"#), 1.0),
        (backlog("ENQUEUED"), 0.0),
        (format!(r#"dbosd_queue_dequeue_latency_seconds_count{{database="default",queue="{QUEUE}"}}"#), 4.0),
        (format!(r#"dbosd_step_duration_seconds_count{{database="default",step="{step}"}}"#), 3.0),
        (r#"dbosd_database_up{database="default"}"#.to_owned(), 1.0),
    ];
    let scrape = eventually("the worker's completions in the series", || async {
        let scrape = srv.scrape().await;
        expected
            .iter()
            .all(|(series, value)| sample(&scrape, series) == Some(*value))
            .then_some(scrape)
    })
    .await;
    // Every dequeue waited at least until the worker started: none in the first bucket.
    let first = sample(
        &scrape,
        &format!(
            r#"dbosd_queue_dequeue_latency_seconds_bucket{{le="0.05",database="default",queue="{QUEUE}"}}"#
        ),
    );
    assert_eq!(first, Some(0.0), "{scrape}");
    // Counters grow by windows: a later refresh does not count the same completions again.
    let refreshes = |s: &str| {
        sample(
            s,
            r#"dbosd_workflow_metrics_refreshes_total{database="default",result="ok"}"#,
        )
    };
    let before = refreshes(&scrape).expect("refresh count");
    let later = eventually("two more refreshes", || async {
        let s = srv.scrape().await;
        (refreshes(&s)? >= before + 2.0).then_some(s)
    })
    .await;
    for (series, value) in &expected {
        assert_eq!(sample(&later, series), Some(*value), "{series} in {later}");
    }
    worker.stop().await;
}
