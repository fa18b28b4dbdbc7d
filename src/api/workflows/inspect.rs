//! GetWorkflow and ListWorkflows.

use crate::api::{convert, convert::render, workflows::list, WorkflowApi};
use crate::{
    error::{Error, Result},
    pb,
};

impl WorkflowApi {
    pub(in crate::api) async fn get(
        &self,
        req: &pb::GetWorkflowRequest,
    ) -> Result<pb::GetWorkflowResponse> {
        let id = convert::required("workflow_id", &req.workflow_id)?;
        let row = self
            .repo
            .get_workflow(&id, self.scope())
            .await?
            .ok_or_else(|| Error::NotFound(format!("workflow {id} does not exist")))?;
        let mut workflow = render::workflow_info(&row);
        // Leaving payloads out is how a row too big for one response is still read.
        if !req.load_input.unwrap_or(true) {
            workflow.input = None;
        }
        if !req.load_output.unwrap_or(true) {
            workflow.output = None;
            workflow.error = None;
        }
        Ok(pb::GetWorkflowResponse {
            workflow: Some(workflow),
        })
    }

    pub(in crate::api) async fn list(
        &self,
        req: &pb::ListWorkflowsRequest,
    ) -> Result<pb::ListWorkflowsResponse> {
        let query = list::list_query(req, self.default_app.as_deref(), self.filter_scope())?;
        let page = self.repo.list_workflows(&query).await?;
        Ok(pb::ListWorkflowsResponse {
            workflows: page.rows.iter().map(render::workflow_info).collect(),
            next_page_token: page
                .next
                .map(|cursor| list::encode_token(&query, &cursor))
                .unwrap_or_default(),
        })
    }
}
