//! RenameApplication: gives an application's rows (and optionally the unclaimed ones) to a new name,
//! as DBOS's `rename_application` does: the registries and the active workflows in one transaction
//! (a half-renamed application would dequeue work whose version row it no longer sees), then terminal
//! workflows and steps in key-range batches, each its own transaction, so a re-run resumes.

use crate::repo::db::row::Columns;
use crate::repo::Unnamed;
use crate::repo::{db::classify::classify, db::schema::SchemaInfo, Repo};
use crate::{
    error::{Error, Result},
    model::{Rename, RenameCounts},
};

/// `$1` old name (NULL: none), `$2` adopt unclaimed rows.
const SOURCE: &str = "(application_name = $1 OR ($2 AND application_name IS NULL))";

/// The rename statements; a table without `application_name` has none.
#[derive(Debug, Clone)]
pub(crate) struct RenameSql {
    /// UPDATEs of queues, schedules and versions (`$3` new name), in that order; None where absent.
    registries: [Option<String>; 3],
    in_flight: String,
    /// Batched tables: workflow_status, then operation_outputs if it has owners.
    batched: Vec<BatchSql>,
}

#[derive(Debug, Clone)]
struct BatchSql {
    /// The `$4`-th matching key above the watermark `$3` (NULL: from the start).
    upper: String,
    /// Moves the rows in (`$3`, `$4`]; `$5` new name.
    update_range: String,
    /// Moves every remaining row; `$3` new name.
    update_rest: String,
}

impl RenameSql {
    /// None when workflows have no owners (DBOS migration 100).
    pub fn build(s: &SchemaInfo) -> Option<Self> {
        if !s.has_column("workflow_status", "application_name") {
            return None;
        }
        let update = |table: &str| {
            s.has_column(table, "application_name").then(|| {
                format!(
                    "UPDATE {} SET application_name = $3 WHERE {SOURCE}",
                    s.table(table)
                )
            })
        };
        let batch = |table: &str| {
            BatchSql {
            upper: format!(
                "SELECT workflow_uuid FROM {t} WHERE {SOURCE} AND ($3::text IS NULL OR workflow_uuid > $3) \
                 GROUP BY workflow_uuid ORDER BY workflow_uuid LIMIT 1 OFFSET $4",
                t = s.table(table)
            ),
            update_range: format!(
                "UPDATE {t} SET application_name = $5 WHERE {SOURCE} \
                 AND ($3::text IS NULL OR workflow_uuid > $3) AND workflow_uuid <= $4",
                t = s.table(table)
            ),
            update_rest: format!(
                "UPDATE {} SET application_name = $3 WHERE {SOURCE}",
                s.table(table)
            ),
        }
        };
        let mut batched = vec![batch("workflow_status")];
        if s.has_column("operation_outputs", "application_name") {
            batched.push(batch("operation_outputs"));
        }
        Some(RenameSql {
            registries: [
                update("queues"),
                update("workflow_schedules"),
                update("application_versions"),
            ],
            in_flight: format!(
                "UPDATE {} SET application_name = $3 WHERE {SOURCE} \
                 AND status IN ('PENDING', 'ENQUEUED', 'DELAYED')",
                s.table("workflow_status")
            ),
            batched,
        })
    }
}

impl Repo {
    /// Moves the rows `r` names to `r.new_name`; the counts by table.
    pub async fn rename_application(&self, r: &Rename) -> Result<RenameCounts> {
        let ctx = "renaming an application";
        let sql = self.sql().rename.as_ref().ok_or_else(|| {
            Error::FailedPrecondition(
                "this DBOS schema has no application owners (DBOS migration 100)".to_owned(),
            )
        })?;
        let mut conn = self.conn().await?;
        let (old, adopt, new) = (&r.old_name, &r.adopt_unclaimed, &r.new_name);
        let mut counts = RenameCounts::default();
        let tx = conn.transaction().await.map_err(|e| classify(ctx, e))?;
        let mut moved = [0u64; 3];
        for (stmt, n) in sql.registries.iter().zip(moved.iter_mut()) {
            if let Some(stmt) = stmt {
                *n = tx
                    .execute_unnamed(stmt.as_str(), &[old, adopt, new])
                    .await
                    .map_err(|e| classify(ctx, e))?;
            }
        }
        [counts.queues, counts.schedules, counts.versions] = moved;
        counts.workflows = tx
            .execute_unnamed(sql.in_flight.as_str(), &[old, adopt, new])
            .await
            .map_err(|e| classify(ctx, e))?;
        tx.commit().await.map_err(|e| classify(ctx, e))?;

        for (i, b) in sql.batched.iter().enumerate() {
            let mut total = 0;
            let mut watermark: Option<String> = None;
            loop {
                let tx = conn.transaction().await.map_err(|e| classify(ctx, e))?;
                let upper: Option<String> = match r.batch_size {
                    None => None,
                    Some(size) => tx
                        .query_opt_unnamed(b.upper.as_str(), &[old, adopt, &watermark, &(size - 1)])
                        .await
                        .map_err(|e| classify(ctx, e))?
                        .map(|row| row.col(0))
                        .transpose()?,
                };
                // The last batch takes every remaining row, including rows below the watermark
                // that appeared meanwhile.
                total += match &upper {
                    Some(upper) => tx
                        .execute_unnamed(
                            b.update_range.as_str(),
                            &[old, adopt, &watermark, upper, new],
                        )
                        .await
                        .map_err(|e| classify(ctx, e))?,
                    None => tx
                        .execute_unnamed(b.update_rest.as_str(), &[old, adopt, new])
                        .await
                        .map_err(|e| classify(ctx, e))?,
                };
                tx.commit().await.map_err(|e| classify(ctx, e))?;
                match upper {
                    Some(upper) => watermark = Some(upper),
                    None => break,
                }
            }
            if i == 0 {
                counts.workflows += total;
            } else {
                counts.steps = total;
            }
        }
        Ok(counts)
    }
}
