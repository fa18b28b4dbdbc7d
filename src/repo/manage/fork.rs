//! ForkWorkflow(s): inside the management transaction of `control.rs`, enqueue a copy of each
//! locked source under a new id and copy its history below the start step.

use crate::repo::Unnamed;
use tokio_postgres::Transaction;

use crate::repo::{
    db::classify::classify, db::classify::is_unique_violation, db::scope::Bound,
    manage::control::Target, manage::steps, Repo,
};
use crate::{
    error::{Error, Result},
    model::Scope,
    model::{ActionOutcome, ActionResult, ForkSpec, ForkVersion, WorkflowStatus},
};

impl Repo {
    pub(in crate::repo) async fn fork(
        &self,
        tx: &Transaction<'_>,
        targets: &[Target],
        spec: &ForkSpec,
        scope: &Scope,
        ctx: &str,
    ) -> Result<Vec<ActionResult>> {
        let manage = &self.sql().manage;
        self.check_replacement_children(tx, spec, scope, ctx)
            .await?;
        let ids: Vec<&str> = targets.iter().map(|t| t.id.as_str()).collect();
        let last_steps = steps::last_steps(tx, &manage.last_steps, &ids).await?;
        let mut results = Vec::with_capacity(targets.len());
        let (mut sources, mut forks) = (Vec::new(), Vec::new());
        for target in targets {
            // The last valid start step is the last recorded one (or the first, when none is).
            let last = last_steps
                .get(&target.id)
                .copied()
                .unwrap_or(spec.first_step)
                .max(spec.first_step);
            if spec.start_step > last {
                results.push(target.result(ActionOutcome::StepOutOfRange, None));
                continue;
            }
            let fork_id = spec
                .forked_workflow_id
                .clone()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            // A fork leaves its source as it was (but for was_forked_from).
            let unchanged = target.status.as_deref().and_then(WorkflowStatus::parse);
            let mut result = target.result(ActionOutcome::Forked, unchanged);
            result.forked_workflow_id = Some(fork_id.clone());
            results.push(result);
            sources.push(target.id.clone());
            forks.push(fork_id);
        }
        if sources.is_empty() {
            return Ok(results);
        }

        let (keep_version, version) = match &spec.version {
            ForkVersion::Latest => (false, None),
            ForkVersion::Source => (true, None),
            ForkVersion::Pinned(v) => (false, Some(v.as_str())),
        };
        let inserted = tx
            .execute_unnamed(
                manage.fork_status.as_str(),
                &[
                    &sources,
                    &forks,
                    &keep_version,
                    &version,
                    &spec.queue_name,
                    &spec.queue_partition_key,
                    &spec.default_app,
                    &spec.timeout_ms,
                ],
            )
            .await;
        if let Err(e) = inserted {
            return Err(if is_unique_violation(&e, "pkey") {
                Error::AlreadyExists(format!(
                    "workflow {} already exists; fork onto a new id",
                    forks.join(", ")
                ))
            } else {
                classify(ctx, e)
            });
        }
        if let Some(sql) = &manage.fork_input {
            tx.execute_unnamed(sql.as_str(), &[&sources, &forks])
                .await
                .map_err(|e| classify(ctx, e))?;
        }
        if let Some(sql) = &manage.mark_forked {
            tx.execute_unnamed(sql.as_str(), &[&sources])
                .await
                .map_err(|e| classify(ctx, e))?;
        }
        // Nothing lies below the first step, so a fork from it copies nothing (as all DBOS clients skip it).
        if spec.start_step > spec.first_step {
            steps::copy_history(self, tx, &sources, &forks, spec).await?;
        }
        Ok(results)
    }

    /// A restricted caller may point a fork's copied steps only at children inside its scope: the
    /// fork would await the child and hand its output to the caller's code. A child outside the
    /// scope is answered as one that does not exist.
    async fn check_replacement_children(
        &self,
        tx: &Transaction<'_>,
        spec: &ForkSpec,
        scope: &Scope,
        ctx: &str,
    ) -> Result<()> {
        if !scope.is_restricted() || spec.replacement_children.is_empty() {
            return Ok(());
        }
        let new_ids: Vec<&str> = spec
            .replacement_children
            .iter()
            .map(|(_, n)| n.as_str())
            .collect();
        let bound = Bound::of(scope);
        let rows = tx
            .query_unnamed(
                self.sql().manage.share_in_scope.as_str(),
                &[&new_ids, &bound.apps, &bound.queues],
            )
            .await
            .map_err(|e| classify(ctx, e))?;
        let inside: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        match new_ids.iter().find(|id| !inside.iter().any(|i| i == *id)) {
            Some(id) => Err(Error::NotFound(format!("workflow {id} does not exist"))),
            None => Ok(()),
        }
    }
}
