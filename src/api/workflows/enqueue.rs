//! EnqueueWorkflow and EnqueueWorkflows (a batch in one statement), with the caller's W3C trace
//! context stamped on the rows.

use std::collections::HashSet;

use crate::api::{convert, convert::render, service::trace_context::TraceContext, WorkflowApi};
use crate::{
    error::{Error, Result},
    model::{EnqueueOutcome, Enqueued},
    pb,
};

/// Most workflows one EnqueueWorkflows call may carry.
const MAX_BATCH: usize = 1000;

fn response(done: Enqueued) -> pb::EnqueueWorkflowResponse {
    let outcome = match done.outcome {
        EnqueueOutcome::Created => pb::EnqueueOutcome::Created,
        EnqueueOutcome::Existing => pb::EnqueueOutcome::Existing,
        EnqueueOutcome::Deduplicated => pb::EnqueueOutcome::Deduplicated,
    };
    pb::EnqueueWorkflowResponse {
        workflow_id: done.workflow_id,
        outcome: outcome as i32,
        status: render::status(done.status) as i32,
    }
}

impl WorkflowApi {
    pub(in crate::api) async fn enqueue(
        &self,
        req: &pb::EnqueueWorkflowRequest,
        trace: Option<&TraceContext>,
    ) -> Result<pb::EnqueueWorkflowResponse> {
        let mut wf = convert::new_workflow(req, self.default_app.as_deref(), self.payload_limit)?;
        self.admit_new_workflows(std::slice::from_mut(&mut wf))?;
        if let Some(trace) = trace {
            wf.attributes = Some(trace.stamp(wf.attributes.as_deref()));
        }
        Ok(response(self.enqueues.enqueue(wf).await?))
    }

    pub(in crate::api) async fn enqueue_many(
        &self,
        req: &pb::EnqueueWorkflowsRequest,
        trace: Option<&TraceContext>,
    ) -> Result<pb::EnqueueWorkflowsResponse> {
        if req.workflows.is_empty() || req.workflows.len() > MAX_BATCH {
            return Err(Error::invalid(
                "workflows",
                format!("give between 1 and {MAX_BATCH} workflows"),
            ));
        }
        let mut ids = HashSet::new();
        let mut wfs = Vec::with_capacity(req.workflows.len());
        for (i, item) in req.workflows.iter().enumerate() {
            let at = |e: Error| match e {
                Error::InvalidArgument { field, reason } => {
                    Error::invalid(format!("workflows[{i}].{field}"), reason)
                }
                other => other,
            };
            let mut wf =
                convert::new_workflow(item, self.default_app.as_deref(), self.payload_limit)
                    .map_err(at)?;
            if wf.return_existing_on_dedup {
                return Err(at(Error::invalid(
                    "deduplication_policy",
                    "RETURN_EXISTING is not available in a batch; use EnqueueWorkflow",
                )));
            }
            if !ids.insert(wf.workflow_id.clone()) {
                return Err(at(Error::invalid(
                    "workflow_id",
                    "repeats another workflow of the batch",
                )));
            }
            if let Some(trace) = trace {
                wf.attributes = Some(trace.stamp(wf.attributes.as_deref()));
            }
            wfs.push(wf);
        }
        self.admit_new_workflows(&mut wfs)?;
        let done = self.repo.enqueue_many(&wfs).await?;
        Ok(pb::EnqueueWorkflowsResponse {
            results: done.into_iter().map(response).collect(),
        })
    }
}
