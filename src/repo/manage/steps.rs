//! `operation_outputs` (step checkpoints): ListWorkflowSteps, and the history a fork copies
//! from its source below the start step (steps, event history, latest events, streams).

use crate::repo::db::row::Columns;
use crate::repo::Unnamed;
use std::collections::HashMap;

use tokio_postgres::{GenericClient, Transaction};

use crate::repo::{db::classify::classify, db::scope::Bound, Repo};
use crate::{
    error::{Error, Result},
    model::Scope,
    model::{ForkSpec, StepPage, StepQuery, StepRow},
};

impl Repo {
    /// One page of a workflow's steps in step order; `None` when the workflow does not exist or is
    /// outside `scope` (both statements carry the scope, so a page is never read for another's).
    pub async fn list_steps(&self, query: &StepQuery, scope: &Scope) -> Result<Option<StepPage>> {
        let ctx = "listing workflow steps";
        let manage = &self.sql().manage;
        let bound = Bound::of(scope);
        let conn = self.conn().await?;
        let exists: bool = conn
            .query_one_unnamed(
                manage.exists.as_str(),
                &[&query.workflow_id, &bound.apps, &bound.queues],
            )
            .await
            .map_err(|e| classify(ctx, e))?
            .col(0)?;
        if !exists {
            return Ok(None);
        }
        let sql = &manage.list_steps[usize::from(query.load_output)];
        let rows = conn
            .query_unnamed(
                sql.as_str(),
                &[
                    &query.workflow_id,
                    &query.after,
                    &(query.limit + 1),
                    &query.offset.unwrap_or(0),
                    &bound.apps,
                    &bound.queues,
                ],
            )
            .await
            .map_err(|e| classify(ctx, e))?;
        let mut rows = rows
            .iter()
            .map(|row| {
                Ok(StepRow {
                    function_id: row.try_get(0)?,
                    function_name: row.try_get(1)?,
                    output: row.try_get(2)?,
                    error: row.try_get(3)?,
                    serialization: row.try_get(4)?,
                    child_workflow_id: row.try_get(5)?,
                    started_at_epoch_ms: row.try_get(6)?,
                    completed_at_epoch_ms: row.try_get(7)?,
                })
            })
            .collect::<Result<Vec<_>, tokio_postgres::Error>>()
            .map_err(|e| Error::internal("decoding an operation_outputs row", e))?;
        let has_more = rows.len() as i64 > query.limit;
        rows.truncate(query.limit as usize);
        Ok(Some(StepPage { rows, has_more }))
    }
}

/// The last recorded step (max function_id) of each of `ids` that has any.
pub(crate) async fn last_steps(
    client: &(impl GenericClient + Sync),
    sql: &str,
    ids: &[&str],
) -> Result<HashMap<String, i32>> {
    let rows = client
        .query_unnamed(sql, &[&ids])
        .await
        .map_err(|e| classify("reading the last steps of workflows", e))?;
    rows.iter().map(|r| Ok((r.col(0)?, r.col(1)?))).collect()
}

/// Copies each source's history below `spec.start_step` to its fork (`sources[i]` → `forks[i]`).
/// Notifications are not copied, as in DBOS.
pub(crate) async fn copy_history(
    repo: &Repo,
    tx: &Transaction<'_>,
    sources: &[String],
    forks: &[String],
    spec: &ForkSpec,
) -> Result<()> {
    let ctx = "copying a forked workflow's history";
    let manage = &repo.sql().manage;
    let (old, new): (Vec<&str>, Vec<&str>) = spec
        .replacement_children
        .iter()
        .map(|(o, n)| (o.as_str(), n.as_str()))
        .unzip();
    tx.execute_unnamed(
        manage.copy_steps.as_str(),
        &[&sources, &forks, &spec.start_step, &old, &new],
    )
    .await
    .map_err(|e| classify(ctx, e))?;
    for sql in [
        &manage.copy_events_history,
        &manage.copy_events,
        &manage.copy_streams,
    ] {
        tx.execute_unnamed(sql.as_str(), &[&sources, &forks, &spec.start_step])
            .await
            .map_err(|e| classify(ctx, e))?;
    }
    Ok(())
}
