//! Bulk jobs on a named database: the job is stored in that database's `dbosd.bulk_jobs`, so that
//! database needs its own runner (without one the job would stay PENDING forever).

use dbosd::pb::{self, EnqueueWorkflowsRequest, GetBulkJobRequest};
use tonic::Code;

use super::{client_on, Two};
use crate::{
    harness::{enqueue_req, eventually},
    jobs::cancel_job,
};

#[tokio::test]
async fn a_bulk_job_on_a_named_database_runs_there_and_nowhere_else() {
    let two = Two::start(
        |s| s.bulk_job_lease = Some(std::time::Duration::from_secs(5)),
        None,
    )
    .await;
    let mut b = client_on(&two.srv, Some("b"), None);
    let workflows = (0..30)
        .map(|i| {
            let mut req = enqueue_req("bulk_wf", "bulkq", vec![]);
            req.workflow_id = Some(format!("fleetjob-{i:02}"));
            req
        })
        .collect();
    b.enqueue_workflows(EnqueueWorkflowsRequest { workflows })
        .await
        .expect("EnqueueWorkflows on b");

    let job = b
        .start_bulk_job(cancel_job("fleetjob-", 0, 10))
        .await
        .expect("StartBulkJob on b")
        .into_inner()
        .job
        .expect("job");
    let done = eventually("the job on b to complete", || {
        let (mut b, id) = (b.clone(), job.job_id.clone());
        async move {
            let job = b
                .get_bulk_job(GetBulkJobRequest { job_id: id })
                .await
                .expect("GetBulkJob")
                .into_inner()
                .job?;
            (job.state() == pb::BulkJobState::Completed).then_some(job)
        }
    })
    .await;
    assert_eq!(done.processed_count, 30);
    let cancelled = two
        .b_db
        .count("SELECT count(*) FROM dbos.workflow_status WHERE workflow_uuid LIKE 'fleetjob-%' AND status = 'CANCELLED'")
        .await;
    assert_eq!(cancelled, 30, "b's runner cancelled every match");

    // The default database has no such job.
    let mut default = client_on(&two.srv, None, None);
    let err = default
        .get_bulk_job(GetBulkJobRequest {
            job_id: job.job_id.clone(),
        })
        .await
        .expect_err("the job is b's");
    assert_eq!(err.code(), Code::NotFound);
}
