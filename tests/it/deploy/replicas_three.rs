//! Three real dbosd processes on one database (issue #17, item 6): a result written by a real DBOS
//! worker wakes the waits on every replica; a bulk job runs once, each workflow processed exactly
//! once, even when the replica running it is killed mid-job and another takes it over; and the
//! drain (SIGTERM) of one replica loses nothing: its open waits end UNAVAILABLE with a retry hint
//! and the retry on another replica succeeds, and each enqueue in flight is either acknowledged
//! (and in the table) or failed UNAVAILABLE.
//!
//! Retention (issue #17, item 3) runs once per database the same way; its test belongs with it.

use dbosd::pb::{
    await_workflow_response::Kind, workflow_service_client::WorkflowServiceClient,
    AwaitWorkflowResponse, BulkJobState, SendMessageRequest, WorkflowStatus,
};
use serde_json::json;
use tonic::{transport::Channel, Code};

use crate::harness::{
    enqueue_req, eventually, open_await, outcome_of, pv, Dbosd, TestDb, Worker, WorkerLang,
    WorkerOptions, WAIT,
};
use crate::jobs::{cancel_job, count_status, describe, enqueue_many, takeovers, wait_state};

const INTERNAL_QUEUE: &str = "_dbos_internal_queue";

async fn replica(db: &TestDb) -> Dbosd {
    let args = [
        "--database-url",
        &db.url,
        "--listen",
        "127.0.0.1:0",
        "--health-interval-ms",
        "200",
        "--bulk-job-lease-ms",
        "1500",
    ];
    Dbosd::spawn(&args, &[], Dbosd::READY).await
}

async fn three(db: &TestDb) -> Vec<Dbosd> {
    vec![replica(db).await, replica(db).await, replica(db).await]
}

fn client(r: &Dbosd) -> WorkflowServiceClient<Channel> {
    WorkflowServiceClient::new(r.channel.clone())
}

/// Enqueues `wait_recv("go", 60)` as `id`: the worker runs it and waits for a message.
async fn enqueue_waiter(client: &WorkflowServiceClient<Channel>, id: &str) {
    let mut req = enqueue_req("wait_recv", INTERNAL_QUEUE, vec![json!("go"), json!(60)]);
    req.workflow_id = Some(id.into());
    client.clone().enqueue_workflow(req).await.expect("enqueue");
}

async fn send_go(client: &WorkflowServiceClient<Channel>, id: &str) {
    let sent = client
        .clone()
        .send_message(SendMessageRequest {
            destination_id: id.into(),
            topic: Some("go".into()),
            message: Some(pv(json!("hi"))),
            ..Default::default()
        })
        .await
        .expect("SendMessage");
    assert!(sent.into_inner().delivered);
}

#[tokio::test]
async fn three_replicas_all_see_a_workers_result_and_run_a_bulk_job_once() {
    let db = TestDb::new().await;
    let mut replicas = three(&db).await;
    let clients: Vec<_> = replicas.iter().map(client).collect();

    // A worker's result wakes the waits on all three.
    let worker = Worker::start(WorkerLang::Python, &db.url, WorkerOptions::default()).await;
    enqueue_waiter(&clients[0], "waiter-r3").await;
    let mut waits = Vec::new();
    for c in &clients {
        waits.push(open_await(c, "waiter-r3").await.expect("AwaitWorkflow"));
    }
    send_go(&clients[1], "waiter-r3").await;
    for wait in &mut waits {
        assert_eq!(outcome_of(wait).await, WorkflowStatus::Success);
    }
    worker.stop().await;

    // A bulk job started on one replica runs on one of them; kill that one mid-job.
    enqueue_many(&clients[0], "r3-", 3000).await;
    let job = clients[2]
        .clone()
        .start_bulk_job(cancel_job("r3-", 600, 150))
        .await
        .expect("StartBulkJob")
        .into_inner()
        .job
        .expect("job");
    let id = job.job_id;
    let running = eventually("the job to be under way", || async {
        let job = describe(&clients[0], &id).await;
        (job.processed_count >= 600 && !job.runner_id.is_empty()).then_some(job)
    })
    .await;
    let holder = replicas
        .iter()
        .position(|r| r.log().contains(&running.runner_id))
        .expect("one replica logged the runner id holding the job");
    replicas[holder].signal(libc::SIGKILL);
    let _killed = replicas.remove(holder);
    let survivors: Vec<_> = replicas.iter().map(client).collect();

    let done = wait_state(&survivors[0], &id, BulkJobState::Completed).await;
    assert_eq!(done.total_count, 3000);
    assert_eq!(done.processed_count, 3000, "each workflow once: {done:?}");
    assert_eq!(done.changed_count, 3000, "{done:?}");
    assert_eq!(count_status(&db, "r3-", "CANCELLED").await, 3000);
    // Exactly one survivor took the job up, from where the killed one had committed.
    let took_over: Vec<Vec<i64>> = replicas.iter().map(|r| takeovers(r, &id)).collect();
    let resumed: Vec<i64> = took_over.concat();
    assert_eq!(resumed.len(), 1, "{took_over:?}");
    assert!(
        resumed[0] >= running.processed_count,
        "{took_over:?} vs {running:?}"
    );
}

