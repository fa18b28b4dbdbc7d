//! `dbosd workflow cancel|resume|fork|delete`: one row per workflow the call touched.

use std::process::ExitCode;

use serde_json::Value as Json;

use super::{
    args_wf::{CancelArgs, DeleteArgs, ForkArgs, ResumeArgs},
    client::{rpc_error, Client},
    output::Printer,
    render, CliResult, OutputFormat,
};
use crate::pb;

const COLUMNS: &[(&str, &str)] = &[
    ("WORKFLOW ID", "workflowId"),
    ("OUTCOME", "outcome"),
    ("WAS", "previousStatus"),
    ("STATUS", "status"),
    ("FORK", "forkedWorkflowId"),
];

/// Prints management results: one object for one workflow in JSON/YAML, else a list.
fn print_actions(p: Printer, results: &[&pb::WorkflowActionResult]) {
    let rows: Vec<Json> = results.iter().map(|r| render::action(r)).collect();
    if rows.len() == 1 && matches!(p.format, OutputFormat::Json | OutputFormat::Yaml) {
        p.fields(&rows[0]);
        return;
    }
    let mut out = p.list(COLUMNS);
    out.page(&rows);
    out.finish();
}

pub async fn cancel(client: &mut Client, p: Printer, a: CancelArgs) -> CliResult {
    let resp = client
        .cancel_workflow(pb::CancelWorkflowRequest {
            workflow_id: a.workflow_id,
            cancel_children: a.children,
        })
        .await
        .map_err(|e| rpc_error("CancelWorkflow", e))?
        .into_inner();
    let mut all: Vec<&pb::WorkflowActionResult> = resp.result.iter().collect();
    all.extend(resp.descendants.iter());
    print_actions(p, &all);
    Ok(ExitCode::SUCCESS)
}

pub async fn delete(client: &mut Client, p: Printer, a: DeleteArgs) -> CliResult {
    let resp = client
        .delete_workflow(pb::DeleteWorkflowRequest {
            workflow_id: a.workflow_id,
            delete_children: a.children,
        })
        .await
        .map_err(|e| rpc_error("DeleteWorkflow", e))?
        .into_inner();
    let mut all: Vec<&pb::WorkflowActionResult> = resp.result.iter().collect();
    all.extend(resp.descendants.iter());
    print_actions(p, &all);
    Ok(ExitCode::SUCCESS)
}

pub async fn resume(client: &mut Client, p: Printer, a: ResumeArgs) -> CliResult {
    let resp = client
        .resume_workflow(pb::ResumeWorkflowRequest {
            workflow_id: a.workflow_id,
            queue_name: a.queue,
        })
        .await
        .map_err(|e| rpc_error("ResumeWorkflow", e))?
        .into_inner();
    print_actions(p, &resp.result.iter().collect::<Vec<_>>());
    Ok(ExitCode::SUCCESS)
}

pub async fn fork(client: &mut Client, p: Printer, a: ForkArgs) -> CliResult {
    let numbering = if a.steps_from_zero {
        pb::StepNumbering::FromZero
    } else {
        pb::StepNumbering::FromOne
    };
    let resp = client
        .fork_workflow(pb::ForkWorkflowRequest {
            workflow_id: a.workflow_id,
            start_step: a.start_step,
            step_numbering: numbering as i32,
            forked_workflow_id: a.new_id,
            queue_name: a.queue,
            app_version: a.app_version,
            ..Default::default()
        })
        .await
        .map_err(|e| rpc_error("ForkWorkflow", e))?
        .into_inner();
    print_actions(p, &resp.result.iter().collect::<Vec<_>>());
    Ok(ExitCode::SUCCESS)
}
