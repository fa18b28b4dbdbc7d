//! ForkWorkflow and ForkWorkflows.

use crate::api::{manage::convert as mc, WorkflowApi};
use crate::{
    error::{Error, Result},
    model::{Action, ActionOutcome},
    pb,
};

impl WorkflowApi {
    pub(in crate::api) async fn fork_one(
        &self,
        req: &pb::ForkWorkflowRequest,
    ) -> Result<pb::ForkWorkflowResponse> {
        let spec = mc::fork_spec(req, self.default_app.as_deref())?;
        let start_step = spec.start_step;
        let (result, _) = self
            .apply_one(&req.workflow_id, &Action::Fork(spec))
            .await?;
        if result.outcome == ActionOutcome::StepOutOfRange {
            return Err(Error::invalid(
                "start_step",
                format!(
                    "{start_step} is beyond the last recorded step of workflow {}; ListWorkflowSteps shows its steps",
                    result.workflow_id
                ),
            ));
        }
        Ok(pb::ForkWorkflowResponse {
            forked_workflow_id: result.forked_workflow_id.clone().unwrap_or_default(),
            result: Some(mc::action_result(&result)),
        })
    }

    pub(in crate::api) async fn fork_many(
        &self,
        req: &pb::ForkWorkflowsRequest,
    ) -> Result<pb::ForkWorkflowsResponse> {
        let spec = mc::fork_spec(&mc::bulk_fork_options(req), self.default_app.as_deref())?;
        let bulk = self
            .apply_many(
                &req.workflow_ids,
                req.filter.as_ref(),
                &Action::Fork(spec),
                req.dry_run,
            )
            .await?;
        Ok(pb::ForkWorkflowsResponse {
            selected_count: bulk.selected_count,
            changed_count: bulk.changed_count,
            results: bulk.results,
        })
    }
}