#[tokio::test]
async fn draining_one_of_three_replicas_loses_nothing() {
    let db = TestDb::new().await;
    let mut replicas = three(&db).await;
    let clients: Vec<_> = replicas.iter().map(client).collect();
    let worker = Worker::start(WorkerLang::Python, &db.url, WorkerOptions::default()).await;
    enqueue_waiter(&clients[1], "dr3-wait").await;
    let mut draining_wait = open_await(&clients[0], "dr3-wait")
        .await
        .expect("AwaitWorkflow");

    // Enqueues keep arriving at replica 0 while it drains.
    let enqueuer = {
        let client = clients[0].clone();
        tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0..5000 {
                let id = format!("dr3-enq-{i:04}");
                let mut req = enqueue_req("never_runs", "drain3q", vec![]);
                req.workflow_id = Some(id.clone());
                match client.clone().enqueue_workflow(req).await {
                    Ok(_) => acked.push(id),
                    Err(status) => return (acked, Some(status)),
                }
            }
            (acked, None)
        })
    };
    eventually("enqueues to be flowing", || async {
        let n = db
            .count("SELECT count(*) FROM dbos.workflow_status WHERE workflow_uuid LIKE 'dr3-enq-%'")
            .await;
        (n >= 20).then_some(())
    })
    .await;
    replicas[0].signal(libc::SIGTERM);

    // The open wait ends cleanly, with a retry hint (after any status change it saw first)...
    loop {
        let item = tokio::time::timeout(WAIT, tokio_stream::StreamExt::next(&mut draining_wait))
            .await
            .expect("the wait ends with the drain");
        match item {
            Some(Ok(AwaitWorkflowResponse {
                kind: Some(Kind::StatusUpdate(_)),
            })) => continue,
            Some(Err(status)) => {
                assert_eq!(status.code(), Code::Unavailable, "{status:?}");
                assert!(status.message().contains("retry"), "{status:?}");
                break;
            }
            other => panic!("expected UNAVAILABLE from the draining replica, got {other:?}"),
        }
    }
    // ...and the retry on another replica sees the worker's result.
    let mut retried = open_await(&clients[2], "dr3-wait")
        .await
        .expect("retry elsewhere");
    send_go(&clients[1], "dr3-wait").await;
    assert_eq!(outcome_of(&mut retried).await, WorkflowStatus::Success);

    // Every acknowledged enqueue is in the table; the first refused one says UNAVAILABLE.
    let (acked, refused) = tokio::time::timeout(WAIT, enqueuer)
        .await
        .expect("the enqueues end with the drain")
        .expect("enqueuer task");
    let refused = refused.expect("the drained replica stops acknowledging enqueues");
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    let stored = db
        .texts(
            "SELECT workflow_uuid FROM dbos.workflow_status WHERE workflow_uuid LIKE 'dr3-enq-%'",
        )
        .await;
    let stored: std::collections::HashSet<_> = stored.into_iter().collect();
    for id in &acked {
        assert!(
            stored.contains(id),
            "{id} was acknowledged but is not in the table"
        );
    }
    let status = replicas[0].exited_within(WAIT).await;
    assert_eq!(status.code(), Some(0), "{status:?}");
    // The other two still serve.
    for c in &clients[1..] {
        c.clone()
            .list_workflows(dbosd::pb::ListWorkflowsRequest::default())
            .await
            .expect("a surviving replica serves");
    }
    worker.stop().await;
}
