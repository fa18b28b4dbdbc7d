//! Bulk jobs (StartBulkJob, GetBulkJob, ListBulkJobs, AbortBulkJob, WatchBulkJob): a management
//! operation over every workflow a filter selects, run in the background by [`runner`], one batch
//! per transaction, with its cursor and progress in `dbosd.bulk_jobs` (`repo::jobs`).
//!
//! A job carries the scope of the token that started it: each batch's SQL is narrowed to it, and
//! only callers of the same scope (or unrestricted ones) see the job.

pub(crate) mod convert;
pub mod runner;
pub(crate) mod watch;

use crate::api::{convert as common, service::audit_targets::Audited, WorkflowApi};
use crate::{
    error::{Error, Result},
    model::job::{JobRow, NewJob},
    pb,
};

/// Longest job id accepted.
const MAX_JOB_ID: usize = 200;

impl WorkflowApi {
    pub(in crate::api) async fn job_start(
        &self,
        req: &pb::StartBulkJobRequest,
    ) -> Result<pb::StartBulkJobResponse> {
        let op = convert::operation(req)?;
        let default_app = self.default_app.as_deref();
        let plan = convert::plan(op, default_app)?;
        let batch_size = convert::batch_size(req.batch_size)?;
        let job_id = match &req.job_id {
            Some(id) => {
                let id = common::required("job_id", id)?;
                if id.len() > MAX_JOB_ID {
                    return Err(Error::invalid(
                        "job_id",
                        format!("must be at most {MAX_JOB_ID} bytes"),
                    ));
                }
                id
            }
            None => uuid::Uuid::new_v4().to_string(),
        };
        self.admit_target_queue(&plan.action)?;
        self.repo.jobs_ready().await?;
        let scope = self.filter_scope();
        let (matched, bound) = self.repo.job_selection(&plan.filter, &scope).await?;
        if plan.dry_run {
            return Ok(pb::StartBulkJobResponse {
                job: None,
                matched_count: matched,
            });
        }
        let job = NewJob {
            job_id,
            operation: plan.name.to_owned(),
            request: convert::stored_operation(op, default_app),
            scope,
            created_by: self.caller.as_ref().map(|c| c.name.clone()),
            rows_per_second: req.rows_per_second,
            batch_size,
        };
        let row = self.repo.create_job(&job, matched, bound.as_ref()).await?;
        tracing::info!(job_id = %row.job_id, operation = plan.name, matched, "bulk job started");
        Ok(pb::StartBulkJobResponse {
            job: Some(convert::render(&row)),
            matched_count: matched,
        })
    }

    /// The job if the caller may see it, else NOT_FOUND (as an unknown id).
    pub(in crate::api) async fn visible_job(&self, job_id: &str) -> Result<JobRow> {
        let id = common::required("job_id", job_id)?;
        self.repo.jobs_ready().await?;
        self.repo
            .get_job(&id, self.scope())
            .await?
            .ok_or_else(|| Error::NotFound(format!("bulk job {id} does not exist")))
    }

    pub(in crate::api) async fn job_get(
        &self,
        req: &pb::GetBulkJobRequest,
    ) -> Result<pb::GetBulkJobResponse> {
        let job = self.visible_job(&req.job_id).await?;
        Ok(pb::GetBulkJobResponse {
            job: Some(convert::render(&job)),
        })
    }

    pub(in crate::api) async fn job_list(
        &self,
        req: &pb::ListBulkJobsRequest,
    ) -> Result<pb::ListBulkJobsResponse> {
        let limit = match req.page_size {
            0 => 100,
            n @ 1..=1000 => n,
            _ => return Err(Error::invalid("page_size", "must be between 1 and 1000")),
        };
        let mut states = Vec::new();
        for s in &req.states {
            states.extend(convert::state_filter(*s)?);
        }
        self.repo.jobs_ready().await?;
        let jobs = self
            .repo
            .list_jobs(&states, i64::from(limit), self.scope())
            .await?;
        Ok(pb::ListBulkJobsResponse {
            jobs: jobs.iter().map(convert::render).collect(),
        })
    }

    pub(in crate::api) async fn job_abort(
        &self,
        req: &pb::AbortBulkJobRequest,
    ) -> Result<pb::AbortBulkJobResponse> {
        let id = common::required("job_id", &req.job_id)?;
        self.repo.jobs_ready().await?;
        let job = self.repo.abort_job(&id, self.scope()).await?;
        tracing::info!(job_id = %id, processed = job.processed_count, "bulk job aborted");
        Ok(pb::AbortBulkJobResponse {
            job: Some(convert::render(&job)),
        })
    }
}

impl Audited for pb::StartBulkJobRequest {
    fn audit_targets(&self) -> (Vec<String>, Option<String>) {
        let filter = self
            .operation
            .as_ref()
            .map(|op| format!("{op:?}"))
            .unwrap_or_default();
        (self.job_id.iter().cloned().collect(), Some(filter))
    }
}

impl Audited for pb::AbortBulkJobRequest {
    fn audit_targets(&self) -> (Vec<String>, Option<String>) {
        (vec![format!("bulk_job:{}", self.job_id)], None)
    }
}

impl Audited for pb::GetBulkJobRequest {}
impl Audited for pb::ListBulkJobsRequest {}
impl Audited for pb::WatchBulkJobRequest {}
