//! DebounceWorkflow: the DBOS debouncer over gRPC.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::api::{convert, WorkflowApi};
use crate::{
    error::{Error, Result},
    pb,
};

impl WorkflowApi {
    pub(super) async fn debounce(
        &self,
        req: &pb::DebounceWorkflowRequest,
    ) -> Result<pb::DebounceWorkflowResponse> {
        let item = req
            .workflow
            .as_ref()
            .ok_or_else(|| Error::invalid("workflow", "is required"))?;
        let mut wf = convert::new_workflow(item, self.default_app.as_deref(), self.payload_limit)
            .map_err(|e| match e {
            Error::InvalidArgument { field, reason } => {
                Error::invalid(format!("workflow.{field}"), reason)
            }
            other => other,
        })?;
        if wf.deduplication_id.is_some() || wf.delay_ms.is_some() {
            return Err(Error::invalid(
                "workflow",
                "must not set deduplication_id or delay: the debouncer owns them",
            ));
        }
        let key = convert::required("debounce_key", &req.debounce_key)?;
        let period = match &req.debounce_period {
            Some(d) => convert::duration_ms("debounce_period", d)?,
            None => 0,
        };
        if period <= 0 {
            return Err(Error::invalid(
                "debounce_period",
                "is required and must be positive",
            ));
        }
        let timeout = req
            .debounce_timeout
            .as_ref()
            .map(|d| convert::duration_ms("debounce_timeout", d))
            .transpose()?
            .filter(|ms| *ms > 0);
        // The key as the DBOS debouncers build it, so dbosd and in-process debouncers coalesce.
        wf.deduplication_id = Some(format!(
            "{}.{}-{key}",
            wf.class_name.as_deref().unwrap_or(""),
            wf.name
        ));
        wf.delay_ms = Some(timeout.map_or(period, |t| t.min(period)));
        wf.is_debounced = true;
        // The clients take the deadline from their own clock; so does dbosd.
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default();
        wf.debounce_deadline_epoch_ms = timeout.map(|t| now_ms + t);
        let (workflow_id, created) = self.repo.debounce(&wf).await?;
        Ok(pb::DebounceWorkflowResponse {
            workflow_id,
            created,
        })
    }
}
