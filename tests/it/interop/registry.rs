//! Real workers obey the registries as dbosd writes them: queue limits set (and changed) through
//! dbosd, the latest application version set through dbosd, and a Transact's enqueue + send.

use dbosd::pb::{self, WorkflowStatus};
use prost_types::{FieldMask, Timestamp};
use serde_json::json;

use super::{enqueue, with_id};
use crate::harness::{
    enqueue_req, payload_json, pv, wait_terminal, TestDb, TestServer, Worker, WorkerLang,
    WorkerOptions, WAIT,
};

on_both_workers!(
    queue_limits_set_through_dbosd_are_honoured,
    setting_the_latest_version_moves_unpinned_work,
    a_transact_enqueue_and_send_reach_the_worker,
);

fn ms(t: &Option<Timestamp>) -> i64 {
    let t = t.expect("timestamp");
    t.seconds * 1000 + i64::from(t.nanos / 1_000_000)
}

/// Enqueues `n` `sleepy(0.5)` workflows on `queue` in one EnqueueWorkflows call (one transaction,
/// so the worker's next poll sees them all at once) and returns their (dequeued, completed) times.
async fn run_sleepers(srv: &mut TestServer, queue: &str, tag: &str, n: usize) -> Vec<(i64, i64)> {
    let ids: Vec<String> = (0..n).map(|i| format!("{tag}-{i}")).collect();
    let workflows = ids
        .iter()
        .map(|id| with_id(enqueue_req("sleepy", queue, vec![json!(0.5)]), id))
        .collect();
    srv.client
        .enqueue_workflows(pb::EnqueueWorkflowsRequest { workflows })
        .await
        .expect("enqueue the sleepers");
    let mut spans = Vec::new();
    for id in &ids {
        let done = wait_terminal(&srv.client, id).await;
        assert_eq!(done.status(), WorkflowStatus::Success, "{id}: {done:?}");
        spans.push((ms(&done.dequeued_at), ms(&done.completed_at)));
    }
    spans.sort();
    spans
}

async fn queue_limits_set_through_dbosd_are_honoured(lang: WorkerLang) {
    let mut srv = TestServer::start().await;
    // Registered through dbosd only (the worker app does not know this queue), unclaimed, with
    // global concurrency 1 and a fast poll.
    srv.client
        .register_queue(pb::RegisterQueueRequest {
            queue: Some(pb::Queue {
                name: "limited_queue".into(),
                concurrency: Some(1),
                polling_interval: Some(prost_types::Duration {
                    seconds: 0,
                    nanos: 100_000_000,
                }),
                ..Default::default()
            }),
            on_conflict: 0,
        })
        .await
        .unwrap();
    let worker = Worker::start(lang, &srv.db.url, WorkerOptions::default()).await;

    let serial = run_sleepers(&mut srv, "limited_queue", "serial", 3).await;
    // The two times come from different clocks (a transaction's start and the worker's), which
    // can disagree by a few ms; without the limit the 0.5 s sleeps would overlap by ~500 ms.
    for pair in serial.windows(2) {
        assert!(
            pair[1].0 + 50 >= pair[0].1,
            "with concurrency 1 a workflow starts only after the previous one ended: {serial:?}"
        );
    }

    // Lift the limit while the worker runs: it re-reads the queue on every poll.
    srv.client
        .update_queue(pb::UpdateQueueRequest {
            queue: Some(pb::Queue {
                name: "limited_queue".into(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["concurrency".into()],
            }),
        })
        .await
        .unwrap();
    // A worker re-reads a registered queue on its own schedule (the TypeScript one may start a
    // batch under the old limit), so batches run, bounded, until one runs all at once.
    let deadline = tokio::time::Instant::now() + WAIT;
    for batch in 0.. {
        let tag = format!("parallel-{batch}");
        let parallel = run_sleepers(&mut srv, "limited_queue", &tag, 3).await;
        let last_start = parallel.iter().map(|s| s.0).max().unwrap();
        let first_end = parallel.iter().map(|s| s.1).min().unwrap();
        if last_start < first_end {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "without a limit all three run at once: {parallel:?}"
        );
    }
    worker.stop().await;
    srv.stop().await;
}

async fn setting_the_latest_version_moves_unpinned_work(lang: WorkerLang) {
    let mut srv = TestServer::start_on(TestDb::new().await, |_| {}).await;
    let start = |version: &str| {
        Worker::start(
            lang,
            &srv.db.url,
            WorkerOptions {
                app_version: Some(version.into()),
                ..Default::default()
            },
        )
    };
    // Both workers of one application; v2 registers last, so it starts as the latest.
    let v1 = start("v1").await;
    let v2 = start("v2").await;
    let latest = srv
        .client
        .get_latest_application_version(pb::GetLatestApplicationVersionRequest::default())
        .await
        .unwrap()
        .into_inner()
        .version
        .unwrap();
    assert_eq!(latest.version_name, "v2");

    for (version, id) in [("v1", "to-v1"), ("v2", "to-v2"), ("v1", "back-to-v1")] {
        srv.client
            .set_latest_application_version(pb::SetLatestApplicationVersionRequest {
                version_name: version.into(),
                application_name: None,
            })
            .await
            .unwrap();
        enqueue(
            &mut srv,
            with_id(enqueue_req("echo", "test_queue", vec![json!(id)]), id),
        )
        .await;
        let done = wait_terminal(&srv.client, id).await;
        assert_eq!(
            done.app_version, version,
            "unpinned work runs on the version set latest through dbosd"
        );
    }
    let versions = srv
        .client
        .list_application_versions(pb::ListApplicationVersionsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .versions;
    let names: Vec<&str> = versions.iter().map(|v| v.version_name.as_str()).collect();
    assert_eq!(names, ["v1", "v2"]);
    v1.stop().await;
    v2.stop().await;
    srv.stop().await;
}

async fn a_transact_enqueue_and_send_reach_the_worker(lang: WorkerLang) {
    let (mut srv, worker) = super::with_worker(lang).await;
    let mut recv = enqueue_req("wait_recv", "test_queue", vec![json!("topic"), json!(30)]);
    recv.workflow_id = Some("tx-recv".into());
    let op = |operation| pb::TransactOperation {
        operation: Some(operation),
    };
    srv.client
        .transact(pb::TransactRequest {
            operations: vec![
                op(pb::transact_operation::Operation::Enqueue(recv)),
                op(pb::transact_operation::Operation::Send(
                    pb::SendMessageRequest {
                        destination_id: "tx-recv".into(),
                        topic: Some("topic".into()),
                        message: Some(pv(json!({"sent": "with the enqueue"}))),
                        ..Default::default()
                    },
                )),
            ],
        })
        .await
        .unwrap();
    let done = wait_terminal(&srv.client, "tx-recv").await;
    assert_eq!(
        payload_json(&done.output),
        json!({"sent": "with the enqueue"})
    );
    worker.stop().await;
    srv.stop().await;
}
