//! `dbosd workflow list|get|cancel|resume|fork`.

use std::process::ExitCode;

use serde_json::{json, Value as Json};

use super::{
    args::{CancelArgs, ForkArgs, GetArgs, ListArgs, ResumeArgs},
    client::{rpc_error, Client},
    render, CliResult, OutputFormat,
};
use crate::pb::{self, WorkflowStatus};

/// `SUCCESS` or `WORKFLOW_STATUS_SUCCESS` (any case) to the enum value.
fn parse_status(text: &str) -> Result<i32, String> {
    let upper = text.trim().to_ascii_uppercase();
    let full = if upper.starts_with("WORKFLOW_STATUS_") {
        upper
    } else {
        format!("WORKFLOW_STATUS_{upper}")
    };
    WorkflowStatus::from_str_name(&full)
        .filter(|s| *s != WorkflowStatus::Unspecified)
        .map(|s| s as i32)
        .ok_or_else(|| format!("unknown status {text:?}"))
}

pub async fn list(client: &mut Client, out: OutputFormat, a: ListArgs) -> CliResult {
    let statuses = a
        .statuses
        .iter()
        .map(|s| parse_status(s))
        .collect::<Result<Vec<_>, _>>()?;
    let req = pb::ListWorkflowsRequest {
        filter: Some(pb::WorkflowFilter {
            statuses,
            workflow_names: a.names,
            queue_names: a.queues,
            workflow_id_prefixes: a.prefixes,
            ..Default::default()
        }),
        page_size: a.limit,
        sort_desc: !a.oldest_first,
        ..Default::default()
    };
    let resp = client
        .list_workflows(req)
        .await
        .map_err(|e| rpc_error("ListWorkflows", e))?
        .into_inner();
    let rows: Vec<Json> = resp.workflows.iter().map(render::workflow).collect();
    match out {
        OutputFormat::Json => render::print_json(&Json::Array(rows)),
        OutputFormat::Table => {
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|w| {
                    [
                        "workflowId",
                        "status",
                        "workflowName",
                        "queueName",
                        "createdAt",
                    ]
                    .iter()
                    .map(|k| render::cell(&w[*k]))
                    .collect()
                })
                .collect();
            let header = ["WORKFLOW ID", "STATUS", "NAME", "QUEUE", "CREATED"];
            println!("{}", render::table(&header, &cells));
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn get(client: &mut Client, out: OutputFormat, a: GetArgs) -> CliResult {
    let resp = client
        .get_workflow(pb::GetWorkflowRequest {
            workflow_id: a.workflow_id,
            load_input: Some(!a.no_input),
            load_output: Some(!a.no_output),
        })
        .await
        .map_err(|e| rpc_error("GetWorkflow", e))?
        .into_inner();
    let wf = resp.workflow.as_ref().map_or(Json::Null, render::workflow);
    match out {
        OutputFormat::Json => render::print_json(&wf),
        OutputFormat::Table => println!("{}", render::fields(&wf)),
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints management results, one row per workflow.
fn print_actions(out: OutputFormat, results: &[&pb::WorkflowActionResult]) {
    let rows: Vec<Json> = results.iter().map(|r| render::action(r)).collect();
    match out {
        OutputFormat::Json if rows.len() == 1 => render::print_json(&rows[0]),
        OutputFormat::Json => render::print_json(&Json::Array(rows)),
        OutputFormat::Table => {
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    let mut row: Vec<String> =
                        ["workflowId", "outcome", "previousStatus", "status"]
                            .iter()
                            .map(|k| render::cell(&r[*k]))
                            .collect();
                    row.push(render::cell(
                        r.get("forkedWorkflowId").unwrap_or(&json!(null)),
                    ));
                    row
                })
                .collect();
            let header = ["WORKFLOW ID", "OUTCOME", "WAS", "NOW", "FORK"];
            println!("{}", render::table(&header, &cells));
        }
    }
}

pub async fn cancel(client: &mut Client, out: OutputFormat, a: CancelArgs) -> CliResult {
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
    print_actions(out, &all);
    Ok(ExitCode::SUCCESS)
}

pub async fn resume(client: &mut Client, out: OutputFormat, a: ResumeArgs) -> CliResult {
    let resp = client
        .resume_workflow(pb::ResumeWorkflowRequest {
            workflow_id: a.workflow_id,
            queue_name: a.queue,
        })
        .await
        .map_err(|e| rpc_error("ResumeWorkflow", e))?
        .into_inner();
    print_actions(out, &resp.result.iter().collect::<Vec<_>>());
    Ok(ExitCode::SUCCESS)
}

pub async fn fork(client: &mut Client, out: OutputFormat, a: ForkArgs) -> CliResult {
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
            ..Default::default()
        })
        .await
        .map_err(|e| rpc_error("ForkWorkflow", e))?
        .into_inner();
    print_actions(out, &resp.result.iter().collect::<Vec<_>>());
    Ok(ExitCode::SUCCESS)
}
