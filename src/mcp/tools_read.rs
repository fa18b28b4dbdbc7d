//! The workflow reading tools: `list_workflows`, `get_workflow`, `count_workflows` and
//! `list_steps`, each one gRPC call (a list re-asks once for a smaller page when a page does not
//! fit in one result, so its page token stays exact).

use rmcp::{
    handler::server::wrapper::Parameters,
    model::CallToolResult,
    schemars::{self, JsonSchema},
    service::RequestContext,
    tool, tool_router, ErrorData, RoleServer,
};
use serde::Deserialize;
use serde_json::{json, Map, Value as Json};

use super::{
    bounds::{self, FULL_PAYLOAD_BYTES, ITEM_PAYLOAD_BYTES},
    params::{bounded, seconds, FilterParams},
    render, DbosdMcp,
};
use crate::pb;

/// Arguments of `list_workflows`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListWorkflowsParams {
    /// Which workflows (every given condition must hold); absent: all you may see.
    #[serde(default)]
    pub filter: FilterParams,
    /// Newest first (the default) or, when false, oldest first.
    pub newest_first: Option<bool>,
    /// Workflows per page, 1 to 100 (default 20).
    pub page_size: Option<u32>,
    /// The next_page_token of the previous page, to continue the same listing.
    pub page_token: Option<String>,
    /// Also return each workflow's input, output and error (each cut at 2 KiB).
    #[serde(default)]
    pub include_payloads: bool,
    /// Return every field of each workflow instead of the summary.
    #[serde(default)]
    pub include_details: bool,
}

/// Arguments of `get_workflow`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowIdParams {
    /// The workflow id.
    pub workflow_id: String,
}

/// Arguments of `count_workflows`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CountWorkflowsParams {
    /// Which workflows (every given condition must hold); absent: all you may see.
    #[serde(default)]
    pub filter: FilterParams,
    /// Columns to group the counts by: status, workflow_name, queue_name, executor_id,
    /// app_version, application_name (default: status).
    #[serde(default)]
    pub group_by: Vec<String>,
    /// Also group by creation time in buckets of this many seconds.
    pub time_bucket_seconds: Option<f64>,
    /// Most groups returned, 1 to 1000 (default 100).
    pub limit: Option<u32>,
}

/// Arguments of `list_steps`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListStepsParams {
    /// The workflow id.
    pub workflow_id: String,
    /// Steps per page, 1 to 100 (default 50).
    pub page_size: Option<u32>,
    /// The next_page_token of the previous page.
    pub page_token: Option<String>,
    /// Include each step's output or error (cut at 2 KiB); default true.
    pub include_outputs: Option<bool>,
}

const GROUPS: &[(&str, pb::WorkflowGroupBy)] = &[
    ("status", pb::WorkflowGroupBy::Status),
    ("workflow_name", pb::WorkflowGroupBy::WorkflowName),
    ("queue_name", pb::WorkflowGroupBy::QueueName),
    ("executor_id", pb::WorkflowGroupBy::ExecutorId),
    ("app_version", pb::WorkflowGroupBy::AppVersion),
    ("application_name", pb::WorkflowGroupBy::ApplicationName),
];

