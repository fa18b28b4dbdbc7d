//! The management tools, offered only when dbosd runs with `--mcp-allow-writes` (`dbosd mcp
//! --allow-writes` for stdio): cancel, resume, fork and delete ONE workflow by id, never many (no
//! filters, no descendants). Each is one write RPC, so the token's scope, the policy table and the
//! audit record apply as to any gRPC caller.

use rmcp::{
    handler::server::wrapper::Parameters,
    model::CallToolResult,
    schemars::{self, JsonSchema},
    service::RequestContext,
    tool, tool_router, ErrorData, RoleServer,
};
use serde::Deserialize;
use serde_json::{json, Map, Value as Json};

use super::{bounds, render, tools_read::WorkflowIdParams, DbosdMcp};
use crate::pb;

/// Arguments of `resume_workflow`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResumeParams {
    /// The workflow id.
    pub workflow_id: String,
    /// The queue to enqueue it on (default `_dbos_internal_queue`, which starts it at once).
    pub queue_name: Option<String>,
}

/// Arguments of `fork_workflow`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ForkParams {
    /// The workflow to fork.
    pub workflow_id: String,
    /// The first step to run again (default: the first step, re-running everything); the steps
    /// before it keep their recorded outputs.
    pub start_step: Option<i32>,
    /// Whether the worker numbers steps from 1 (Python, the default) or from 0 (TypeScript, Go).
    pub steps_from_zero: Option<bool>,
    /// The new workflow's id (default: a random UUID).
    pub new_workflow_id: Option<String>,
    /// The queue to enqueue the fork on (default `_dbos_internal_queue`).
    pub queue_name: Option<String>,
    /// Pin the fork to this application version (default: the latest).
    pub app_version: Option<String>,
}

#[tool_router(router = manage_tools, vis = "pub(super)")]
impl DbosdMcp {
    #[tool(
        description = "Cancel one DBOS workflow by id (only that workflow, not its children): an \
        ENQUEUED, DELAYED or PENDING workflow becomes CANCELLED and a running one stops at its next \
        step. Reports the outcome (CANCELLED, ALREADY_CANCELLED, ALREADY_FINISHED).",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true
        )
    )]
    async fn cancel_workflow(
        &self,
        Parameters(p): Parameters<WorkflowIdParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let request = pb::CancelWorkflowRequest {
            workflow_id: p.workflow_id,
            cancel_children: false,
        };
        let reply = grpc!(self
            .api
            .client()
            .cancel_workflow(self.api.request(&ctx, request)));
        Ok(bounds::result(&outcome(reply.result.as_ref())))
    }

    #[tool(
        description = "Resume one DBOS workflow by id: a CANCELLED, PENDING or dead-lettered workflow is \
        enqueued again and continues after its last recorded step; a waiting one starts at once. \
        Reports the outcome (RESUMED, STARTED_NOW, ALREADY_FINISHED).",
        annotations(read_only_hint = false, destructive_hint = false)
    )]
    async fn resume_workflow(
        &self,
        Parameters(p): Parameters<ResumeParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let request = pb::ResumeWorkflowRequest {
            workflow_id: p.workflow_id,
            queue_name: p.queue_name,
        };
        let reply = grpc!(self
            .api
            .client()
            .resume_workflow(self.api.request(&ctx, request)));
        Ok(bounds::result(&outcome(reply.result.as_ref())))
    }

    #[tool(
        description = "Fork one DBOS workflow: enqueue a NEW workflow that re-runs it from start_step \
        (default the first step), reusing the recorded outputs of the steps before it. Returns the new \
        workflow's id. The source workflow is unchanged.",
        annotations(read_only_hint = false, destructive_hint = false)
    )]
    async fn fork_workflow(
        &self,
        Parameters(p): Parameters<ForkParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let numbering = if p.steps_from_zero.unwrap_or(false) {
            pb::StepNumbering::FromZero
        } else {
            pb::StepNumbering::FromOne
        };
        let request = pb::ForkWorkflowRequest {
            workflow_id: p.workflow_id,
            start_step: p.start_step,
            step_numbering: numbering as i32,
            forked_workflow_id: p.new_workflow_id,
            app_version: p.app_version,
            queue_name: p.queue_name,
            ..Default::default()
        };
        let reply = grpc!(self
            .api
            .client()
            .fork_workflow(self.api.request(&ctx, request)));
        let mut value = outcome(reply.result.as_ref());
        value["forked_workflow_id"] = json!(reply.forked_workflow_id);
        Ok(bounds::result(&value))
    }

    #[tool(
        description = "Delete one DBOS workflow by id (not its children): every row of it (status, \
        inputs, steps, events, streams, messages) is removed for good. Use only when asked to delete.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true
        )
    )]
    async fn delete_workflow(
        &self,
        Parameters(p): Parameters<WorkflowIdParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let request = pb::DeleteWorkflowRequest {
            workflow_id: p.workflow_id,
            delete_children: false,
        };
        let reply = grpc!(self
            .api
            .client()
            .delete_workflow(self.api.request(&ctx, request)));
        Ok(bounds::result(&outcome(reply.result.as_ref())))
    }
}

/// What a management call did: the outcome and the status before and after.
fn outcome(result: Option<&pb::WorkflowActionResult>) -> Json {
    let mut out = Map::new();
    if let Some(r) = result {
        out.insert("workflow_id".into(), json!(r.workflow_id));
        let name = pb::WorkflowActionOutcome::try_from(r.outcome)
            .map(|o| {
                o.as_str_name()
                    .trim_start_matches("WORKFLOW_ACTION_OUTCOME_")
            })
            .unwrap_or("UNKNOWN");
        out.insert("outcome".into(), json!(name));
        out.insert(
            "previous_status".into(),
            json!(render::status_name(r.previous_status)),
        );
        out.insert("status".into(), json!(render::status_name(r.status)));
    }
    Json::Object(out)
}
