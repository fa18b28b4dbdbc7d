//! SetWorkflowDelay, SetWorkflowPriority and UpdateWorkflowAttributes: changes to one waiting or
//! running workflow.

use crate::api::{convert, manage::convert as mc, WorkflowApi};
use crate::{error::Result, pb};

impl WorkflowApi {
    pub(in crate::api) async fn set_delay(
        &self,
        req: &pb::SetWorkflowDelayRequest,
    ) -> Result<pb::SetWorkflowDelayResponse> {
        let id = convert::required("workflow_id", &req.workflow_id)?;
        let changed = self
            .repo
            .set_delay(&id, mc::delay_until(req)?, self.scope())
            .await?;
        Ok(pb::SetWorkflowDelayResponse {
            result: Some(mc::action_result(&changed.result)),
            delay_until: changed.value.map(convert::ms_to_timestamp),
        })
    }

    pub(in crate::api) async fn set_priority(
        &self,
        req: &pb::SetWorkflowPriorityRequest,
    ) -> Result<pb::SetWorkflowPriorityResponse> {
        let id = convert::required("workflow_id", &req.workflow_id)?;
        let changed = self
            .repo
            .set_priority(&id, mc::priority(req.priority)?, self.scope())
            .await?;
        Ok(pb::SetWorkflowPriorityResponse {
            result: Some(mc::action_result(&changed.result)),
        })
    }

    pub(in crate::api) async fn update_attributes(
        &self,
        req: &pb::UpdateWorkflowAttributesRequest,
    ) -> Result<pb::UpdateWorkflowAttributesResponse> {
        let id = convert::required("workflow_id", &req.workflow_id)?;
        let change = mc::attributes_change(req, self.payload_limit)?;
        let changed = self
            .repo
            .update_attributes(&id, &change, self.scope())
            .await?;
        Ok(pb::UpdateWorkflowAttributesResponse {
            result: Some(mc::action_result(&changed.result)),
            attributes: mc::attributes(changed.value.as_deref()),
        })
    }
}
