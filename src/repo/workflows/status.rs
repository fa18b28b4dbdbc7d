//! `workflow_status` with its payload tables `workflow_input` / `workflow_output`: enqueue and read.

use tokio_postgres::Row;

use crate::repo::{db::classify::classify, db::scope::Bound, PooledClient, Repo};
use crate::{
    error::{Error, Result},
    model::Scope,
    model::WorkflowRow,
};

impl Repo {
    /// One workflow without its input, with output and error (what waits re-read on each wake);
    /// `None` when it does not exist or is outside `scope`.
    pub async fn get_workflow_outcome(
        &self,
        workflow_id: &str,
        scope: &Scope,
    ) -> Result<Option<WorkflowRow>> {
        let conn = self.conn().await?;
        get_workflow(&conn, &self.sql().get_outcome, workflow_id, scope).await
    }

    /// Several workflows without input, with output and error (one query for a multi-wait); those
    /// outside `scope` are left out as missing ones are.
    pub async fn get_workflow_outcomes(
        &self,
        workflow_ids: &[String],
        scope: &Scope,
    ) -> Result<Vec<WorkflowRow>> {
        let conn = self.conn().await?;
        let bound = Bound::of(scope);
        let rows = conn
            .query_hot(
                self.sql().get_outcomes.as_str(),
                &[&workflow_ids, &bound.apps, &bound.queues],
            )
            .await
            .map_err(|e| classify("reading workflows", e))?;
        rows.iter().map(decode_row).collect()
    }

    /// One workflow with input, output and error; `None` when the id does not exist or is
    /// outside `scope`.
    pub async fn get_workflow(
        &self,
        workflow_id: &str,
        scope: &Scope,
    ) -> Result<Option<WorkflowRow>> {
        let conn = self.conn().await?;
        get_workflow(&conn, &self.sql().get_workflow, workflow_id, scope).await
    }
}

/// Reads one workflow row inside `scope` with `sql` (a `Statements::get_workflow`).
async fn get_workflow(
    client: &PooledClient,
    sql: &str,
    workflow_id: &str,
    scope: &Scope,
) -> Result<Option<WorkflowRow>> {
    let bound = Bound::of(scope);
    let row = client
        .query_opt_hot(sql, &[&workflow_id, &bound.apps, &bound.queues])
        .await
        .map_err(|e| classify("reading a workflow", e))?;
    row.as_ref().map(decode_row).transpose()
}

/// Decodes a row selected by one of the `Statements` workflow SELECTs.
pub(crate) fn decode_row(row: &Row) -> Result<WorkflowRow> {
    let decode = || -> Result<WorkflowRow, tokio_postgres::Error> {
        Ok(WorkflowRow {
            workflow_id: row.try_get("workflow_uuid")?,
            status: row.try_get("status")?,
            name: row.try_get("name")?,
            class_name: row.try_get("class_name")?,
            config_name: row.try_get("config_name")?,
            queue_name: row.try_get("queue_name")?,
            application_name: row.try_get("application_name")?,
            application_version: row.try_get("application_version")?,
            application_id: row.try_get("application_id")?,
            executor_id: row.try_get("executor_id")?,
            authenticated_user: row.try_get("authenticated_user")?,
            assumed_role: row.try_get("assumed_role")?,
            authenticated_roles: row.try_get("authenticated_roles")?,
            serialization: row.try_get("serialization")?,
            inputs: row.try_get("inputs")?,
            output: row.try_get("output")?,
            error: row.try_get("error")?,
            recovery_attempts: row.try_get("recovery_attempts")?,
            priority: row
                .try_get::<_, Option<i32>>("priority")?
                .unwrap_or_default(),
            deduplication_id: row.try_get("deduplication_id")?,
            queue_partition_key: row.try_get("queue_partition_key")?,
            workflow_timeout_ms: row.try_get("workflow_timeout_ms")?,
            workflow_deadline_epoch_ms: row.try_get("workflow_deadline_epoch_ms")?,
            created_at: row
                .try_get::<_, Option<i64>>("created_at")?
                .unwrap_or_default(),
            updated_at: row
                .try_get::<_, Option<i64>>("updated_at")?
                .unwrap_or_default(),
            started_at_epoch_ms: row.try_get("started_at_epoch_ms")?,
            completed_at: row.try_get("completed_at")?,
            delay_until_epoch_ms: row.try_get("delay_until_epoch_ms")?,
            forked_from: row.try_get("forked_from")?,
            was_forked_from: row
                .try_get::<_, Option<bool>>("was_forked_from")?
                .unwrap_or_default(),
            parent_workflow_id: row.try_get("parent_workflow_id")?,
            schedule_name: row.try_get("schedule_name")?,
            attributes: row.try_get("attributes")?,
            is_debounced: row
                .try_get::<_, Option<bool>>("is_debounced")?
                .unwrap_or_default(),
        })
    };
    decode().map_err(|e| Error::internal("decoding a workflow_status row", e))
}

/// Decodes a status row from its `row_to_json` text (the hub's change feed).
pub(crate) fn decode_json_row(json: &str) -> Result<WorkflowRow> {
    serde_json::from_str(json)
        .map_err(|e| Error::internal("decoding a changed workflow_status row", e))
}
