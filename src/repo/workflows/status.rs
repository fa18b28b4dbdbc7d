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
    let mut at = Cursor { row, next: 0 };
    let mut decode = || -> Result<WorkflowRow, tokio_postgres::Error> {
        Ok(WorkflowRow {
            workflow_id: at.get("workflow_uuid")?,
            status: at.get("status")?,
            name: at.get("name")?,
            class_name: at.get("class_name")?,
            config_name: at.get("config_name")?,
            queue_name: at.get("queue_name")?,
            application_name: at.get("application_name")?,
            application_version: at.get("application_version")?,
            application_id: at.get("application_id")?,
            executor_id: at.get("executor_id")?,
            authenticated_user: at.get("authenticated_user")?,
            assumed_role: at.get("assumed_role")?,
            authenticated_roles: at.get("authenticated_roles")?,
            serialization: at.get("serialization")?,
            recovery_attempts: at.get("recovery_attempts")?,
            priority: at.get::<Option<i32>>("priority")?.unwrap_or_default(),
            deduplication_id: at.get("deduplication_id")?,
            queue_partition_key: at.get("queue_partition_key")?,
            workflow_timeout_ms: at.get("workflow_timeout_ms")?,
            workflow_deadline_epoch_ms: at.get("workflow_deadline_epoch_ms")?,
            created_at: at.get::<Option<i64>>("created_at")?.unwrap_or_default(),
            updated_at: at.get::<Option<i64>>("updated_at")?.unwrap_or_default(),
            started_at_epoch_ms: at.get("started_at_epoch_ms")?,
            completed_at: at.get("completed_at")?,
            delay_until_epoch_ms: at.get("delay_until_epoch_ms")?,
            forked_from: at.get("forked_from")?,
            was_forked_from: at
                .get::<Option<bool>>("was_forked_from")?
                .unwrap_or_default(),
            parent_workflow_id: at.get("parent_workflow_id")?,
            schedule_name: at.get("schedule_name")?,
            is_debounced: at.get::<Option<bool>>("is_debounced")?.unwrap_or_default(),
            attributes: at.get("attributes")?,
            inputs: at.get("inputs")?,
            output: at.get("output")?,
            error: at.get("error")?,
        })
    };
    decode().map_err(|e| Error::internal("decoding a workflow_status row", e))
}

/// Reads a row's columns by name, expecting them in the order the `Statements` SELECTs list them
/// (as `decode_row` asks for them): each name is checked against the next column, one comparison,
/// before a scan of every column, so a page of 100 rows of 34 columns does not compare names
/// ~60,000 times. A row in another order still decodes, by the scan.
struct Cursor<'a> {
    row: &'a Row,
    next: usize,
}

impl<'a> Cursor<'a> {
    fn get<T: tokio_postgres::types::FromSql<'a>>(
        &mut self,
        name: &str,
    ) -> Result<T, tokio_postgres::Error> {
        let columns = self.row.columns();
        let i = match columns.get(self.next) {
            Some(column) if column.name() == name => self.next,
            // Another order: found by name, and the next read starts after it.
            _ => match columns.iter().position(|c| c.name() == name) {
                Some(i) => i,
                None => return self.row.try_get(name),
            },
        };
        self.next = i + 1;
        self.row.try_get(i)
    }
}

/// Decodes a status row from its `row_to_json` text (the hub's change feed).
pub(crate) fn decode_json_row(json: &str) -> Result<WorkflowRow> {
    serde_json::from_str(json)
        .map_err(|e| Error::internal("decoding a changed workflow_status row", e))
}
