//! `workflow_status` with its payload tables `workflow_input` / `workflow_output`: enqueue and read.

use tokio_postgres::{types::ToSql, GenericClient, Row, Transaction};

use super::{classify, classify::is_unique_violation, sql::Statements, Repo};
use crate::{
    error::{Error, Result},
    model::{EnqueueOutcome, Enqueued, NewWorkflow, WorkflowRow, WorkflowStatus},
};

/// How many times an enqueue under RETURN_EXISTING retries when the deduplication holder vanishes
/// between the failed insert and the lookup.
const DEDUP_RETRIES: usize = 5;

impl Repo {
    /// Enqueues `wf` in one transaction (status row, then input row), as the DBOS clients do.
    pub async fn enqueue(&self, wf: &NewWorkflow) -> Result<Enqueued> {
        let ctx = "enqueueing a workflow";
        let sql = self.sql();
        for attempt in 1.. {
            let mut conn = self.conn().await?;
            let tx = conn.transaction().await.map_err(|e| classify(ctx, e))?;
            match insert_workflow(&tx, sql, wf).await? {
                Ok(done) => {
                    // An existing workflow is left as it was: dropping the transaction rolls back
                    // the no-op update.
                    if done.outcome == EnqueueOutcome::Created {
                        tx.commit().await.map_err(|e| classify(ctx, e))?;
                    }
                    return Ok(done);
                }
                Err(DedupConflict) => {
                    drop(tx);
                    if let Some(done) = dedup_holder(&*conn, sql, wf, attempt).await? {
                        return Ok(done);
                    }
                }
            }
        }
        unreachable!("the attempts are unbounded; dedup_holder ends the loop")
    }

    /// One workflow without its input, with output and error (what waits re-read on each wake).
    pub async fn get_workflow_outcome(&self, workflow_id: &str) -> Result<Option<WorkflowRow>> {
        let conn = self.conn().await?;
        get_workflow(&*conn, &self.sql().get_outcome, workflow_id).await
    }

    /// Several workflows without input, with output and error (one query for a multi-wait).
    pub async fn get_workflow_outcomes(&self, workflow_ids: &[String]) -> Result<Vec<WorkflowRow>> {
        let conn = self.conn().await?;
        let rows = conn
            .query(self.sql().get_outcomes.as_str(), &[&workflow_ids])
            .await
            .map_err(|e| classify("reading workflows", e))?;
        rows.iter().map(decode_row).collect()
    }

    /// One workflow with input, output and error; `None` when the id does not exist.
    pub async fn get_workflow(&self, workflow_id: &str) -> Result<Option<WorkflowRow>> {
        let conn = self.conn().await?;
        get_workflow(&*conn, &self.sql().get_workflow, workflow_id).await
    }
}

/// Reads one workflow row with `sql` (a `Statements::get_workflow`).
pub(crate) async fn get_workflow(
    client: &impl GenericClient,
    sql: &str,
    workflow_id: &str,
) -> Result<Option<WorkflowRow>> {
    let row = client
        .query_opt(sql, &[&workflow_id])
        .await
        .map_err(|e| classify("reading a workflow", e))?;
    row.as_ref().map(decode_row).transpose()
}

/// Enqueues `wf` inside the caller's transaction (Transact): like [`Repo::enqueue`], with a savepoint
/// around each insert so a deduplication conflict or an existing id leaves the transaction usable.
pub(crate) async fn enqueue_in(
    tx: &mut Transaction<'_>,
    sql: &Statements,
    wf: &NewWorkflow,
) -> Result<Enqueued> {
    let ctx = "enqueueing a workflow";
    for attempt in 1.. {
        let sp = tx
            .savepoint("dbosd_enqueue")
            .await
            .map_err(|e| classify(ctx, e))?;
        match insert_workflow(&sp, sql, wf).await? {
            Ok(done) => {
                if done.outcome == EnqueueOutcome::Created {
                    sp.commit().await.map_err(|e| classify(ctx, e))?;
                } else {
                    sp.rollback().await.map_err(|e| classify(ctx, e))?;
                }
                return Ok(done);
            }
            Err(DedupConflict) => {
                sp.rollback().await.map_err(|e| classify(ctx, e))?;
                if let Some(done) = dedup_holder(&*tx, sql, wf, attempt).await? {
                    return Ok(done);
                }
            }
        }
    }
    unreachable!("the attempts are unbounded; dedup_holder ends the loop")
}

/// After a deduplication conflict: ALREADY_EXISTS under REJECT, else the holder (DEDUPLICATED), or
/// None to retry the insert when the holder released the id meanwhile (ABORTED after a few tries).
async fn dedup_holder(
    client: &impl GenericClient,
    sql: &Statements,
    wf: &NewWorkflow,
    attempt: usize,
) -> Result<Option<Enqueued>> {
    let queue = wf.queue_name.as_str();
    let dedup = wf.deduplication_id.as_deref().unwrap_or_default();
    if !wf.return_existing_on_dedup {
        return Err(Error::AlreadyExists(format!(
            "workflow {} was deduplicated: an active workflow in queue {queue} already has deduplication id {dedup}",
            wf.workflow_id
        )));
    }
    let holder = client
        .query_opt(sql.dedup_holder.as_str(), &[&queue, &dedup])
        .await
        .map_err(|e| classify("looking up the deduplication holder", e))?;
    if let Some(row) = holder {
        return Ok(Some(Enqueued {
            workflow_id: row.get(0),
            outcome: EnqueueOutcome::Deduplicated,
            status: row
                .get::<_, Option<String>>(1)
                .as_deref()
                .and_then(WorkflowStatus::parse),
        }));
    }
    if attempt >= DEDUP_RETRIES {
        return Err(Error::Aborted(format!(
            "deduplication id {dedup} of queue {queue} kept changing hands; retry"
        )));
    }
    Ok(None)
}

