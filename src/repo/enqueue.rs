//! Enqueue: the `workflow_status` row and its `workflow_input` row written by ONE statement (a
//! data-modifying CTE, atomic without BEGIN/COMMIT) in one round trip, as the DBOS clients'
//! two-insert transaction writes them.

use tokio_postgres::types::{ToSql, Type};

use super::{classify, classify::is_unique_violation, schema::SchemaInfo, Repo};
use crate::{
    error::{Error, Result},
    model::{EnqueueOutcome, Enqueued, NewWorkflow, WorkflowStatus, PORTABLE_JSON},
};

/// How many times an enqueue under RETURN_EXISTING retries when the deduplication holder vanishes
/// between the failed insert and the lookup.
const DEDUP_RETRIES: usize = 5;

/// `workflow_status` columns an enqueue writes, with their parameter types, in parameter order.
const STATUS_COLUMNS: &[(&str, Type)] = &[
    ("workflow_uuid", Type::TEXT),
    ("status", Type::TEXT),
    ("name", Type::TEXT),
    ("class_name", Type::TEXT),
    ("config_name", Type::TEXT),
    ("queue_name", Type::TEXT),
    ("application_version", Type::TEXT),
    ("authenticated_user", Type::TEXT),
    ("authenticated_roles", Type::TEXT),
    ("assumed_role", Type::TEXT),
    ("recovery_attempts", Type::INT8),
    ("workflow_timeout_ms", Type::INT8),
    ("workflow_deadline_epoch_ms", Type::INT8),
    ("deduplication_id", Type::TEXT),
    ("priority", Type::INT4),
    ("serialization", Type::TEXT),
    ("queue_partition_key", Type::TEXT),
    ("creator_xid", Type::TEXT),
    ("delay_until_epoch_ms", Type::INT8),
    ("attributes", Type::TEXT),
    ("application_name", Type::TEXT),
    ("inputs", Type::TEXT),
];

/// The enqueue statement for one schema and the parameters it takes, in order.
#[derive(Debug, Clone)]
pub(crate) struct EnqueueSql {
    text: String,
    /// Parameter names: status columns, then `input` when inputs go to `workflow_input`.
    params: Vec<&'static str>,
    types: Vec<Type>,
}

impl EnqueueSql {
    pub fn build(s: &SchemaInfo) -> Self {
        let has_input = s.has_table("workflow_input");
        let columns: Vec<&(&str, Type)> = STATUS_COLUMNS
            .iter()
            .filter(|(c, _)| s.has_column("workflow_status", c))
            // Inputs go inline only where there is no workflow_input table.
            .filter(|(c, _)| *c != "inputs" || !has_input)
            .collect();
        let mut params: Vec<&'static str> = columns.iter().map(|(c, _)| *c).collect();
        let mut types: Vec<Type> = columns.iter().map(|(_, t)| t.clone()).collect();
        let values: Vec<String> = params
            .iter()
            .enumerate()
            .map(|(i, c)| match *c {
                "attributes" => format!("${}::jsonb", i + 1),
                // The DB clock, like created_at, so every replica agrees on when a delay ends.
                "delay_until_epoch_ms" => {
                    format!("(EXTRACT(epoch FROM now()) * 1000)::bigint + ${}", i + 1)
                }
                _ => format!("${}", i + 1),
            })
            .collect();
        // Whether this statement inserted the row (rather than finding it): by the creator token
        // where the schema has one, else by the fresh row version's empty xmax.
        let created = match params.iter().position(|c| *c == "creator_xid") {
            Some(i) => format!("cur.creator_xid IS NOT DISTINCT FROM ${}", i + 1),
            None => "(cur.xmax = 0)".to_owned(),
        };
        let insert = format!(
            "INSERT INTO {ws} AS cur ({cols}) VALUES ({vals}) \
             ON CONFLICT (workflow_uuid) DO UPDATE SET name = cur.name \
             RETURNING cur.status, cur.name, cur.class_name, cur.config_name, {created} AS created",
            ws = s.table("workflow_status"),
            cols = params.join(", "),
            vals = values.join(", "),
        );
        let text = if has_input {
            params.push("input");
            types.push(Type::TEXT);
            format!(
                "WITH ins AS ({insert}), \
                 inp AS (INSERT INTO {wi} (workflow_uuid, inputs) SELECT $1, ${n} FROM ins WHERE ins.created \
                         ON CONFLICT (workflow_uuid) DO NOTHING) \
                 SELECT status, name, class_name, config_name, created FROM ins",
                wi = s.table("workflow_input"),
                n = params.len(),
            )
        } else {
            insert
        };
        EnqueueSql {
            text,
            params,
            types,
        }
    }
}

/// The deduplication id is held by another active workflow of the queue.
struct DedupConflict;

