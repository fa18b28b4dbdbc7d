//! In-flight changes to one workflow: its delay, its queue priority, its attributes. Each is
//! one transaction that locks the row first, so the caller learns whether the status took the change.

use tokio_postgres::types::FromSql;

use crate::repo::db::row::Columns;
use crate::repo::{
    db::classify::classify, db::scope::Bound, manage::control::Target, Param, Repo, Unnamed,
};
use crate::{
    error::{Error, Result},
    model::Scope,
    model::{ActionOutcome, AttributesChange, Changed, DelayUntil, WorkflowStatus},
};

impl Repo {
    /// Sets when a DELAYED workflow becomes ENQUEUED; returns the new delay end.
    pub async fn set_delay(
        &self,
        workflow_id: &str,
        until: DelayUntil,
        scope: &Scope,
    ) -> Result<Changed<i64>> {
        let sql = self.sql().manage.set_delay.as_deref().ok_or_else(|| {
            Error::FailedPrecondition(
                "this DBOS schema predates delays (workflow_status.delay_until_epoch_ms)".into(),
            )
        })?;
        let (at, from_now) = match until {
            DelayUntil::At(ms) => (Some(ms), None),
            DelayUntil::FromNow(ms) => (None, Some(ms)),
        };
        self.change_one(
            "setting a workflow delay",
            (workflow_id, scope),
            sql,
            &[&at, &from_now],
        )
        .await
    }

    /// Sets the queue priority of an ENQUEUED or DELAYED workflow.
    pub async fn set_priority(
        &self,
        workflow_id: &str,
        priority: i32,
        scope: &Scope,
    ) -> Result<Changed<i32>> {
        let sql = &self.sql().manage.set_priority;
        self.change_one(
            "setting a workflow priority",
            (workflow_id, scope),
            sql,
            &[&priority],
        )
        .await
    }

    /// Replaces or merges a workflow's attributes; returns the stored attributes as JSON text.
    pub async fn update_attributes(
        &self,
        workflow_id: &str,
        change: &AttributesChange,
        scope: &Scope,
    ) -> Result<Changed<String>> {
        let manage = &self.sql().manage;
        let (sql, json) = match change {
            AttributesChange::Replace(json) => (&manage.replace_attributes, json.as_deref()),
            AttributesChange::Merge(json) => (&manage.merge_attributes, Some(json.as_str())),
        };
        let sql = sql.as_deref().ok_or_else(|| {
            Error::FailedPrecondition(
                "this DBOS schema predates attributes (workflow_status.attributes)".into(),
            )
        })?;
        self.change_one(
            "updating workflow attributes",
            (workflow_id, scope),
            sql,
            &[&json],
        )
        .await
    }

    /// Locks workflow `workflow_id` if it is inside `scope` (else NOT_FOUND, as for a missing one),
    /// then in the same transaction runs `sql` (`$1` is the id, then `params`), and reports UPDATED
    /// with the returned value when it returned a row, WRONG_STATUS otherwise.
    async fn change_one<T>(
        &self,
        ctx: &str,
        (workflow_id, scope): (&str, &Scope),
        sql: &str,
        params: &[&dyn Param],
    ) -> Result<Changed<T>>
    where
        T: for<'a> FromSql<'a>,
    {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(|e| classify(ctx, e))?;
        let bound = Bound::of(scope);
        let locked = tx
            .query_opt_unnamed(
                self.sql().manage.lock_one.as_str(),
                &[&workflow_id, &bound.apps, &bound.queues],
            )
            .await
            .map_err(|e| classify(ctx, e))?
            .ok_or_else(|| Error::NotFound(format!("workflow {workflow_id} does not exist")))?;
        let target = Target {
            id: workflow_id.to_owned(),
            status: locked.col(0)?,
            parent: None,
        };
        let mut all: Vec<&dyn Param> = vec![&workflow_id];
        all.extend_from_slice(params);
        let row = tx
            .query_opt_unnamed(sql, &all)
            .await
            .map_err(|e| classify(ctx, e))?;
        tx.commit().await.map_err(|e| classify(ctx, e))?;
        let unchanged = target.status.as_deref().and_then(WorkflowStatus::parse);
        Ok(match row {
            Some(row) => Changed {
                result: target.result(ActionOutcome::Updated, unchanged),
                value: row
                    .try_get::<_, Option<T>>(0)
                    .map_err(|e| Error::internal(ctx.to_owned(), e))?,
            },
            None => Changed {
                result: target.result(ActionOutcome::WrongStatus, unchanged),
                value: None,
            },
        })
    }
}
