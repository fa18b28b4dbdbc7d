//! The SQL of export and import: a workflow's rows (and its children's) read as stored, and written
//! back into another database, in one transaction each.
//!
//! Rows travel as `to_jsonb(row)`, one JSON object per row with every column the source has, and
//! come back through `jsonb_populate_recordset` into the columns the target has: text stays the
//! exact text stored, numbers stay exact, and a column one side lacks is left to the other's
//! default. Export reads inside the caller's scope (a workflow outside it, or a child outside it,
//! is not there); import checks the scope above (`api::export`) and here refuses a workflow whose
//! id (or deduplication id) is taken.

use std::collections::{BTreeMap, HashSet};

use tokio_postgres::{IsolationLevel, Transaction};

use crate::error::{Error, Result};
use crate::model::{
    export::{Row, WorkflowRows, TABLES},
    Scope,
};
use crate::repo::{
    db::{classify::classify, row::Columns, schema::quote_ident, scope, scope::Bound},
    Repo, SchemaInfo, Unnamed,
};

/// The order rows of each table are exported in (so two exports of one workflow are equal).
fn order_of(table: &str) -> &'static str {
    match table {
        "operation_outputs" => "function_id",
        "workflow_events" => "key",
        "workflow_events_history" => "function_id, key",
        "streams" => "key, \"offset\"",
        "notifications" => "created_at_epoch_ms, message_uuid",
        _ => "1",
    }
}

impl Repo {
    /// The rows of `root` (and, with `children`, of its descendants inside the scope), read in one
    /// snapshot; `None` when `root` is not there (or outside the scope). More than
    /// `max_workflows` workflows is FAILED_PRECONDITION.
    pub async fn export_workflows(
        &self,
        root: &str,
        children: bool,
        scope: &Scope,
        max_workflows: usize,
    ) -> Result<Option<Vec<WorkflowRows>>> {
        let ctx = "exporting a workflow";
        let s = self.schema();
        let mut conn = self.conn().await?;
        let tx = conn
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(|e| classify(ctx, e))?;
        let bound = Bound::of(scope);
        let ws = s.table("workflow_status");
        let in_scope = scope::predicate(s, "ws", 2, 3);
        let found = tx
            .query_opt_unnamed(
                format!("SELECT ws.workflow_uuid FROM {ws} ws WHERE ws.workflow_uuid = $1 AND {in_scope}").as_str(),
                &[&root, &bound.apps, &bound.queues],
            )
            .await
            .map_err(|e| classify(ctx, e))?;
        if found.is_none() {
            return Ok(None);
        }
        let mut ids = vec![root.to_owned()];
        if children {
            let sql = format!(
                "SELECT ws.workflow_uuid FROM {ws} ws WHERE ws.parent_workflow_id = ANY($1) \
                 AND {in_scope} ORDER BY ws.workflow_uuid"
            );
            let mut seen: HashSet<String> = ids.iter().cloned().collect();
            let mut frontier = ids.clone();
            while !frontier.is_empty() {
                let rows = tx
                    .query_unnamed(sql.as_str(), &[&frontier, &bound.apps, &bound.queues])
                    .await
                    .map_err(|e| classify(ctx, e))?;
                frontier.clear();
                for row in rows {
                    let id: String = row.col(0)?;
                    if seen.insert(id.clone()) {
                        frontier.push(id.clone());
                        ids.push(id);
                    }
                }
                if ids.len() > max_workflows {
                    return Err(Error::FailedPrecondition(format!(
                        "workflow {root} has more than {} descendants; export it without its children",
                        max_workflows - 1
                    )));
                }
            }
        }
        let mut tables: Vec<BTreeMap<String, Vec<Row>>> = vec![BTreeMap::new(); ids.len()];
        for (table, owner) in TABLES.iter().filter(|(t, _)| s.has_table(t)) {
            let sql = format!(
                "SELECT t.{owner}, to_jsonb(t)::text FROM {} t WHERE t.{owner} = ANY($1) \
                 ORDER BY t.{owner}, {}",
                s.table(table),
                order_of(table)
            );
            for row in tx
                .query_unnamed(sql.as_str(), &[&ids])
                .await
                .map_err(|e| classify(ctx, e))?
            {
                let owner_id: String = row.col(0)?;
                let text: String = row.col(1)?;
                let value: Row = serde_json::from_str(&text)
                    .map_err(|e| Error::internal(format!("reading a {table} row"), e))?;
                if let Some(at) = ids.iter().position(|id| *id == owner_id) {
                    tables[at]
                        .entry((*table).to_owned())
                        .or_default()
                        .push(value);
                }
            }
        }
        tx.commit().await.map_err(|e| classify(ctx, e))?;
        Ok(Some(
            ids.into_iter()
                .zip(tables)
                .map(|(workflow_id, tables)| WorkflowRows {
                    workflow_id,
                    tables,
                })
                .collect(),
        ))
    }

