//! ExportWorkflow and ImportWorkflow: a workflow's rows as a portable, versioned document
//! (`model::export`) and back. Export is a read in the caller's scope (the repository reads only
//! workflows inside it). Import is a write of new workflows: every workflow of the document must
//! belong to an application and queue inside the caller's scope, as EnqueueWorkflow's do.
//!
//! Bounds: a document is at most four payload limits (`--max-payload-bytes`, itself at most a
//! quarter of `--max-message-bytes`, so a document fits a message), each value at most one
//! payload limit, 100 workflows and 100,000 rows.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::api::{convert, WorkflowApi};
use crate::{
    error::{Error, Result},
    model::export::{Document, Limits},
    pb,
};

/// Most workflows in one document (a workflow and 99 descendants).
const MAX_WORKFLOWS: usize = 100;
/// Most rows in one document.
const MAX_ROWS: usize = 100_000;

impl WorkflowApi {
    fn export_limits(&self) -> Limits {
        Limits {
            max_bytes: self.payload_limit.saturating_mul(4),
            max_workflows: MAX_WORKFLOWS,
            max_rows: MAX_ROWS,
            max_value_bytes: self.payload_limit,
        }
    }

    pub(in crate::api) async fn export_workflow(
        &self,
        req: &pb::ExportWorkflowRequest,
    ) -> Result<pb::ExportWorkflowResponse> {
        let id = convert::required("workflow_id", &req.workflow_id)?;
        let workflows = self
            .repo
            .export_workflows(&id, req.include_children, self.scope(), MAX_WORKFLOWS)
            .await?
            .ok_or_else(|| Error::NotFound(format!("workflow {id} does not exist")))?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let now_ms = i64::try_from(now.as_millis()).unwrap_or(i64::MAX);
        let doc = Document::new(workflows, now_ms, self.repo.schema().version);
        let document = doc.encode();
        // What cannot be imported is not exported: the same bounds apply both ways.
        let limits = self.export_limits();
        if document.len() > limits.max_bytes {
            return Err(Error::FailedPrecondition(format!(
                "the export of workflow {id} is {} bytes, over the {}-byte export limit (four times --max-payload-bytes)",
                document.len(),
                limits.max_bytes
            )));
        }
        Document::decode(&document, &limits).map_err(|e| match e {
            Error::InvalidArgument { reason, .. } => Error::FailedPrecondition(format!(
                "workflow {id} cannot be exported within the import limits: the document {reason}"
            )),
            other => other,
        })?;
        Ok(pb::ExportWorkflowResponse {
            workflow_ids: doc
                .workflows
                .iter()
                .map(|w| w.workflow_id.clone())
                .collect(),
            document,
        })
    }

    pub(in crate::api) async fn import_workflow(
        &self,
        req: &pb::ImportWorkflowRequest,
    ) -> Result<pb::ImportWorkflowResponse> {
        if req.document.trim().is_empty() {
            return Err(Error::invalid(
                "document",
                "is required and must not be blank",
            ));
        }
        let mut doc = Document::decode(&req.document, &self.export_limits())?;
        if let Some(new_id) = &req.as_workflow_id {
            let new_id = convert::required("as_workflow_id", new_id)?;
            doc.rename(&new_id);
        }
        let scope = self.scope();
        for wf in &doc.workflows {
            let (app, queue) = (
                wf.status_text("application_name"),
                wf.status_text("queue_name"),
            );
            if !scope.allows(app, queue) {
                return Err(Error::PermissionDenied(format!(
                    "this token may not import workflow {} (application {}, queue {})",
                    wf.workflow_id,
                    app.unwrap_or("none"),
                    queue.unwrap_or("none")
                )));
            }
        }
        self.repo.import_workflows(&doc.workflows).await?;
        Ok(pb::ImportWorkflowResponse {
            workflow_id: doc.workflow_id.clone(),
            workflow_ids: doc
                .workflows
                .iter()
                .map(|w| w.workflow_id.clone())
                .collect(),
        })
    }
}
