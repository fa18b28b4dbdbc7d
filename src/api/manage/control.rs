//! CancelWorkflow(s), ResumeWorkflow(s), DeleteWorkflow(s), and the single and bulk frames that
//! ForkWorkflow(s) shares: convert, run one management transaction, report per workflow.

use crate::api::{convert, manage::convert as mc, WorkflowApi};
use crate::{
    error::{Error, Result},
    model::{Action, ActionOutcome, ActionResult, Selection},
    pb,
};

/// What every bulk response carries.
pub(in crate::api) struct Bulk {
    pub selected_count: i64,
    pub changed_count: i64,
    /// Empty on a dry run.
    pub results: Vec<pb::WorkflowActionResult>,
}

impl WorkflowApi {
    /// Applies `action` to one workflow: its result, then its descendants'. An unknown id (or one
    /// outside the caller's scope, which the repository cannot tell apart) is NOT_FOUND.
    pub(in crate::api) async fn apply_one(
        &self,
        workflow_id: &str,
        action: &Action,
    ) -> Result<(ActionResult, Vec<ActionResult>)> {
        let id = convert::required("workflow_id", workflow_id)?;
        let selection = Selection::Ids(vec![id.clone()]);
        self.admit_target_queue(action)?;
        let report = self
            .repo
            .apply(&selection, action, false, self.scope())
            .await?;
        let mut results = report.results.into_iter();
        match results.next() {
            Some(first) if first.outcome != ActionOutcome::NotFound => {
                Ok((first, results.collect()))
            }
            _ => Err(Error::NotFound(format!("workflow {id} does not exist"))),
        }
    }

    /// Applies `action` to the workflows named by `ids` or matching `filter`, inside the caller's
    /// scope (a named workflow outside it is reported NOT_FOUND, as an unknown id is).
    pub(in crate::api) async fn apply_many(
        &self,
        ids: &[String],
        filter: Option<&pb::WorkflowFilter>,
        action: &Action,
        dry_run: bool,
    ) -> Result<Bulk> {
        let selection = mc::selection(ids, filter, self.default_app.as_deref())?;
        self.admit_target_queue(action)?;
        let report = self
            .repo
            .apply(&selection, action, dry_run, self.scope())
            .await?;
        Ok(Bulk {
            selected_count: report.selected() as i64,
            changed_count: report.changed() as i64,
            results: match dry_run {
                true => Vec::new(),
                false => report.results.iter().map(mc::action_result).collect(),
            },
        })
    }

    pub(in crate::api) async fn cancel_one(
        &self,
        req: &pb::CancelWorkflowRequest,
    ) -> Result<pb::CancelWorkflowResponse> {
        let action = Action::Cancel {
            children: req.cancel_children,
        };
        let (result, descendants) = self.apply_one(&req.workflow_id, &action).await?;
        Ok(pb::CancelWorkflowResponse {
            result: Some(mc::action_result(&result)),
            descendants: descendants.iter().map(mc::action_result).collect(),
        })
    }

    pub(in crate::api) async fn cancel_many(
        &self,
        req: &pb::CancelWorkflowsRequest,
    ) -> Result<pb::CancelWorkflowsResponse> {
        let action = Action::Cancel {
            children: req.cancel_children,
        };
        let bulk = self
            .apply_many(&req.workflow_ids, req.filter.as_ref(), &action, req.dry_run)
            .await?;
        Ok(pb::CancelWorkflowsResponse {
            selected_count: bulk.selected_count,
            changed_count: bulk.changed_count,
            results: bulk.results,
        })
    }

    pub(in crate::api) async fn resume_one(
        &self,
        req: &pb::ResumeWorkflowRequest,
    ) -> Result<pb::ResumeWorkflowResponse> {
        let action = Action::Resume {
            queue_name: mc::target_queue(req.queue_name.as_ref())?,
        };
        let (result, _) = self.apply_one(&req.workflow_id, &action).await?;
        Ok(pb::ResumeWorkflowResponse {
            result: Some(mc::action_result(&result)),
        })
    }

    pub(in crate::api) async fn resume_many(
        &self,
        req: &pb::ResumeWorkflowsRequest,
    ) -> Result<pb::ResumeWorkflowsResponse> {
        let action = Action::Resume {
            queue_name: mc::target_queue(req.queue_name.as_ref())?,
        };
        let bulk = self
            .apply_many(&req.workflow_ids, req.filter.as_ref(), &action, req.dry_run)
            .await?;
        Ok(pb::ResumeWorkflowsResponse {
            selected_count: bulk.selected_count,
            changed_count: bulk.changed_count,
            results: bulk.results,
        })
    }

    pub(in crate::api) async fn delete_one(
        &self,
        req: &pb::DeleteWorkflowRequest,
    ) -> Result<pb::DeleteWorkflowResponse> {
        let action = Action::Delete {
            children: req.delete_children,
        };
        let (result, descendants) = self.apply_one(&req.workflow_id, &action).await?;
        Ok(pb::DeleteWorkflowResponse {
            result: Some(mc::action_result(&result)),
            descendants: descendants.iter().map(mc::action_result).collect(),
        })
    }

    pub(in crate::api) async fn delete_many(
        &self,
        req: &pb::DeleteWorkflowsRequest,
    ) -> Result<pb::DeleteWorkflowsResponse> {
        let action = Action::Delete {
            children: req.delete_children,
        };
        let bulk = self
            .apply_many(&req.workflow_ids, req.filter.as_ref(), &action, req.dry_run)
            .await?;
        Ok(pb::DeleteWorkflowsResponse {
            selected_count: bulk.selected_count,
            changed_count: bulk.changed_count,
            results: bulk.results,
        })
    }
}