    /// Writes `workflows` (decoded and checked by `model::export`) in one transaction: ALREADY_EXISTS
    /// when one of their ids, or a deduplication id of theirs, is taken here.
    pub async fn import_workflows(&self, workflows: &[WorkflowRows]) -> Result<()> {
        let ctx = "importing workflows";
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(|e| classify(ctx, e))?;
        let s = self.schema();
        let ids: Vec<&str> = workflows.iter().map(|w| w.workflow_id.as_str()).collect();
        for wf in workflows {
            let rows = wf
                .tables
                .get("workflow_status")
                .map(Vec::as_slice)
                .unwrap_or_default();
            let written = insert(
                &tx,
                s,
                "workflow_status",
                rows,
                " ON CONFLICT DO NOTHING",
                ctx,
            )
            .await?;
            if written == 0 {
                return Err(Error::AlreadyExists(format!(
                    "workflow {} (or its deduplication id) already exists in this database; import it under another id (as_workflow_id)",
                    wf.workflow_id
                )));
            }
        }
        // Payload rows have no foreign key: rows left here by a workflow of the same id deleted
        // without them would clash with the imported ones.
        for table in ["workflow_input", "workflow_output", "operation_outputs"] {
            if s.has_table(table) {
                let sql = format!(
                    "DELETE FROM {} WHERE workflow_uuid = ANY($1)",
                    s.table(table)
                );
                tx.execute_unnamed(sql.as_str(), &[&ids])
                    .await
                    .map_err(|e| classify(ctx, e))?;
            }
        }
        for (table, _) in TABLES.iter().skip(1).filter(|(t, _)| s.has_table(t)) {
            let rows: Vec<Row> = workflows
                .iter()
                .filter_map(|w| w.tables.get(*table))
                .flatten()
                .cloned()
                .collect();
            insert(&tx, s, table, &rows, "", ctx).await?;
        }
        tx.commit().await.map_err(|e| classify(ctx, e))?;
        Ok(())
    }
}

/// Inserts `rows` into `table`, into the columns both the rows and this schema have; returns how
/// many were written.
async fn insert(
    tx: &Transaction<'_>,
    s: &SchemaInfo,
    table: &str,
    rows: &[Row],
    conflict: &str,
    ctx: &str,
) -> Result<u64> {
    if rows.is_empty() {
        return Ok(0);
    }
    let mut columns: Vec<&str> = Vec::new();
    for row in rows {
        for column in row.keys() {
            // Only names the schema has reach the SQL, quoted.
            if s.has_column(table, column) && !columns.contains(&column.as_str()) {
                columns.push(column);
            }
        }
    }
    let list = columns
        .iter()
        .map(|c| quote_ident(c))
        .collect::<Vec<_>>()
        .join(", ");
    let target = s.table(table);
    let sql = format!(
        "INSERT INTO {target} ({list}) SELECT {list} \
         FROM jsonb_populate_recordset(NULL::{target}, $1::text::jsonb){conflict}"
    );
    let json = serde_json::Value::Array(
        rows.iter()
            .cloned()
            .map(serde_json::Value::Object)
            .collect(),
    )
    .to_string();
    tx.execute_unnamed(sql.as_str(), &[&json])
        .await
        .map_err(|e| classify(ctx, e))
}
