//! Bulk jobs (StartBulkJob & co.) through real gRPC on a real PostgreSQL: progress, rate limit and
//! abort (`basic.rs`), scopes (`scope.rs`), and a dbosd killed mid-job (`restart.rs`). Three
//! replicas sharing one job are in `tests/it/replicas_three.rs`.

mod basic;
mod cli;
mod restart;
mod scope;

use dbosd::pb::{
    self, start_bulk_job_request::Operation, workflow_service_client::WorkflowServiceClient,
    BulkJob, CancelWorkflowsRequest, EnqueueWorkflowsRequest, GetBulkJobRequest,
    StartBulkJobRequest, WorkflowFilter,
};
use tonic::transport::Channel;

use crate::harness::{enqueue_req, eventually, TestDb, TestServer};

/// An in-process dbosd on a new database, running bulk jobs (`Settings::new` leaves the runner off).
pub async fn server() -> TestServer {
    server_with(|_| {}).await
}

/// [`server`], with other settings adjusted by `tweak`.
pub async fn server_with(tweak: impl FnOnce(&mut dbosd::config::Settings)) -> TestServer {
    TestServer::start_on(TestDb::new().await, |s| {
        s.bulk_job_lease = Some(std::time::Duration::from_secs(5));
        tweak(s);
    })
    .await
}

/// Enqueues `n` workflows `<prefix><i>` (on a queue no worker polls, so they stay ENQUEUED), a
/// thousand per call.
pub async fn enqueue_many(client: &WorkflowServiceClient<Channel>, prefix: &str, n: usize) {
    let mut client = client.clone();
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let workflows = chunk
            .iter()
            .map(|i| {
                let mut req = enqueue_req("bulk_wf", "bulkq", vec![]);
                req.workflow_id = Some(format!("{prefix}{i:05}"));
                req
            })
            .collect();
        client
            .enqueue_workflows(EnqueueWorkflowsRequest { workflows })
            .await
            .expect("EnqueueWorkflows");
    }
}

/// A job cancelling every workflow whose id starts with `prefix`.
pub fn cancel_job(prefix: &str, rows_per_second: u32, batch_size: u32) -> StartBulkJobRequest {
    StartBulkJobRequest {
        job_id: None,
        operation: Some(Operation::Cancel(CancelWorkflowsRequest {
            filter: Some(WorkflowFilter {
                workflow_id_prefixes: vec![prefix.to_owned()],
                ..Default::default()
            }),
            ..Default::default()
        })),
        rows_per_second,
        batch_size,
    }
}

/// The job as dbosd describes it now.
pub async fn describe(client: &WorkflowServiceClient<Channel>, job_id: &str) -> BulkJob {
    client
        .clone()
        .get_bulk_job(GetBulkJobRequest {
            job_id: job_id.to_owned(),
        })
        .await
        .expect("GetBulkJob")
        .into_inner()
        .job
        .expect("job")
}

/// Waits (bounded) until the job is in `state`, and returns it.
pub async fn wait_state(
    client: &WorkflowServiceClient<Channel>,
    job_id: &str,
    state: pb::BulkJobState,
) -> BulkJob {
    eventually(&format!("bulk job {job_id} to be {state:?}"), || async {
        let job = describe(client, job_id).await;
        (job.state() == state).then_some(job)
    })
    .await
}

/// How many workflows starting with `prefix` have `status` in the database.
pub async fn count_status(db: &TestDb, prefix: &str, status: &str) -> i64 {
    db.count(&format!(
        "SELECT count(*) FROM dbos.workflow_status WHERE workflow_uuid LIKE '{prefix}%' AND status = '{status}'"
    ))
    .await
}

/// A dbosd child's log without its terminal colours (`key=value` fields read as written).
pub fn plain_log(d: &crate::harness::Dbosd) -> String {
    let log = d.log();
    let mut out = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters, ended by a letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The lines of `d`'s log saying it took up job `id`, as `processed=<n>` values.
pub fn takeovers(d: &crate::harness::Dbosd, id: &str) -> Vec<i64> {
    plain_log(d)
        .lines()
        .filter(|l| l.contains("running bulk job") && l.contains(&format!("job_id={id}")))
        .filter_map(|l| l.rsplit("processed=").next()?.trim().parse().ok())
        .collect()
}
