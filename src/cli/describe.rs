//! `dbosd workflow describe|show|steps`: one workflow with its input, output and error, and its
//! steps as a timeline (each step's offset from the workflow's start and its duration, drawn as a
//! bar over the workflow's run).

use std::process::ExitCode;

use serde_json::Value as Json;

use super::{
    args_wf::{DescribeArgs, StepsArgs},
    client::{rpc_error, Client},
    output::Printer,
    render, CliResult, OutputFormat,
};
use crate::pb;

/// Width of the timeline bar, in characters.
const BAR: usize = 30;

const STEP_COLUMNS: &[(&str, &str)] = &[
    ("STEP", "functionId"),
    ("NAME", "functionName"),
    ("STARTED", "startedAt"),
    ("DURATION MS", "durationMs"),
    ("CHILD", "childWorkflowId"),
];

async fn get(
    client: &mut Client,
    id: &str,
    input: bool,
    output: bool,
) -> Result<pb::WorkflowInfo, String> {
    let resp = client
        .get_workflow(pb::GetWorkflowRequest {
            workflow_id: id.to_owned(),
            load_input: Some(input),
            load_output: Some(output),
        })
        .await
        .map_err(|e| rpc_error("GetWorkflow", e))?
        .into_inner();
    resp.workflow
        .ok_or_else(|| format!("GetWorkflow: no workflow in the answer for {id}"))
}

/// Every step, page by page.
async fn all_steps(
    client: &mut Client,
    id: &str,
    payloads: bool,
) -> Result<Vec<pb::StepInfo>, String> {
    let mut req = pb::ListWorkflowStepsRequest {
        workflow_id: id.to_owned(),
        load_output: Some(payloads),
        page_size: 1000,
        ..Default::default()
    };
    let mut steps = Vec::new();
    loop {
        let resp = client
            .list_workflow_steps(req.clone())
            .await
            .map_err(|e| rpc_error("ListWorkflowSteps", e))?
            .into_inner();
        steps.extend(resp.steps);
        if resp.next_page_token.is_empty() {
            return Ok(steps);
        }
        req.page_token = resp.next_page_token;
    }
}

pub async fn describe(client: &mut Client, p: Printer, a: DescribeArgs) -> CliResult {
    let wf = get(client, &a.workflow_id, !a.no_input, !a.no_output).await?;
    let steps = match a.no_steps {
        true => Vec::new(),
        false => all_steps(client, &a.workflow_id, false).await?,
    };
    let mut doc = render::workflow(&wf);
    if !a.no_steps {
        doc["steps"] = Json::Array(steps.iter().map(render::step).collect());
    }
    if p.format == OutputFormat::Table {
        let mut head = doc.clone();
        if let Json::Object(m) = &mut head {
            m.remove("steps");
            if let Some(s) = m.get_mut("status") {
                *s = Json::String(p.paint_status(&render::cell(s)));
            }
        }
        outln!("{}", render::fields(&head));
        if !a.no_steps {
            outln!("\n{}", timeline(&wf, &steps));
        }
    } else {
        p.fields(&doc);
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn show(client: &mut Client, p: Printer, a: StepsArgs) -> CliResult {
    let wf = get(client, &a.workflow_id, false, false).await?;
    let steps = all_steps(client, &a.workflow_id, a.payloads).await?;
    if p.format == OutputFormat::Table {
        let end = wf.completed_at.or(wf.updated_at);
        let ran = render::duration_ms(&wf.dequeued_at.or(wf.created_at), &end);
        let mut took = ran.map_or(String::new(), |ms| format!(" in {}", render::human_ms(ms)));
        if let Some(wait) = render::duration_ms(&wf.created_at, &wf.dequeued_at) {
            took.push_str(&format!(" (queued {})", render::human_ms(wait)));
        }
        outln!(
            "{} {} {}{took}",
            wf.workflow_id,
            wf.workflow_name,
            p.paint_status(&render::status_name(wf.status))
        );
        outln!("{}", timeline(&wf, &steps));
    } else {
        let mut out = p.list(STEP_COLUMNS);
        out.page(&steps.iter().map(render::step).collect::<Vec<_>>());
        out.finish();
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn steps(client: &mut Client, p: Printer, a: StepsArgs) -> CliResult {
    let steps = all_steps(client, &a.workflow_id, a.payloads).await?;
    let mut out = p.list(STEP_COLUMNS);
    out.page(&steps.iter().map(render::step).collect::<Vec<_>>());
    out.finish();
    Ok(ExitCode::SUCCESS)
}

/// The steps as lines: number, name, offset from the workflow's start, duration, and a bar placing
/// the step within the workflow's run.
fn timeline(wf: &pb::WorkflowInfo, steps: &[pb::StepInfo]) -> String {
    if steps.is_empty() {
        return "(no steps recorded)".to_owned();
    }
    // The run starts when a worker dequeued it (queue wait is not the workflow's time).
    let start = wf.dequeued_at.or(wf.created_at);
    let end = steps
        .iter()
        .filter_map(|s| render::duration_ms(&start, &s.completed_at.or(s.started_at)))
        .chain(render::duration_ms(
            &start,
            &wf.completed_at.or(wf.updated_at),
        ))
        .max()
        .unwrap_or(0)
        .max(1);
    let name_w = steps
        .iter()
        .map(|s| s.function_name.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut lines = vec![format!(
        "{:>4}  {:<name_w$}  {:>9}  {:>9}  TIMELINE",
        "STEP", "NAME", "AT", "DURATION"
    )];
    for s in steps {
        let at = render::duration_ms(&start, &s.started_at);
        let took = render::duration_ms(&s.started_at, &s.completed_at);
        let bar = match at {
            Some(at) => {
                let from = (at.clamp(0, end) as usize * BAR) / end as usize;
                let len = (took.unwrap_or(0).max(0) as usize * BAR)
                    .div_ceil(end as usize)
                    .max(1);
                let len = len.min(BAR - from.min(BAR - 1));
                format!(
                    "|{}{}{}|",
                    " ".repeat(from.min(BAR - 1)),
                    "#".repeat(len),
                    " ".repeat(BAR - from.min(BAR - 1) - len)
                )
            }
            None => format!("|{}|", " ".repeat(BAR)),
        };
        let child = match s.child_workflow_id.is_empty() {
            true => String::new(),
            false => format!("  -> {}", s.child_workflow_id),
        };
        lines.push(format!(
            "{:>4}  {:<name_w$}  {:>9}  {:>9}  {bar}{child}",
            s.function_id,
            s.function_name,
            at.map_or("-".to_owned(), |ms| format!("+{}", render::human_ms(ms))),
            took.map_or("-".to_owned(), render::human_ms),
        ));
    }
    lines.join("\n")
}
