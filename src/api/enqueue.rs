//! EnqueueWorkflow (with the caller's W3C trace context stamped on the row).

use super::{convert, render, trace_context::TraceContext, WorkflowApi};
use crate::{error::Result, model::EnqueueOutcome, pb};

impl WorkflowApi {
    pub(super) async fn enqueue(
        &self,
        req: &pb::EnqueueWorkflowRequest,
        trace: Option<&TraceContext>,
    ) -> Result<pb::EnqueueWorkflowResponse> {
        let mut wf = convert::new_workflow(req, self.default_app.as_deref())?;
        self.authorize_new(wf.application_name.as_deref(), &wf.queue_name)?;
        // An existing id is answered with that workflow's status: it must be the caller's too.
        self.authorize(req.workflow_id.iter()).await?;
        if let Some(trace) = trace {
            wf.attributes = Some(trace.stamp(wf.attributes.as_deref()));
        }
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
