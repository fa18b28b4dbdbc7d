//! `dbosd job start|list|describe|watch|abort`: bulk jobs through a running dbosd.

use std::process::ExitCode;

use serde_json::{json, Value as Json};
use tokio_stream::StreamExt;

use super::{
    args_job::{JobCommand, JobIdArgs, JobListArgs, JobOperation, JobStartArgs},
    client::{rpc_error, Client},
    filter,
    output::Printer,
    CliError, CliResult,
};
use crate::pb::{self, start_bulk_job_request::Operation};

const COLUMNS: &[(&str, &str)] = &[
    ("JOB ID", "jobId"),
    ("OPERATION", "operation"),
    ("STATE", "state"),
    ("PROCESSED", "processed"),
    ("TOTAL", "total"),
    ("CHANGED", "changed"),
    ("CREATED", "createdAt"),
];

/// Runs one `job` command.
pub async fn run(client: &mut Client, p: Printer, command: JobCommand) -> CliResult {
    match command {
        JobCommand::Start(a) => start(client, p, a).await,
        JobCommand::List(a) => list(client, p, a).await,
        JobCommand::Describe(a) => describe(client, p, a).await,
        JobCommand::Watch(a) => watch(client, p, a.job_id).await,
        JobCommand::Abort(a) => abort(client, p, a).await,
    }
}

/// A job as the CLI prints it.
fn render(job: &pb::BulkJob) -> Json {
    let name = |full: &str, prefix: &str| full.trim_start_matches(prefix).to_owned();
    let time = |t: &Option<prost_types::Timestamp>| {
        t.as_ref().map_or(Json::Null, |t| json!(t.to_string()))
    };
    json!({
        "jobId": job.job_id,
        "operation": name(job.operation().as_str_name(), "BULK_JOB_OPERATION_"),
        "state": name(job.state().as_str_name(), "BULK_JOB_STATE_"),
        "processed": job.processed_count,
        "total": job.total_count,
        "changed": job.changed_count,
        "batches": job.batch_count,
        "rowsPerSecond": job.rows_per_second,
        "batchSize": job.batch_size,
        "createdBy": job.created_by,
        "createdAt": time(&job.created_at),
        "finishedAt": time(&job.finished_at),
        "runner": job.runner_id,
        "error": job.error,
    })
}

fn operation(a: &JobStartArgs, filter: pb::WorkflowFilter) -> Result<Operation, CliError> {
    let only = |ok: bool, flag: &str, ops: &str| match ok {
        true => Ok(()),
        false => Err(CliError::usage(format!("{flag} applies only to {ops}"))),
    };
    let op = a.operation;
    only(
        !a.children || matches!(op, JobOperation::Cancel | JobOperation::Delete),
        "--children",
        "cancel and delete",
    )?;
    only(
        a.to_queue.is_none() || matches!(op, JobOperation::Resume | JobOperation::Fork),
        "--to-queue",
        "resume and fork",
    )?;
    only(
        (a.start_step.is_none() && !a.steps_from_zero) || op == JobOperation::Fork,
        "--start-step and --steps-from-zero",
        "fork",
    )?;
    let filter = Some(filter);
    Ok(match op {
        JobOperation::Cancel => Operation::Cancel(pb::CancelWorkflowsRequest {
            filter,
            cancel_children: a.children,
            dry_run: a.dry_run,
            ..Default::default()
        }),
        JobOperation::Delete => Operation::Delete(pb::DeleteWorkflowsRequest {
            filter,
            delete_children: a.children,
            dry_run: a.dry_run,
            ..Default::default()
        }),
        JobOperation::Resume => Operation::Resume(pb::ResumeWorkflowsRequest {
            filter,
            queue_name: a.to_queue.clone(),
            dry_run: a.dry_run,
            ..Default::default()
        }),
        JobOperation::Fork => Operation::Fork(pb::ForkWorkflowsRequest {
            filter,
            queue_name: a.to_queue.clone(),
            start_step: a.start_step,
            step_numbering: match a.steps_from_zero {
                true => pb::StepNumbering::FromZero,
                false => pb::StepNumbering::FromOne,
            } as i32,
            dry_run: a.dry_run,
            ..Default::default()
        }),
    })
}