/// One insert attempt of the status row (and, when created, the input row) on `client`, which the
/// caller commits or rolls back. `Ok(Err(DedupConflict))` leaves the transaction aborted.
async fn insert_workflow(
    client: &impl GenericClient,
    sql: &Statements,
    wf: &NewWorkflow,
) -> Result<Result<Enqueued, DedupConflict>> {
    let ctx = "enqueueing a workflow";
    let creator_xid = uuid::Uuid::new_v4().to_string();
    let status = if wf.delay_ms.is_some() {
        WorkflowStatus::Delayed
    } else {
        WorkflowStatus::Enqueued
    };
    let status_text = status.as_str();
    let zero: i64 = 0;
    let values: [(&str, &(dyn ToSql + Sync)); 23] = [
        ("workflow_uuid", &wf.workflow_id),
        ("status", &status_text),
        ("name", &wf.name),
        ("class_name", &wf.class_name),
        ("config_name", &wf.config_name),
        ("queue_name", &wf.queue_name),
        ("application_version", &wf.app_version),
        ("authenticated_user", &wf.authenticated_user),
        ("authenticated_roles", &wf.authenticated_roles),
        ("assumed_role", &wf.assumed_role),
        ("recovery_attempts", &zero),
        ("workflow_timeout_ms", &wf.timeout_ms),
        ("workflow_deadline_epoch_ms", &wf.deadline_epoch_ms),
        ("deduplication_id", &wf.deduplication_id),
        ("priority", &wf.priority),
        ("serialization", &wf.serialization),
        ("queue_partition_key", &wf.queue_partition_key),
        ("creator_xid", &creator_xid),
        ("delay_until_epoch_ms", &wf.delay_ms),
        ("attributes", &wf.attributes),
        ("application_name", &wf.application_name),
        ("inputs", &wf.inputs),
        ("schedule_name", &wf.schedule_name),
    ];
    // The statement lists only the columns this schema has, in ENQUEUE_COLUMNS order.
    let params: Vec<&(dyn ToSql + Sync)> = sql
        .enqueue_columns
        .iter()
        .filter_map(|col| values.iter().find(|(name, _)| name == col).map(|(_, v)| *v))
        .collect();

    let row = match client.query_one(sql.enqueue.as_str(), &params).await {
        Ok(row) => row,
        Err(e) if is_unique_violation(&e, "dedup") => return Ok(Err(DedupConflict)),
        Err(e) => return Err(classify(ctx, e)),
    };
    let returned_xid: Option<String> = row.get("creator_xid");
    let created = if sql.has_creator_xid {
        returned_xid.as_deref() == Some(creator_xid.as_str())
    } else {
        returned_xid.as_deref() == Some("true")
    };
    if !created {
        let existing_status: Option<String> = row.get("status");
        check_same_workflow(wf, &row)?;
        return Ok(Ok(Enqueued {
            workflow_id: wf.workflow_id.clone(),
            outcome: EnqueueOutcome::Existing,
            status: existing_status.as_deref().and_then(WorkflowStatus::parse),
        }));
    }
    if let Some(insert_input) = &sql.insert_input {
        client
            .execute(insert_input.as_str(), &[&wf.workflow_id, &wf.inputs])
            .await
            .map_err(|e| classify(ctx, e))?;
    }
    Ok(Ok(Enqueued {
        workflow_id: wf.workflow_id.clone(),
        outcome: EnqueueOutcome::Created,
        status: Some(status),
    }))
}

/// The deduplication id is held by another active workflow of the queue.
struct DedupConflict;

/// An existing id must hold the same workflow (name, class, config), as DBOS checks.
fn check_same_workflow(wf: &NewWorkflow, row: &Row) -> Result<()> {
    let name: Option<String> = row.get("name");
    let class_name: Option<String> = row.get("class_name");
    let config_name: Option<String> = row.get("config_name");
    let differs = |what: &str, existing: Option<String>, requested: Option<&str>| {
        Error::AlreadyExists(format!(
            "workflow {} already exists with a different {what} ({} instead of {})",
            wf.workflow_id,
            existing.as_deref().unwrap_or("none"),
            requested.unwrap_or("none"),
        ))
    };
    if name.as_deref() != Some(wf.name.as_str()) {
        return Err(differs("workflow name", name, Some(&wf.name)));
    }
    if class_name.as_deref() != wf.class_name.as_deref() {
        return Err(differs("class name", class_name, wf.class_name.as_deref()));
    }
    if config_name.as_deref() != wf.config_name.as_deref() {
        return Err(differs(
            "config name",
            config_name,
            wf.config_name.as_deref(),
        ));
    }
    Ok(())
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
