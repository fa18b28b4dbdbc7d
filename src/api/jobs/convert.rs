//! Proto ⇄ model for bulk jobs: a StartBulkJob operation into the filter and action a batch applies
//! (the same conversions the bulk RPCs use, so a job does exactly what CancelWorkflows & co. do),
//! and a stored job into `pb::BulkJob`.

use prost::Message;

use crate::api::{convert, manage::convert as mc};
use crate::{
    error::{Error, Result},
    model::{
        job::{JobRow, JobState},
        Action, ListFilter, Selection, MAX_BULK_WORKFLOWS,
    },
    pb::{self, start_bulk_job_request::Operation},
};

/// Workflows per batch when the request names no size.
pub const DEFAULT_BATCH: u32 = 500;

/// A job's operation, decoded and checked.
pub struct Plan {
    /// The stored name of the operation.
    pub name: &'static str,
    pub filter: ListFilter,
    pub action: Action,
    pub dry_run: bool,
}

/// The operation's name and the proto field it came from.
fn name_of(op: &Operation) -> (&'static str, &'static str) {
    match op {
        Operation::Cancel(_) => ("CANCEL", "cancel"),
        Operation::Resume(_) => ("RESUME", "resume"),
        Operation::Fork(_) => ("FORK", "fork"),
        Operation::Delete(_) => ("DELETE", "delete"),
    }
}

/// The operation's filter and id list, as every bulk request carries them.
fn selection_of(op: &Operation) -> (&[String], Option<&pb::WorkflowFilter>, bool) {
    match op {
        Operation::Cancel(r) => (&r.workflow_ids, r.filter.as_ref(), r.dry_run),
        Operation::Resume(r) => (&r.workflow_ids, r.filter.as_ref(), r.dry_run),
        Operation::Fork(r) => (&r.workflow_ids, r.filter.as_ref(), r.dry_run),
        Operation::Delete(r) => (&r.workflow_ids, r.filter.as_ref(), r.dry_run),
    }
}

fn filter_mut(op: &mut Operation) -> Option<&mut pb::WorkflowFilter> {
    match op {
        Operation::Cancel(r) => r.filter.as_mut(),
        Operation::Resume(r) => r.filter.as_mut(),
        Operation::Fork(r) => r.filter.as_mut(),
        Operation::Delete(r) => r.filter.as_mut(),
    }
}

/// The operation of a request, checked: a filter with a condition, no ids.
pub fn operation(req: &pb::StartBulkJobRequest) -> Result<&Operation> {
    let op = req.operation.as_ref().ok_or_else(|| {
        Error::invalid(
            "operation",
            "give one of cancel, resume, fork or delete, with a filter",
        )
    })?;
    let (_, field) = name_of(op);
    let (ids, filter, _) = selection_of(op);
    if !ids.is_empty() {
        return Err(Error::invalid(
            format!("{field}.workflow_ids"),
            "a job selects workflows by filter; for a list of ids call the bulk RPC itself",
        ));
    }
    if filter.is_none() {
        return Err(Error::invalid(
            format!("{field}.filter"),
            "is required: the job acts on every workflow matching it",
        ));
    }
    Ok(op)
}

/// Decodes and checks `op`: its filter (with `default_app` as the bulk RPCs apply it) and action.
/// `default_app` also owns forks of unclaimed workflows.
pub fn plan(op: &Operation, default_app: Option<&str>) -> Result<Plan> {
    let (name, _) = name_of(op);
    let (ids, filter, dry_run) = selection_of(op);
    let filter = match mc::selection(ids, filter, default_app)? {
        Selection::Filter(filter) => *filter,
        Selection::Ids(_) => {
            return Err(Error::invalid(
                "workflow_ids",
                "a job selects workflows by filter",
            ))
        }
    };
    let action = match op {
        Operation::Cancel(r) => Action::Cancel {
            children: r.cancel_children,
        },
        Operation::Resume(r) => Action::Resume {
            queue_name: mc::target_queue(r.queue_name.as_ref())?,
        },
        Operation::Fork(r) => Action::Fork(mc::fork_spec(&mc::bulk_fork_options(r), default_app)?),
        Operation::Delete(r) => Action::Delete {
            children: r.delete_children,
        },
    };
    Ok(Plan {
        name,
        filter,
        action,
        dry_run,
    })
}