#[tool_router(router = read_tools, vis = "pub(super)")]
impl DbosdMcp {
    #[tool(
        description = "List DBOS workflows matching a filter (status, name, queue, application, id prefix, \
        creation/completion times, parent, fork, schedule, attributes...), newest first, one bounded \
        page at a time. Returns summaries (id, status, name, queue, application, times); pass \
        include_payloads for inputs, outputs and errors, include_details for every field. Continue with \
        next_page_token while it is present.",
        annotations(read_only_hint = true)
    )]
    async fn list_workflows(
        &self,
        Parameters(p): Parameters<ListWorkflowsParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let filter = arg!(p.filter.to_pb());
        let mut page_size = arg!(bounded("page_size", p.page_size, 20, 100));
        let render = |w: &pb::WorkflowInfo| {
            if p.include_details {
                render::workflow_full(w, ITEM_PAYLOAD_BYTES)
            } else if p.include_payloads {
                with_payloads(w)
            } else {
                render::workflow_summary(w)
            }
        };
        loop {
            let request = pb::ListWorkflowsRequest {
                filter: Some(filter.clone()),
                sort_desc: p.newest_first.unwrap_or(true),
                load_input: p.include_payloads,
                load_output: p.include_payloads,
                page_size: page_size as i32,
                page_token: p.page_token.clone().unwrap_or_default(),
                offset: None,
            };
            let reply = grpc!(self
                .api
                .client()
                .list_workflows(self.api.request(&ctx, request)));
            let items: Vec<Json> = reply.workflows.iter().map(render).collect();
            if let Some(smaller) = bounds::smaller_page(&items, page_size) {
                page_size = smaller;
                continue;
            }
            return Ok(bounds::result(&page(
                "workflows",
                items,
                &reply.next_page_token,
            )));
        }
    }

    #[tool(
        description = "Get one DBOS workflow by id: every field, its input and output decoded by their \
        serialization (portable JSON; Python pickles and TypeScript superjson read by dbosd), and its \
        error. Each payload is cut at 16 KiB with a marker. A workflow outside your token's scope is \
        reported NOT_FOUND, as an unknown id.",
        annotations(read_only_hint = true)
    )]
    async fn get_workflow(
        &self,
        Parameters(p): Parameters<WorkflowIdParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(match self.workflow(&ctx, &p.workflow_id).await {
            Ok(value) => bounds::result(&value),
            Err(status) => super::channel::status_result(&status),
        })
    }

    #[tool(
        description = "Count DBOS workflows matching a filter (the same filter as list_workflows), \
        grouped by status (default) or by workflow_name, queue_name, executor_id, app_version, \
        application_name, and optionally by creation-time buckets. Use it to answer 'how many' \
        questions without listing.",
        annotations(read_only_hint = true)
    )]
    async fn count_workflows(
        &self,
        Parameters(p): Parameters<CountWorkflowsParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let filter = arg!(p.filter.to_pb());
        let names: Vec<String> = if p.group_by.is_empty() && p.time_bucket_seconds.is_none() {
            vec!["status".to_owned()]
        } else {
            p.group_by.clone()
        };
        let group_by = arg!(names
            .iter()
            .map(|n| group(n))
            .collect::<Result<Vec<_>, _>>());
        let time_bucket = match p.time_bucket_seconds {
            Some(s) if s.is_finite() && s > 0.0 => Some(seconds(s)),
            Some(_) => {
                return Ok(super::channel::argument_error(
                    "time_bucket_seconds must be a positive number of seconds",
                ))
            }
            None => None,
        };
        let limit = arg!(bounded("limit", p.limit, 100, 1000));
        let request = pb::GetWorkflowAggregatesRequest {
            filter: Some(filter),
            group_by: group_by.iter().map(|g| *g as i32).collect(),
            time_bucket,
            limit: limit as i32,
        };
        let reply = grpc!(self
            .api
            .client()
            .get_workflow_aggregates(self.api.request(&ctx, request)));
        let total: i64 = reply.aggregates.iter().map(|a| a.count).sum();
        let groups: Vec<Json> = reply
            .aggregates
            .iter()
            .map(|a| {
                let mut out = Map::new();
                for (name, value) in names.iter().zip(&a.group) {
                    out.insert(name.clone(), json!(value.value));
                }
                if let Some(t) = a.time_bucket_start.as_ref().and_then(render::time) {
                    out.insert("time_bucket_start".into(), json!(t));
                }
                out.insert("count".into(), json!(a.count));
                Json::Object(out)
            })
            .collect();
        Ok(bounds::result(&json!({
            "total": total,
            "groups": groups,
            "limited": reply.aggregates.len() as u32 >= limit,
        })))
    }

    #[tool(
        description = "List the recorded steps of a DBOS workflow in order (step number, name, child \
        workflow, times, output or error cut at 2 KiB), one bounded page at a time. Continue with \
        next_page_token while it is present.",
        annotations(read_only_hint = true)
    )]
    async fn list_steps(
        &self,
        Parameters(p): Parameters<ListStepsParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let mut page_size = arg!(bounded("page_size", p.page_size, 50, 100));
        loop {
            let request = pb::ListWorkflowStepsRequest {
                workflow_id: p.workflow_id.clone(),
                load_output: Some(p.include_outputs.unwrap_or(true)),
                page_size: page_size as i32,
                page_token: p.page_token.clone().unwrap_or_default(),
                offset: None,
            };
            let reply = grpc!(self
                .api
                .client()
                .list_workflow_steps(self.api.request(&ctx, request)));
            let items: Vec<Json> = reply
                .steps
                .iter()
                .map(|s| render::step(s, ITEM_PAYLOAD_BYTES))
                .collect();
            if let Some(smaller) = bounds::smaller_page(&items, page_size) {
                page_size = smaller;
                continue;
            }
            return Ok(bounds::result(&page(
                "steps",
                items,
                &reply.next_page_token,
            )));
        }
    }
}

impl DbosdMcp {
    /// One workflow rendered in full, its payloads bounded; when its payloads are too big for one
    /// gRPC reply, the workflow without them, saying so.
    pub(super) async fn workflow(
        &self,
        ctx: &RequestContext<RoleServer>,
        id: &str,
    ) -> Result<Json, tonic::Status> {
        let request = |load: Option<bool>| pb::GetWorkflowRequest {
            workflow_id: id.to_owned(),
            load_input: load,
            load_output: load,
        };
        let reply = match self
            .api
            .client()
            .get_workflow(self.api.request(ctx, request(None)))
            .await
        {
            Err(status) if status.code() == tonic::Code::ResourceExhausted => {
                let reply = self
                    .api
                    .client()
                    .get_workflow(self.api.request(ctx, request(Some(false))))
                    .await?;
                let mut value = full(reply.into_inner());
                value["payloads_left_out"] = json!(status.message());
                return Ok(value);
            }
            other => other?,
        };
        Ok(full(reply.into_inner()))
    }
}

fn full(reply: pb::GetWorkflowResponse) -> Json {
    reply
        .workflow
        .map(|w| render::workflow_full(&w, FULL_PAYLOAD_BYTES))
        .unwrap_or(Json::Null)
}

/// A summary with the input and output.
fn with_payloads(w: &pb::WorkflowInfo) -> Json {
    let mut value = render::workflow_summary(w);
    if let Some(p) = &w.input {
        value["input"] = render::payload(p, ITEM_PAYLOAD_BYTES);
    }
    if let Some(p) = &w.output {
        value["output"] = render::payload(p, ITEM_PAYLOAD_BYTES);
    }
    value
}

/// A page of `items` under `key`, with the token of the next page when there is one.
fn page(key: &str, items: Vec<Json>, next: &str) -> Json {
    let mut out = Map::new();
    out.insert("count".into(), json!(items.len()));
    out.insert(key.into(), Json::Array(items));
    if !next.is_empty() {
        out.insert("next_page_token".into(), json!(next));
    }
    Json::Object(out)
}

fn group(name: &str) -> Result<pb::WorkflowGroupBy, String> {
    GROUPS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name.trim()))
        .map(|(_, g)| *g)
        .ok_or_else(|| {
            let names: Vec<&str> = GROUPS.iter().map(|(n, _)| *n).collect();
            format!("group_by: {name:?} is not one of {}", names.join(", "))
        })
}
