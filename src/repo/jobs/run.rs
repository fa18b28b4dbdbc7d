//! Running bulk jobs: the lease that lets one replica at a time run a job, and the batch, which
//! applies the job's action to the next workflows in (created_at, workflow_uuid) order and moves
//! the job's cursor in the same transaction.
//!
//! Exactly once: each batch first locks the job's row and checks that this runner still holds it
//! and that it is still RUNNING; a replica that lost its lease (it stalled, another took the job
//! over) or a job aborted meanwhile applies nothing. The workflows and the cursor commit together,
//! so a replica killed mid-batch leaves the batch undone and the next runner redoes exactly it.

use tokio_postgres::Transaction;

use crate::repo::{
    db::{classify::classify, row::Columns},
    jobs::{decode, COLUMNS, NOW_MS, TABLE},
    workflows::list::Where,
    Repo, Unnamed,
};
use crate::{
    error::Result,
    model::{
        job::{BatchOutcome, JobRow},
        Action, ListFilter, Scope, Selection,
    },
};

/// What a batch needs besides the job's row: the decoded operation.
pub struct BatchPlan<'a> {
    pub job_id: &'a str,
    pub runner_id: &'a str,
    /// How long the lease lasts from this batch's commit.
    pub lease_ms: i64,
    pub filter: &'a ListFilter,
    pub action: &'a Action,
    pub scope: &'a Scope,
    /// Most workflows in this batch.
    pub limit: i64,
}

impl Repo {
    /// Takes a RUNNING job of this schema that no replica holds (or whose holder's lease ran out)
    /// for `runner_id` until `lease_ms` from now; oldest first. `None` when there is none.
    pub async fn claim_job(&self, runner_id: &str, lease_ms: i64) -> Result<Option<JobRow>> {
        let sql = format!(
            "UPDATE {TABLE} SET runner_id = $1, lease_expires_at = {NOW_MS} + $2 \
             WHERE job_id = (SELECT job_id FROM {TABLE} WHERE dbos_schema = $3 AND state = 'RUNNING' \
               AND (runner_id IS NULL OR runner_id = $1 OR lease_expires_at < {NOW_MS}) \
               ORDER BY created_at, job_id LIMIT 1 FOR UPDATE SKIP LOCKED) \
             RETURNING {COLUMNS}"
        );
        let conn = self.conn().await?;
        let row = conn
            .query_opt_unnamed(sql.as_str(), &[&runner_id, &lease_ms, &self.schema().name])
            .await
            .map_err(|e| classify("claiming a bulk job", e))?;
        row.as_ref().map(decode).transpose()
    }

    /// Gives a job back (this replica is stopping), so another replica takes it without waiting for
    /// the lease to run out.
    pub async fn release_job(&self, job_id: &str, runner_id: &str) -> Result<()> {
        let sql = format!(
            "UPDATE {TABLE} SET runner_id = NULL, lease_expires_at = NULL \
             WHERE job_id = $1 AND runner_id = $2"
        );
        let conn = self.conn().await?;
        conn.execute_unnamed(sql.as_str(), &[&job_id, &runner_id])
            .await
            .map_err(|e| classify("releasing a bulk job", e))?;
        Ok(())
    }

    /// Marks a job this runner holds FAILED with `error` (in the caller's terms).
    pub async fn fail_job(&self, job_id: &str, runner_id: &str, error: &str) -> Result<()> {
        let sql = format!(
            "UPDATE {TABLE} SET state = 'FAILED', error = $3, finished_at = {NOW_MS}, \
             updated_at = {NOW_MS}, runner_id = NULL, lease_expires_at = NULL \
             WHERE job_id = $1 AND runner_id = $2 AND state = 'RUNNING'"
        );
        let conn = self.conn().await?;
        conn.execute_unnamed(sql.as_str(), &[&job_id, &runner_id, &error])
            .await
            .map_err(|e| classify("failing a bulk job", e))?;
        Ok(())
    }

    /// Applies one batch of the job, with its cursor and counts, in one transaction.
    pub async fn run_batch(&self, plan: &BatchPlan<'_>) -> Result<BatchOutcome> {
        let ctx = "running a bulk job's batch";
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(|e| classify(ctx, e))?;
        let outcome = self.batch_in(&tx, plan).await?;
        tx.commit().await.map_err(|e| classify(ctx, e))?;
        Ok(outcome)
    }

