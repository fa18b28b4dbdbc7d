//! DebounceWorkflow: the DBOS debouncer's coalescing, as the clients' DebouncerClient does it. A
//! debounced workflow is DELAYED with `is_debounced` and the debounce key as its deduplication id;
//! each debounce pushes its delay out (never past its deadline) and replaces its inputs, and the
//! worker's DELAYED → ENQUEUED transition releases the key when the delay ends.

use crate::repo::db::row::Columns;
use crate::repo::{db::classify::classify, db::schema::SchemaInfo, Repo, Unnamed};
use crate::{
    error::{Error, Result},
    model::NewWorkflow,
};

/// Bounds the bounce / enqueue race (a concurrent debounce takes the key in between).
const ATTEMPTS: usize = 10;

/// The statements, where the schema has debouncing (DBOS migration 42).
#[derive(Debug, Clone)]
pub(crate) struct DebounceSql {
    extend: String,
    set_input: Option<String>,
    holder: String,
}

impl DebounceSql {
    pub fn build(s: &SchemaInfo) -> Option<Self> {
        let has = |c: &str| s.has_column("workflow_status", c);
        if !has("is_debounced") || !has("debounce_deadline_epoch_ms") || !has("application_name") {
            return None;
        }
        let ws = s.table("workflow_status");
        Some(DebounceSql {
            extend: format!(
                "UPDATE {ws} SET delay_until_epoch_ms = LEAST(\
                   (EXTRACT(epoch FROM now()) * 1000)::bigint + $1, \
                   COALESCE(debounce_deadline_epoch_ms, (EXTRACT(epoch FROM now()) * 1000)::bigint + $1)), \
                 serialization = $2, updated_at = (EXTRACT(epoch FROM now()) * 1000)::bigint, \
                 application_name = COALESCE(application_name, $7) \
                 WHERE name = $3 AND class_name IS NOT DISTINCT FROM $4 AND queue_name = $5 \
                   AND deduplication_id = $6 AND status = 'DELAYED' AND is_debounced \
                   AND ($7::text IS NULL OR application_name IS NULL OR application_name = $7) \
                 RETURNING workflow_uuid"
            ),
            set_input: s.has_table("workflow_input").then(|| {
                format!(
                    "INSERT INTO {} (workflow_uuid, inputs) VALUES ($1, $2) \
                     ON CONFLICT (workflow_uuid) DO UPDATE SET inputs = EXCLUDED.inputs",
                    s.table("workflow_input")
                )
            }),
            holder: format!(
                "SELECT workflow_uuid, is_debounced, name, class_name, application_name FROM {ws} \
                 WHERE queue_name = $1 AND deduplication_id = $2"
            ),
        })
    }
}

impl Repo {
    /// Debounces `wf` (whose deduplication id is the debounce key, `delay_ms` the debounce period
    /// and `debounce_deadline_epoch_ms` the cap): extends the pending debounced workflow of the key,
    /// or enqueues a new one. Returns the workflow id and whether it was created.
    pub async fn debounce(&self, wf: &NewWorkflow) -> Result<(String, bool)> {
        let ctx = "debouncing a workflow";
        let sql = self.sql().debounce.as_ref().ok_or_else(|| {
            Error::FailedPrecondition(
                "this DBOS schema predates debouncing (DBOS migration 42)".into(),
            )
        })?;
        let dedup = wf.deduplication_id.clone().unwrap_or_default();
        let period = wf.delay_ms.unwrap_or_default();
        for _ in 0..ATTEMPTS {
            let mut conn = self.conn().await?;
            let tx = conn.transaction().await.map_err(|e| classify(ctx, e))?;
            let extended = tx
                .query_opt_unnamed(
                    sql.extend.as_str(),
                    &[
                        &period,
                        &wf.serialization,
                        &wf.name,
                        &wf.class_name,
                        &wf.queue_name,
                        &dedup,
                        &wf.application_name,
                    ],
                )
                .await
                .map_err(|e| classify(ctx, e))?;
            if let Some(row) = extended {
                let id: String = row.col(0)?;
                if let Some(set_input) = &sql.set_input {
                    tx.execute_unnamed(set_input.as_str(), &[&id, &wf.inputs])
                        .await
                        .map_err(|e| classify(ctx, e))?;
                }
                tx.commit().await.map_err(|e| classify(ctx, e))?;
                return Ok((id, false));
            }
            let holder = tx
                .query_opt_unnamed(sql.holder.as_str(), &[&wf.queue_name, &dedup])
                .await
                .map_err(|e| classify(ctx, e))?;
            drop(tx);
            if let Some(h) = holder {
                let (id, debounced): (String, bool) =
                    (h.col(0)?, h.col::<_, Option<bool>>(1)?.unwrap_or(false));
                let same_workflow = h.col::<_, Option<String>>(2)?.as_deref()
                    == Some(wf.name.as_str())
                    && h.col::<_, Option<String>>(3)? == wf.class_name;
                let owner: Option<String> = h.col(4)?;
                let foreign =
                    matches!((&wf.application_name, &owner), (Some(a), Some(b)) if a != b);
                if !debounced || !same_workflow || foreign {
                    return Err(Error::AlreadyExists(format!(
                        "debounce key {dedup} of queue {} is held by workflow {id}, which this debounce cannot extend",
                        wf.queue_name
                    )));
                }
                // A debounced holder that is no longer DELAYED is on its way out: try again.
                continue;
            }
            match self.enqueue(wf).await {
                Ok(done) => return Ok((done.workflow_id, true)),
                // A concurrent debounce took the key in between: extend that one instead.
                Err(Error::AlreadyExists(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::Aborted(format!(
            "debounce key {dedup} kept changing hands; retry"
        )))
    }
}
