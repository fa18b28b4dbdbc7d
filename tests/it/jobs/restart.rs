//! A bulk job survives its dbosd: the real binary is killed (SIGKILL, no drain) mid-job, a new
//! dbosd on the same database takes the job over once the lease has run out and resumes after
//! the last committed batch, so every workflow is processed exactly once.

use dbosd::pb::{workflow_service_client::WorkflowServiceClient, BulkJobState};

use super::{cancel_job, count_status, describe, enqueue_many, takeovers, wait_state};
use crate::harness::{eventually, Dbosd, TestDb};

async fn start(db: &TestDb) -> Dbosd {
    let args = [
        "--database-url",
        &db.url,
        "--listen",
        "127.0.0.1:0",
        "--bulk-job-lease-ms",
        "1000",
    ];
    Dbosd::spawn(&args, &[], Dbosd::READY).await
}

#[tokio::test]
async fn a_job_resumes_after_its_dbosd_is_killed_and_processes_each_workflow_once() {
    let db = TestDb::new().await;
    let first = start(&db).await;
    let client = WorkflowServiceClient::new(first.channel.clone());
    enqueue_many(&client, "rs-", 2000).await;
    // 500 workflows a second in batches of 100: about four seconds in all.
    let job = client
        .clone()
        .start_bulk_job(cancel_job("rs-", 500, 100))
        .await
        .expect("StartBulkJob")
        .into_inner()
        .job
        .expect("job");
    let id = job.job_id;
    let running = eventually("the job to be under way", || async {
        let job = describe(&client, &id).await;
        (job.processed_count >= 300).then_some(job)
    })
    .await;
    assert!(running.runner_id.starts_with("dbosd-"), "{running:?}");
    first.signal(libc::SIGKILL);
    drop(first);

    let second = start(&db).await;
    let client = WorkflowServiceClient::new(second.channel.clone());
    let done = wait_state(&client, &id, BulkJobState::Completed).await;
    assert_eq!(done.total_count, 2000);
    assert_eq!(done.processed_count, 2000, "each workflow once: {done:?}");
    assert_eq!(done.changed_count, 2000, "{done:?}");
    assert_eq!(done.batch_count, 20, "{done:?}");
    assert_eq!(count_status(&db, "rs-", "CANCELLED").await, 2000);
    // The new dbosd started from the cursor, not from the beginning.
    let resumed_at = takeovers(&second, &id);
    assert_eq!(resumed_at.len(), 1, "{resumed_at:?}");
    assert!(
        resumed_at[0] >= running.processed_count,
        "{resumed_at:?} vs {running:?}"
    );
}
