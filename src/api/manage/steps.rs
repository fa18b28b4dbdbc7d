//! ListWorkflowSteps and ListQueuedWorkflows.
//!
//! A steps page token carries the workflow id and the last function_id returned, so it pages exactly
//! (function ids are unique per workflow) and is refused for another workflow.

use crate::api::{
    convert,
    convert::page_token::{self, StepsPage},
    manage::convert as mc,
    workflows::list,
    WorkflowApi,
};
use crate::{
    error::{Error, Result},
    model::StepQuery,
    pb,
};

impl WorkflowApi {
    pub(in crate::api) async fn list_steps(
        &self,
        req: &pb::ListWorkflowStepsRequest,
    ) -> Result<pb::ListWorkflowStepsResponse> {
        let workflow_id = convert::required("workflow_id", &req.workflow_id)?;
        let after = match req.page_token.as_str() {
            "" => None,
            token => Some(decode_token(token, &workflow_id)?),
        };
        let query = StepQuery {
            limit: list::page_limit(req.page_size)?,
            offset: list::page_offset(req.offset, &req.page_token)?,
            load_output: req.load_output.unwrap_or(true),
            after,
            workflow_id,
        };
        let page = self
            .repo
            .list_steps(&query, self.scope())
            .await?
            .ok_or_else(|| {
                Error::NotFound(format!("workflow {} does not exist", query.workflow_id))
            })?;
        let next_page_token = match (page.has_more, page.rows.last()) {
            (true, Some(last)) => encode_token(&query.workflow_id, last.function_id),
            _ => String::new(),
        };
        Ok(pb::ListWorkflowStepsResponse {
            steps: page.rows.iter().map(mc::step_info).collect(),
            next_page_token,
        })
    }

    pub(in crate::api) async fn list_queued(
        &self,
        req: &pb::ListQueuedWorkflowsRequest,
    ) -> Result<pb::ListQueuedWorkflowsResponse> {
        let query = list::queued_query(req, self.default_app.as_deref(), self.filter_scope())?;
        let page = self.list_page(&query).await?;
        Ok(pb::ListQueuedWorkflowsResponse {
            workflows: page.workflows,
            next_page_token: page.next_page_token,
        })
    }
}

fn encode_token(workflow_id: &str, function_id: i32) -> String {
    page_token::encode(&StepsPage {
        w: workflow_id.to_owned(),
        f: function_id,
    })
}

fn decode_token(token: &str, workflow_id: &str) -> Result<i32> {
    let page: StepsPage =
        page_token::decode("page_token", token, "is not a token this RPC returned")?;
    if page.w != workflow_id {
        return Err(Error::invalid(
            "page_token",
            "belongs to another workflow's steps",
        ));
    }
    Ok(page.f)
}
