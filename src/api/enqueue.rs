//! EnqueueWorkflow.

use super::{convert, render, WorkflowApi};
use crate::{error::Result, model::EnqueueOutcome, pb};

impl WorkflowApi {
    pub(super) async fn enqueue(
        &self,
        req: &pb::EnqueueWorkflowRequest,
    ) -> Result<pb::EnqueueWorkflowResponse> {
        let wf = convert::new_workflow(req, self.default_app.as_deref())?;
        let done = self.repo.enqueue(&wf).await?;
        let outcome = match done.outcome {
            EnqueueOutcome::Created => pb::EnqueueOutcome::Created,
            EnqueueOutcome::Existing => pb::EnqueueOutcome::Existing,
            EnqueueOutcome::Deduplicated => pb::EnqueueOutcome::Deduplicated,
        };
        Ok(pb::EnqueueWorkflowResponse {
            workflow_id: done.workflow_id,
            outcome: outcome as i32,
            status: render::status(done.status) as i32,
        })
    }
}
