//! The management transactions over a selection of workflows: cancel, resume, delete
//! and fork (in `fork.rs`). Each call is one transaction that first locks the selected
//! rows (and descendants), so every workflow's outcome is exact; a dry run rolls it back.

use crate::repo::db::row::Columns;
use crate::repo::Unnamed;
use std::collections::{HashMap, HashSet};

use tokio_postgres::Transaction;

use crate::repo::{db::classify::classify, db::scope::Bound, workflows::list::Where, Repo};
use crate::{
    error::{Error, Result},
    model::Scope,
    model::{
        Action, ActionOutcome, ActionReport, ActionResult, ListFilter, Selection, WorkflowStatus,
        INTERNAL_QUEUE, MAX_BULK_WORKFLOWS,
    },
};

/// A locked workflow: its id, its stored status before the call, and the parent it was reached from.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub id: String,
    pub status: Option<String>,
    pub parent: Option<String>,
}

impl Target {
    /// A result for this workflow with `outcome` and, when it changed, its new status.
    pub(crate) fn result(
        &self,
        outcome: ActionOutcome,
        after: Option<WorkflowStatus>,
    ) -> ActionResult {
        let previous = self.status.as_deref().and_then(WorkflowStatus::parse);
        ActionResult {
            workflow_id: self.id.clone(),
            outcome,
            previous_status: previous,
            status: if outcome.changed() { after } else { previous },
            parent_workflow_id: self.parent.clone(),
            forked_workflow_id: None,
        }
    }

    fn is(&self, statuses: &[WorkflowStatus]) -> bool {
        statuses
            .iter()
            .any(|s| self.status.as_deref() == Some(s.as_str()))
    }
}

const FINISHED: [WorkflowStatus; 2] = [WorkflowStatus::Success, WorkflowStatus::Error];
const WAITING: [WorkflowStatus; 2] = [WorkflowStatus::Enqueued, WorkflowStatus::Delayed];

impl Repo {
    /// Applies `action` to the selected workflows inside `scope` in one transaction, rolled back
    /// when `dry_run`. The scope is part of every locking SELECT, so a workflow outside it (named,
    /// matched, or a descendant) is never locked nor changed, and a named one reports NOT_FOUND.
    pub async fn apply(
        &self,
        selection: &Selection,
        action: &Action,
        dry_run: bool,
        scope: &Scope,
    ) -> Result<ActionReport> {
        let ctx = action_context(action);
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(|e| classify(ctx, e))?;
        let report = self.apply_in(&tx, selection, action, scope).await?;
        if dry_run {
            tx.rollback().await.map_err(|e| classify(ctx, e))?;
        } else {
            tx.commit().await.map_err(|e| classify(ctx, e))?;
        }
        Ok(report)
    }

    /// [`Repo::apply`] inside the caller's transaction, which commits it (a bulk job's batch commits
    /// it together with the job's cursor).
    pub(crate) async fn apply_in(
        &self,
        tx: &Transaction<'_>,
        selection: &Selection,
        action: &Action,
        scope: &Scope,
    ) -> Result<ActionReport> {
        let ctx = action_context(action);
        // 1. Lock what the selection names (ids keep their request order), then the descendants.
        let (order, mut targets) = self.lock_selection(tx, selection, scope, ctx).await?;
        let selected = targets.len();
        if action.with_children() {
            let descendants = self.lock_descendants(tx, &order, scope, ctx).await?;
            targets.extend(descendants);
        }
        // 2. Write, learning which rows changed.
        let results = match action {
            Action::Cancel { .. } => self.cancel(tx, &targets, ctx).await?,
            Action::Resume { queue_name } => self.resume(tx, &targets, queue_name, ctx).await?,
            Action::Delete { .. } => self.delete(tx, &targets, ctx).await?,
            Action::Fork(spec) => self.fork(tx, &targets, spec, scope, ctx).await?,
        };
        // 3. Report the selection in its order (unknown ids as NOT_FOUND), then the descendants.
        let mut by_id: HashMap<String, ActionResult> = results
            .into_iter()
            .map(|r| (r.workflow_id.clone(), r))
            .collect();
        let mut report = ActionReport::default();
        for id in &order {
            let result = by_id.remove(id);
            report
                .results
                .push(result.unwrap_or_else(|| ActionResult::not_found(id)));
        }
        for target in &targets[selected..] {
            report.results.extend(by_id.remove(&target.id));
        }
        Ok(report)
    }

    /// Locks the selected rows. Returns the selection's ids in report order (with unknown ones for
    /// an id list) and the rows found.
    async fn lock_selection(
        &self,
        tx: &Transaction<'_>,
        selection: &Selection,
        scope: &Scope,
        ctx: &str,
    ) -> Result<(Vec<String>, Vec<Target>)> {
        let mut filter = match selection {
            Selection::Ids(ids) => ListFilter {
                workflow_ids: ids.clone(),
                ..ListFilter::default()
            },
            Selection::Filter(filter) => (**filter).clone(),
        };
        filter.scope = scope.clone();
        let mut w = Where::new(self);
        w.filter(&filter);
        let limit = w.bind(MAX_BULK_WORKFLOWS as i64 + 1);
        // Locking in id order keeps concurrent bulk calls from deadlocking each other.
        let sql = format!(
            "{}{} ORDER BY ws.workflow_uuid LIMIT {limit} FOR UPDATE",
            self.sql().manage.select_prefix,
            w.sql()
        );
        let rows = tx
            .query_unnamed(sql.as_str(), &w.params())
            .await
            .map_err(|e| classify(ctx, e))?;
        if rows.len() > MAX_BULK_WORKFLOWS {
            return Err(Error::FailedPrecondition(format!(
                "the filter matches more than {MAX_BULK_WORKFLOWS} workflows; narrow it (one call changes them in one transaction)"
            )));
        }
        let targets: Vec<Target> = rows
            .iter()
            .map(|row| {
                Ok(Target {
                    id: row.col(0)?,
                    status: row.col(1)?,
                    parent: None,
                })
            })
            .collect::<Result<_>>()?;
        let order = match selection {
            Selection::Ids(ids) => ids.clone(),
            Selection::Filter(_) => targets.iter().map(|t| t.id.clone()).collect(),
        };
        let by_id: HashMap<&str, &Target> = targets.iter().map(|t| (t.id.as_str(), t)).collect();
        let found = order
            .iter()
            .filter_map(|id| by_id.get(id.as_str()).map(|t| (*t).clone()))
            .collect();
        Ok((order, found))
    }

