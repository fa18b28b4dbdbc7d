//! `dbosd workflow list|count|watch`: the read-many commands, printing as results arrive.

use std::process::ExitCode;

use serde_json::{json, Map, Value as Json};
use tokio_stream::StreamExt;

use super::{
    args_wf::{CountArgs, ListArgs, WatchArgs},
    client::{rpc_error, Client},
    filter,
    output::Printer,
    render, CliResult,
};
use crate::pb;

/// The table columns of a workflow list: (header, JSON key).
pub const COLUMNS: &[(&str, &str)] = &[
    ("WORKFLOW ID", "workflowId"),
    ("STATUS", "status"),
    ("NAME", "workflowName"),
    ("QUEUE", "queueName"),
    ("CREATED", "createdAt"),
];

pub async fn list(client: &mut Client, p: Printer, a: ListArgs) -> CliResult {
    let filter = filter::workflow_filter(a.filter)?;
    let mut req = pb::ListWorkflowsRequest {
        filter: Some(filter),
        page_size: a.limit,
        sort_desc: !a.oldest_first,
        load_input: a.payloads,
        load_output: a.payloads,
        ..Default::default()
    };
    let mut out = p.list(COLUMNS);
    loop {
        let resp = client
            .list_workflows(req.clone())
            .await
            .map_err(|e| rpc_error("ListWorkflows", e))?
            .into_inner();
        let rows: Vec<Json> = resp.workflows.iter().map(render::workflow).collect();
        out.page(&rows);
        if !a.all || resp.next_page_token.is_empty() {
            break;
        }
        req.page_token = resp.next_page_token;
    }
    out.finish();
    Ok(ExitCode::SUCCESS)
}

pub async fn count(client: &mut Client, p: Printer, a: CountArgs) -> CliResult {
    let req = pb::GetWorkflowAggregatesRequest {
        filter: Some(filter::workflow_filter(a.filter)?),
        group_by: vec![pb::WorkflowGroupBy::Status as i32],
        ..Default::default()
    };
    let resp = client
        .get_workflow_aggregates(req)
        .await
        .map_err(|e| rpc_error("GetWorkflowAggregates", e))?
        .into_inner();
    let mut by_status = Map::new();
    let mut total = 0i64;
    for agg in &resp.aggregates {
        let status = agg
            .group
            .first()
            .and_then(|g| g.value.clone())
            .unwrap_or_default();
        total += agg.count;
        by_status.insert(status, json!(agg.count));
    }
    let doc = json!({"total": total, "byStatus": by_status});
    p.doc(&doc, |d| {
        let mut lines = vec![format!("total: {}", d["total"])];
        if let Json::Object(m) = &d["byStatus"] {
            lines.extend(m.iter().map(|(s, n)| format!("  {s}: {n}")));
        }
        lines.join("\n")
    });
    Ok(ExitCode::SUCCESS)
}

pub async fn watch(client: &mut Client, p: Printer, a: WatchArgs) -> CliResult {
    let req = pb::WatchWorkflowsRequest {
        queue_names: a.queues,
        workflow_names: a.names,
        statuses: filter::parse_statuses(&a.statuses)?,
        application_names: a.applications,
        attributes: filter::attributes("--attr", &a.attributes)?,
        workflow_ids: a.ids,
        workflow_id_prefixes: a.prefixes,
        cursor: String::new(),
    };
    let mut stream = client
        .watch_workflows(req)
        .await
        .map_err(|e| rpc_error("WatchWorkflows", e))?
        .into_inner();
    // The server subscribed before answering: changes from here on are reported.
    eprintln!("watching workflow changes (Ctrl-C to stop)");
    let mut out = p.list(COLUMNS);
    let mut seen = 0u64;
    while let Some(msg) = stream.next().await {
        let msg = msg.map_err(|e| rpc_error("WatchWorkflows", e))?;
        if let Some(wf) = &msg.workflow {
            out.page(&[render::workflow(wf)]);
            seen += 1;
            if a.max.is_some_and(|m| seen >= m) {
                break;
            }
        }
    }
    out.finish();
    Ok(ExitCode::SUCCESS)
}