async fn start(client: &mut Client, p: Printer, mut a: JobStartArgs) -> CliResult {
    let filter = filter::workflow_filter(std::mem::take(&mut a.filter))?;
    let (dry_run, follow) = (a.dry_run, a.watch);
    let req = pb::StartBulkJobRequest {
        job_id: a.job_id.clone(),
        operation: Some(operation(&a, filter)?),
        rows_per_second: a.rate,
        batch_size: a.batch_size,
    };
    let resp = client
        .start_bulk_job(req)
        .await
        .map_err(|e| rpc_error("StartBulkJob", e))?
        .into_inner();
    match (dry_run, resp.job) {
        (true, _) | (false, None) => {
            p.fields(&json!({"matched": resp.matched_count}));
            Ok(ExitCode::SUCCESS)
        }
        (false, Some(job)) if follow => {
            eprintln!(
                "started bulk job {} over {} workflows",
                job.job_id, resp.matched_count
            );
            watch(client, p, job.job_id).await
        }
        (false, Some(job)) => {
            p.fields(&render(&job));
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn state(text: &str) -> Result<i32, CliError> {
    let full = format!("BULK_JOB_STATE_{}", text.to_ascii_uppercase());
    match pb::BulkJobState::from_str_name(&full) {
        Some(s) if s != pb::BulkJobState::Unspecified => Ok(s as i32),
        _ => Err(CliError::usage(format!(
            "--state {text}: not one of RUNNING, COMPLETED, ABORTED, FAILED"
        ))),
    }
}

async fn list(client: &mut Client, p: Printer, a: JobListArgs) -> CliResult {
    let states = a
        .states
        .iter()
        .map(|s| state(s))
        .collect::<Result<_, _>>()?;
    let resp = client
        .list_bulk_jobs(pb::ListBulkJobsRequest {
            states,
            page_size: a.limit,
        })
        .await
        .map_err(|e| rpc_error("ListBulkJobs", e))?
        .into_inner();
    let rows: Vec<Json> = resp.jobs.iter().map(render).collect();
    let mut out = p.list(COLUMNS);
    out.page(&rows);
    out.finish();
    Ok(ExitCode::SUCCESS)
}

async fn describe(client: &mut Client, p: Printer, a: JobIdArgs) -> CliResult {
    let resp = client
        .get_bulk_job(pb::GetBulkJobRequest { job_id: a.job_id })
        .await
        .map_err(|e| rpc_error("GetBulkJob", e))?
        .into_inner();
    p.fields(&resp.job.as_ref().map_or(Json::Null, render));
    Ok(ExitCode::SUCCESS)
}

async fn abort(client: &mut Client, p: Printer, a: JobIdArgs) -> CliResult {
    let resp = client
        .abort_bulk_job(pb::AbortBulkJobRequest { job_id: a.job_id })
        .await
        .map_err(|e| rpc_error("AbortBulkJob", e))?
        .into_inner();
    p.fields(&resp.job.as_ref().map_or(Json::Null, render));
    Ok(ExitCode::SUCCESS)
}

/// Prints each change of the job until it ends; exit 0 only when it COMPLETED.
async fn watch(client: &mut Client, p: Printer, job_id: String) -> CliResult {
    let mut stream = client
        .watch_bulk_job(pb::WatchBulkJobRequest { job_id })
        .await
        .map_err(|e| rpc_error("WatchBulkJob", e))?
        .into_inner();
    let mut out = p.list(COLUMNS);
    let mut last = pb::BulkJobState::Unspecified;
    while let Some(msg) = stream.next().await {
        let msg = msg.map_err(|e| rpc_error("WatchBulkJob", e))?;
        if let Some(job) = &msg.job {
            out.page(&[render(job)]);
            last = job.state();
            if !job.error.is_empty() {
                eprintln!("bulk job {} failed: {}", job.job_id, job.error);
            }
        }
    }
    out.finish();
    Ok(match last {
        pb::BulkJobState::Completed => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    })
}