    /// Locks every descendant of `roots`, breadth-first through `parent_workflow_id` (as DBOS walks
    /// them, unknown roots included), each visited once.
    async fn lock_descendants(
        &self,
        tx: &Transaction<'_>,
        roots: &[String],
        scope: &Scope,
        ctx: &str,
    ) -> Result<Vec<Target>> {
        let bound = Bound::of(scope);
        let mut seen: HashSet<String> = roots.iter().cloned().collect();
        let mut frontier = roots.to_vec();
        let mut found = Vec::new();
        while !frontier.is_empty() {
            let rows = tx
                .query_unnamed(
                    self.sql().manage.lock_children.as_str(),
                    &[&frontier, &bound.apps, &bound.queues],
                )
                .await
                .map_err(|e| classify(ctx, e))?;
            frontier.clear();
            for row in rows {
                let id: String = row.col(0)?;
                if seen.insert(id.clone()) {
                    frontier.push(id.clone());
                    found.push(Target {
                        id,
                        status: row.col(1)?,
                        parent: row.col(2)?,
                    });
                }
            }
        }
        Ok(found)
    }

    /// Runs `sql` over the targets' ids (plus `extra` parameters) and returns the ids it reports.
    async fn changed_ids(
        &self,
        tx: &Transaction<'_>,
        sql: &str,
        targets: &[Target],
        extra: Option<&String>,
        ctx: &str,
    ) -> Result<HashSet<String>> {
        let ids: Vec<&str> = targets.iter().map(|t| t.id.as_str()).collect();
        let rows = match extra {
            None => tx.query_unnamed(sql, &[&ids]).await,
            Some(value) => tx.query_unnamed(sql, &[&ids, value]).await,
        }
        .map_err(|e| classify(ctx, e))?;
        rows.iter().map(|r| r.col(0)).collect()
    }

    async fn cancel(
        &self,
        tx: &Transaction<'_>,
        targets: &[Target],
        ctx: &str,
    ) -> Result<Vec<ActionResult>> {
        let sql = &self.sql().manage.cancel;
        let changed = self.changed_ids(tx, sql, targets, None, ctx).await?;
        let written = |_: &Target| ActionOutcome::Cancelled;
        Ok(outcomes(
            targets,
            &changed,
            Some(WorkflowStatus::Cancelled),
            written,
        ))
    }

    async fn resume(
        &self,
        tx: &Transaction<'_>,
        targets: &[Target],
        queue_name: &String,
        ctx: &str,
    ) -> Result<Vec<ActionResult>> {
        let sql = &self.sql().manage.resume;
        let changed = self
            .changed_ids(tx, sql, targets, Some(queue_name), ctx)
            .await?;
        let written = |t: &Target| {
            if t.is(&WAITING) && queue_name == INTERNAL_QUEUE {
                // It was still waiting for its queue; the internal queue has no limits.
                ActionOutcome::StartedNow
            } else {
                ActionOutcome::Resumed
            }
        };
        Ok(outcomes(
            targets,
            &changed,
            Some(WorkflowStatus::Enqueued),
            written,
        ))
    }

    async fn delete(
        &self,
        tx: &Transaction<'_>,
        targets: &[Target],
        ctx: &str,
    ) -> Result<Vec<ActionResult>> {
        let manage = &self.sql().manage;
        let ids: Vec<&str> = targets.iter().map(|t| t.id.as_str()).collect();
        // The payload tables have no foreign key, so the status delete would orphan their rows.
        for sql in &manage.delete_payloads {
            tx.execute_unnamed(sql.as_str(), &[&ids])
                .await
                .map_err(|e| classify(ctx, e))?;
        }
        let deleted = self
            .changed_ids(tx, &manage.delete_status, targets, None, ctx)
            .await?;
        Ok(outcomes(targets, &deleted, None, |_| {
            ActionOutcome::Deleted
        }))
    }
}

/// What an action is doing, for error messages.
fn action_context(action: &Action) -> &'static str {
    match action {
        Action::Cancel { .. } => "cancelling workflows",
        Action::Resume { .. } => "resuming workflows",
        Action::Delete { .. } => "deleting workflows",
        Action::Fork(_) => "forking workflows",
    }
}

/// Each target's result: `written(target)` with status `after` where the statement changed the
/// row, else why the row was left alone (its status is locked, so this is exact).
fn outcomes(
    targets: &[Target],
    changed: &HashSet<String>,
    after: Option<WorkflowStatus>,
    written: impl Fn(&Target) -> ActionOutcome,
) -> Vec<ActionResult> {
    targets
        .iter()
        .map(|t| {
            let outcome = if changed.contains(&t.id) {
                written(t)
            } else if t.is(&FINISHED) {
                ActionOutcome::AlreadyFinished
            } else if t.is(&[WorkflowStatus::Cancelled]) {
                ActionOutcome::AlreadyCancelled
            } else {
                ActionOutcome::WrongStatus
            };
            t.result(outcome, after)
        })
        .collect()
}
