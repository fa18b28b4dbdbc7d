//! Exhaustion against the real binary: a flood of waits and streams that are never read, callers
//! that abandon their calls while a table is locked, and the memory all of it leaves behind. Waits
//! beyond the caps are refused (RESOURCE_EXHAUSTED), unary calls and health stay served throughout,
//! nothing is left waiting in PostgreSQL, and the resident set returns near where it was.

use std::time::Duration;

use dbosd::pb;
use futures::future::join_all;
use tonic::{Code, Request};

use super::{assert_alive, crash::spawn};
use crate::auth::setup::{client_as, tokens_file, ALPHA, OPS};
use crate::harness::{eventually, health_status, TestDb};
use crate::overload::abandonment::lock_status_table;

fn secs(seconds: i64) -> Option<prost_types::Duration> {
    Some(prost_types::Duration { seconds, nanos: 0 })
}

#[tokio::test]
async fn floods_of_waits_unread_streams_and_abandoned_calls_stay_bounded() {
    let (db, tokens) = (TestDb::new().await, tokens_file());
    let mut dbosd = spawn(
        &db,
        &tokens,
        &["--max-streams", "100", "--max-hub-keys", "150"],
    )
    .await;
    let baseline = dbosd.rss_kib().expect("dbosd runs");
    let alpha = client_as(&dbosd.channel, ALPHA);

    // 1. Waits on ids and keys that never appear, far more than --max-streams allows:
    // GetEvent waits, AwaitWorkflow and WatchEvent streams, none of them ever read.
    let mut streams = Vec::new();
    let mut refused = 0;
    for round in 0..3 {
        let waits = (0..400).map(|i| {
            let mut c = alpha.clone();
            async move {
                c.get_event(pb::GetEventRequest {
                    workflow_id: format!("ghost-{round}-{i}"),
                    key: format!("k-{i}"),
                    timeout: secs(2),
                })
                .await
            }
        });
        let mut opened = Vec::new();
        for i in 0..400 {
            let mut c = alpha.clone();
            let answer = c
                .await_workflow(pb::AwaitWorkflowRequest {
                    workflow_id: format!("never-{round}-{i}"),
                    timeout: secs(60),
                    ..Default::default()
                })
                .await;
            match answer {
                Ok(stream) => opened.push(stream.into_inner()),
                Err(status) => {
                    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
                    refused += 1;
                }
            }
        }
        // Unary calls and health are never starved by the waits.
        assert_alive(&dbosd.channel).await;
        for answer in join_all(waits).await {
            if let Err(status) = answer {
                assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
                refused += 1;
            }
        }
        streams.push(opened);
    }
    assert!(refused > 0, "the stream cap refused nothing");
    drop(streams);

    // 2. Callers that leave mid-statement while the status table is locked.
    let locker = lock_status_table(&db).await;
    let abandoned = (0..50).map(|_| {
        let mut c = alpha.clone();
        async move {
            let mut req = Request::new(pb::ListWorkflowsRequest::default());
            req.set_timeout(Duration::from_millis(200));
            c.list_workflows(req).await
        }
    });
    for answer in join_all(abandoned).await {
        let status = answer.expect_err("the table is locked");
        assert!(
            matches!(
                status.code(),
                Code::DeadlineExceeded | Code::Cancelled | Code::ResourceExhausted
            ),
            "{status:?}"
        );
    }
    // The hub's own poll (one statement per tick, for the waits still subscribed) waits behind
    // the lock too; what must not wait is any statement of a caller that left.
    eventually("no abandoned statement left waiting", || async {
        let callers = db
            .count(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
                 AND wait_event_type = 'Lock' AND query NOT LIKE '%UNION ALL SELECT ''e''%'",
            )
            .await;
        (callers == 0).then_some(())
    })
    .await;
    assert_eq!(
        health_status(&dbosd.channel).await,
        Some(tonic_health::pb::health_check_response::ServingStatus::Serving)
    );
    drop(locker);

    // 3. A watch that is never read while thousands of changes stream past it.
    let _unread = client_as(&dbosd.channel, OPS)
        .watch_workflows(pb::WatchWorkflowsRequest::default())
        .await
        .expect("a watch opens")
        .into_inner();
    let mut ops = client_as(&dbosd.channel, OPS);
    let mut batch = pb::EnqueueWorkflowsRequest::default();
    for i in 0..2000 {
        let mut req =
            crate::harness::enqueue_req("wf", "q", vec![serde_json::json!("x".repeat(2000))]);
        req.workflow_id = Some(format!("flood-{i}"));
        req.application_name = Some("alpha".into());
        batch.workflows.push(req);
        if batch.workflows.len() == 500 {
            ops.enqueue_workflows(std::mem::take(&mut batch))
                .await
                .expect("a batch enqueues");
        }
    }
    assert!(dbosd.try_exited().is_none(), "dbosd died:\n{}", dbosd.log());
    assert_alive(&dbosd.channel).await;
    // Memory returns near the baseline once the waits are gone (allocator slack allowed).
    let bound = baseline + 150 * 1024;
    eventually("the resident set returns near its baseline", || async {
        let rss = dbosd.rss_kib()?;
        (rss < bound).then_some(())
    })
    .await;
}
