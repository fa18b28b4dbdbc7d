//! `dbosd workflow await` (and `enqueue --await`): streams AwaitWorkflow, printing each status change
//! on stderr as it arrives (the progress display), then the outcome on stdout. Exit code: 0 SUCCESS,
//! 1 any other end (ERROR, CANCELLED, ...), 3 when the timeout passed first.

use std::{process::ExitCode, time::Instant};

use serde_json::json;
use tokio_stream::StreamExt;

use super::{
    client::{rpc_error, Client},
    output::Printer,
    render, timed_out, CliResult,
};
use crate::pb::{self, await_workflow_response::Kind, WorkflowStatus};

pub async fn run(
    client: &mut Client,
    out: Printer,
    workflow_id: &str,
    timeout_secs: Option<u64>,
    load_output: bool,
) -> CliResult {
    let started = Instant::now();
    let req = pb::AwaitWorkflowRequest {
        workflow_id: workflow_id.to_owned(),
        timeout: timeout_secs.map(|s| prost_types::Duration {
            seconds: s as i64,
            nanos: 0,
        }),
        load_output: Some(load_output),
    };
    let mut stream = client
        .await_workflow(req)
        .await
        .map_err(|e| rpc_error("AwaitWorkflow", e))?
        .into_inner();
    let mut last_status = None;
    let outcome = loop {
        match stream.next().await {
            None => return Err("AwaitWorkflow ended without an outcome".to_owned().into()),
            Some(Err(e)) if e.code() == tonic::Code::DeadlineExceeded => {
                eprintln!(
                    "dbosd: {workflow_id} still {} after {}s",
                    last_status.map_or("unknown".to_owned(), render::status_name),
                    timeout_secs.unwrap_or(0)
                );
                return Ok(timed_out());
            }
            Some(Err(e)) => return Err(rpc_error("AwaitWorkflow", e).into()),
            Some(Ok(msg)) => match msg.kind {
                Some(Kind::StatusUpdate(wf)) if last_status != Some(wf.status) => {
                    progress(started, workflow_id, wf.status, &wf.executor_id);
                    last_status = Some(wf.status);
                }
                Some(Kind::Outcome(o)) => break o,
                _ => {}
            },
        }
    };
    if last_status != Some(outcome.status) {
        progress(started, workflow_id, outcome.status, "");
    }
    let doc = json!({
        "workflowId": outcome.workflow_id,
        "status": render::status_name(outcome.status),
        "output": render::payload(&outcome.output),
        "error": render::error(&outcome.error),
    });
    out.fields(&doc);
    Ok(if outcome.status == WorkflowStatus::Success as i32 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// One progress line on stderr: elapsed time, id, status (and who runs it).
fn progress(started: Instant, workflow_id: &str, status: i32, executor: &str) {
    let secs = started.elapsed().as_secs_f64();
    let by = if executor.is_empty() {
        String::new()
    } else {
        format!(" on {executor}")
    };
    eprintln!(
        "[{secs:6.2}s] {workflow_id} {}{by}",
        render::status_name(status)
    );
}