    async fn batch_in(&self, tx: &Transaction<'_>, plan: &BatchPlan<'_>) -> Result<BatchOutcome> {
        let ctx = "running a bulk job's batch";
        // The job's row, locked: abort waits for this batch, and a lost lease shows here.
        let sql = format!(
            "SELECT cursor_created_at, cursor_workflow_uuid, bound_created_at, bound_workflow_uuid \
             FROM {TABLE} WHERE job_id = $1 AND runner_id = $2 AND state = 'RUNNING' FOR UPDATE"
        );
        let Some(job) = tx
            .query_opt_unnamed(sql.as_str(), &[&plan.job_id, &plan.runner_id])
            .await
            .map_err(|e| classify(ctx, e))?
        else {
            return Ok(BatchOutcome::Stopped);
        };
        let cursor: (Option<i64>, Option<String>) = (job.col(0)?, job.col(1)?);
        let bound: (Option<i64>, Option<String>) = (job.col(2)?, job.col(3)?);
        let ids = match bound {
            (Some(bc), Some(bu)) => self.next_ids(tx, plan, cursor.clone(), (bc, bu)).await?,
            _ => Vec::new(),
        };
        let done = (ids.len() as i64) < plan.limit;
        let (processed, changed) = match ids.last() {
            None => (0, 0),
            Some(_) => {
                let selection = Selection::Ids(ids.iter().map(|(_, id)| id.clone()).collect());
                let report = self
                    .apply_in(tx, &selection, plan.action, plan.scope)
                    .await?;
                (ids.len(), report.changed())
            }
        };
        let (cursor_at, cursor_id) = match ids.last() {
            Some((at, id)) => (Some(*at), Some(id.clone())),
            None => cursor,
        };
        let sql = format!(
            "UPDATE {TABLE} SET cursor_created_at = $2, cursor_workflow_uuid = $3, \
             processed_count = processed_count + $4, changed_count = changed_count + $5, \
             batch_count = batch_count + (CASE WHEN $4 > 0 THEN 1 ELSE 0 END), \
             lease_expires_at = {NOW_MS} + $6, updated_at = {NOW_MS}, \
             state = CASE WHEN $7 THEN 'COMPLETED' ELSE state END, \
             finished_at = CASE WHEN $7 THEN {NOW_MS} ELSE finished_at END, \
             runner_id = CASE WHEN $7 THEN NULL ELSE runner_id END \
             WHERE job_id = $1"
        );
        tx.execute_unnamed(
            sql.as_str(),
            &[
                &plan.job_id,
                &cursor_at,
                &cursor_id,
                &(processed as i64),
                &(changed as i64),
                &plan.lease_ms,
                &done,
            ],
        )
        .await
        .map_err(|e| classify(ctx, e))?;
        Ok(BatchOutcome::Applied {
            processed,
            changed,
            done,
        })
    }

    /// The next workflows of the job after `cursor`, up to its bound, locked in key order.
    async fn next_ids(
        &self,
        tx: &Transaction<'_>,
        plan: &BatchPlan<'_>,
        cursor: (Option<i64>, Option<String>),
        bound: (i64, String),
    ) -> Result<Vec<(i64, String)>> {
        let mut filter = plan.filter.clone();
        // The job's scope is in this statement: a scoped job never selects a row outside it.
        filter.scope = plan.scope.clone();
        let mut w = Where::new(self);
        w.filter(&filter);
        if let (Some(at), Some(id)) = cursor {
            let (c, i) = (w.bind(at), w.bind(id));
            w.clauses.push(format!(
                "ws.created_at >= {c} AND (ws.created_at, ws.workflow_uuid) > ({c}, {i})"
            ));
        }
        let (c, i) = (w.bind(bound.0), w.bind(bound.1));
        w.clauses.push(format!(
            "ws.created_at <= {c} AND (ws.created_at, ws.workflow_uuid) <= ({c}, {i})"
        ));
        let limit = w.bind(plan.limit);
        let sql = format!(
            "SELECT ws.created_at, ws.workflow_uuid FROM {} ws{} \
             ORDER BY ws.created_at, ws.workflow_uuid LIMIT {limit} FOR UPDATE OF ws",
            self.schema().table("workflow_status"),
            w.sql()
        );
        let rows = tx
            .query_unnamed(sql.as_str(), &w.params())
            .await
            .map_err(|e| classify("selecting a bulk job's batch", e))?;
        rows.iter().map(|r| Ok((r.col(0)?, r.col(1)?))).collect()
    }
}
