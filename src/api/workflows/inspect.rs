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
        let mut row = self
            .repo
            .get_workflow(&id, self.scope())
            .await?
            .ok_or_else(|| Error::NotFound(format!("workflow {id} does not exist")))?;
        // Leaving payloads out is how a row too big for one response is still read (and what is
        // left out is not decoded).
        if !req.load_input.unwrap_or(true) {
            row.inputs = None;
        }
        if !req.load_output.unwrap_or(true) {
            (row.output, row.error) = (None, None);
        }
        Ok(pb::GetWorkflowResponse {
            workflow: Some(render::into_workflow_info(row)),
        })
    }

    pub(in crate::api) async fn list(
        &self,
        req: &pb::ListWorkflowsRequest,
    ) -> Result<pb::ListWorkflowsResponse> {
        let query = list::list_query(req, self.default_app.as_deref(), self.filter_scope())?;
        let page = self.list_page(&query).await?;
        Ok(pb::ListWorkflowsResponse {
            workflows: page.workflows,
            next_page_token: page.next_page_token,
        })
    }
}