/// The operation as stored: the request's, with the default application written into its filter
/// (so every replica selects the same workflows whatever its own `--application-name`).
pub fn stored_operation(op: &Operation, default_app: Option<&str>) -> Vec<u8> {
    let mut op = op.clone();
    if let (Some(filter), Some(app)) = (filter_mut(&mut op), default_app) {
        if filter.application_names.is_empty() && filter.workflow_ids.is_empty() {
            filter.application_names.push(app.to_owned());
        }
    }
    pb::StartBulkJobRequest {
        operation: Some(op),
        ..Default::default()
    }
    .encode_to_vec()
}

/// A stored operation, decoded back.
pub fn stored(bytes: &[u8]) -> Result<Operation> {
    pb::StartBulkJobRequest::decode(bytes)
        .ok()
        .and_then(|r| r.operation)
        .ok_or_else(|| {
            Error::internal("reading a bulk job", "its stored operation does not decode")
        })
}

/// The batch size of a request: 1 to [`MAX_BULK_WORKFLOWS`], 0 for the default.
pub fn batch_size(value: u32) -> Result<u32> {
    match value {
        0 => Ok(DEFAULT_BATCH),
        n if n as usize > MAX_BULK_WORKFLOWS => Err(Error::invalid(
            "batch_size",
            format!("must be at most {MAX_BULK_WORKFLOWS}"),
        )),
        n => Ok(n),
    }
}

/// A state named in a list filter.
pub fn state_filter(value: i32) -> Result<Option<JobState>> {
    Ok(
        match convert::enum_field::<pb::BulkJobState>("states", value)? {
            pb::BulkJobState::Unspecified => None,
            pb::BulkJobState::Running => Some(JobState::Running),
            pb::BulkJobState::Completed => Some(JobState::Completed),
            pb::BulkJobState::Aborted => Some(JobState::Aborted),
            pb::BulkJobState::Failed => Some(JobState::Failed),
        },
    )
}

fn state(s: JobState) -> pb::BulkJobState {
    match s {
        JobState::Running => pb::BulkJobState::Running,
        JobState::Completed => pb::BulkJobState::Completed,
        JobState::Aborted => pb::BulkJobState::Aborted,
        JobState::Failed => pb::BulkJobState::Failed,
    }
}

/// A stored job as the API returns it.
pub fn render(job: &JobRow) -> pb::BulkJob {
    let op = stored(&job.request).ok();
    let operation = match &op {
        Some(Operation::Cancel(_)) => pb::BulkJobOperation::Cancel,
        Some(Operation::Resume(_)) => pb::BulkJobOperation::Resume,
        Some(Operation::Fork(_)) => pb::BulkJobOperation::Fork,
        Some(Operation::Delete(_)) => pb::BulkJobOperation::Delete,
        None => pb::BulkJobOperation::Unspecified,
    };
    pb::BulkJob {
        job_id: job.job_id.clone(),
        operation: operation as i32,
        state: state(job.state) as i32,
        filter: op.as_ref().and_then(|op| selection_of(op).1.cloned()),
        rows_per_second: job.rows_per_second,
        batch_size: job.batch_size,
        total_count: job.total_count,
        processed_count: job.processed_count,
        changed_count: job.changed_count,
        batch_count: job.batch_count,
        error: job.error.clone().unwrap_or_default(),
        created_by: job.created_by.clone().unwrap_or_default(),
        created_at: Some(convert::ms_to_timestamp(job.created_at_ms)),
        updated_at: Some(convert::ms_to_timestamp(job.updated_at_ms)),
        finished_at: job.finished_at_ms.map(convert::ms_to_timestamp),
        runner_id: job.runner_id.clone().unwrap_or_default(),
    }
}