impl Repo {
    /// Enqueues `wf` atomically (status row and input row), as the DBOS clients do.
    pub async fn enqueue(&self, wf: &NewWorkflow) -> Result<Enqueued> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            if let Ok(done) = self.try_enqueue(wf).await? {
                return Ok(done);
            }
            let queue = wf.queue_name.as_str();
            let dedup = wf.deduplication_id.as_deref().unwrap_or_default();
            if !wf.return_existing_on_dedup {
                return Err(Error::AlreadyExists(format!(
                    "workflow {} was deduplicated: an active workflow in queue {queue} already has deduplication id {dedup}",
                    wf.workflow_id
                )));
            }
            let conn = self.conn().await?;
            let holder = conn
                .query_typed_opt(
                    self.sql().dedup_holder.as_str(),
                    &[(&queue, Type::TEXT), (&dedup, Type::TEXT)],
                )
                .await
                .map_err(|e| classify("looking up the deduplication holder", e))?;
            if let Some(row) = holder {
                return Ok(Enqueued {
                    workflow_id: row.get(0),
                    outcome: EnqueueOutcome::Deduplicated,
                    status: row
                        .get::<_, Option<String>>(1)
                        .as_deref()
                        .and_then(WorkflowStatus::parse),
                });
            }
            if attempt >= DEDUP_RETRIES {
                return Err(Error::Aborted(format!(
                    "deduplication id {dedup} of queue {queue} kept changing hands; retry"
                )));
            }
        }
    }

    async fn try_enqueue(&self, wf: &NewWorkflow) -> Result<Result<Enqueued, DedupConflict>> {
        let stmt = &self.sql().enqueue;
        let creator_xid = uuid::Uuid::new_v4().to_string();
        let status = if wf.delay_ms.is_some() {
            WorkflowStatus::Delayed
        } else {
            WorkflowStatus::Enqueued
        };
        let status_text = status.as_str();
        let zero: i64 = 0;
        let serialization = PORTABLE_JSON;
        let value = |name: &str| -> &(dyn ToSql + Sync) {
            match name {
                "workflow_uuid" => &wf.workflow_id,
                "status" => &status_text,
                "name" => &wf.name,
                "class_name" => &wf.class_name,
                "config_name" => &wf.config_name,
                "queue_name" => &wf.queue_name,
                "application_version" => &wf.app_version,
                "authenticated_user" => &wf.authenticated_user,
                "authenticated_roles" => &wf.authenticated_roles,
                "assumed_role" => &wf.assumed_role,
                "recovery_attempts" => &zero,
                "workflow_timeout_ms" => &wf.timeout_ms,
                "workflow_deadline_epoch_ms" => &wf.deadline_epoch_ms,
                "deduplication_id" => &wf.deduplication_id,
                "priority" => &wf.priority,
                "serialization" => &serialization,
                "queue_partition_key" => &wf.queue_partition_key,
                "creator_xid" => &creator_xid,
                "delay_until_epoch_ms" => &wf.delay_ms,
                "attributes" => &wf.attributes,
                "application_name" => &wf.application_name,
                // "inputs" (inline, older schemas) and "input" (workflow_input) carry the same text.
                _ => &wf.inputs,
            }
        };
        let params: Vec<(&(dyn ToSql + Sync), Type)> = stmt
            .params
            .iter()
            .zip(&stmt.types)
            .map(|(name, ty)| (value(name), ty.clone()))
            .collect();
        let conn = self.conn().await?;
        let row = match conn.query_typed_one(&stmt.text, &params).await {
            Ok(row) => row,
            Err(e) if is_unique_violation(&e, "dedup") => return Ok(Err(DedupConflict)),
            Err(e) => return Err(classify("enqueueing a workflow", e)),
        };
        if row.get::<_, bool>("created") {
            return Ok(Ok(Enqueued {
                workflow_id: wf.workflow_id.clone(),
                outcome: EnqueueOutcome::Created,
                status: Some(status),
            }));
        }
        check_same_workflow(wf, &row)?;
        Ok(Ok(Enqueued {
            workflow_id: wf.workflow_id.clone(),
            outcome: EnqueueOutcome::Existing,
            status: row
                .get::<_, Option<String>>("status")
                .as_deref()
                .and_then(WorkflowStatus::parse),
        }))
    }
}

/// An existing id must hold the same workflow (name, class, config), as DBOS checks.
fn check_same_workflow(wf: &NewWorkflow, row: &tokio_postgres::Row) -> Result<()> {
    let found = |col: &str| row.get::<_, Option<String>>(col);
    for (what, existing, requested) in [
        ("workflow name", found("name"), Some(wf.name.as_str())),
        ("class name", found("class_name"), wf.class_name.as_deref()),
        (
            "config name",
            found("config_name"),
            wf.config_name.as_deref(),
        ),
    ] {
        if existing.as_deref() != requested {
            return Err(Error::AlreadyExists(format!(
                "workflow {} already exists with a different {what} ({} instead of {})",
                wf.workflow_id,
                existing.as_deref().unwrap_or("none"),
                requested.unwrap_or("none"),
            )));
        }
    }
    Ok(())
}
