//! The SQL of retention: which finished workflows are old enough to go, and deleting them one bounded
//! batch per transaction with every row they own.
//!
//! What goes matches DBOS's own garbage collection: only finished workflows (SUCCESS, ERROR,
//! CANCELLED, MAX_RECOVERY_ATTEMPTS_EXCEEDED), oldest first; a row-count bound keeps the newest N
//! workflows of any status (so the cutoff is the `created_at` of the N-th newest, as DBOS computes
//! it). The rows a workflow owns are deleted with it in the same transaction: the payload tables
//! (`workflow_input`, `workflow_output`, `operation_outputs`), which have no foreign key, and the
//! cascading ones (`notifications`, `workflow_events`, `workflow_events_history`, `streams`),
//! deleted explicitly so each batch can say how many rows of each it removed.
//!
//! One runner at a time: every batch first takes a transaction-level advisory lock (which works
//! behind a transaction-pooling PgBouncer, where a session lock would be held by whichever server
//! session ran it) on the key every DBOS SDK derives for its own retention rounds, so a dbosd batch
//! never runs beside another dbosd's or an SDK's. A batch that finds the lock taken deletes nothing.

use tokio_postgres::Transaction;

use crate::error::Result;
use crate::repo::{db::classify::classify, db::row::Columns, Repo, SchemaInfo, Unnamed};

/// Statuses a workflow can no longer leave by itself: the only ones retention deletes.
pub const FINISHED: [&str; 4] = [
    "SUCCESS",
    "ERROR",
    "CANCELLED",
    "MAX_RECOVERY_ATTEMPTS_EXCEEDED",
];

/// The tables a workflow owns, with the column naming the owner, in delete order.
const OWNED: [(&str, &str); 7] = [
    ("workflow_input", "workflow_uuid"),
    ("workflow_output", "workflow_uuid"),
    ("operation_outputs", "workflow_uuid"),
    ("notifications", "destination_uuid"),
    ("workflow_events", "workflow_uuid"),
    ("workflow_events_history", "workflow_uuid"),
    ("streams", "workflow_uuid"),
];

/// How old or how many: the two bounds of a retention policy, as the database compares them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bounds {
    /// Finished workflows created longer ago than this many milliseconds go.
    pub max_age_ms: Option<i64>,
    /// Workflows beyond the newest this many (by `created_at`) go, if finished.
    pub max_rows: Option<i64>,
}

/// What one batch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Batch {
    /// Another runner (dbosd or a DBOS SDK) holds the retention lock; nothing was deleted.
    Busy,
    /// The workflows deleted, and the rows each owned table lost with them.
    Deleted {
        workflows: u64,
        rows: Vec<(&'static str, u64)>,
    },
}

/// What a dry run would delete: per status, the count and the `created_at` range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doomed {
    pub status: String,
    pub workflows: i64,
    pub oldest_created_at: i64,
    pub newest_created_at: i64,
}

/// The advisory lock key of retention rounds on `schema`: the first 8 bytes of
/// sha256("dbos.retention." + schema), big-endian, as a signed bigint (what every DBOS SDK takes).
pub fn lock_key(schema: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let sum = Sha256::digest(format!("dbos.retention.{schema}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&sum[..8]);
    i64::from_be_bytes(first)
}

/// The statements, for one schema.
struct Sql {
    cutoff: String,
    select: String,
    owned: Vec<(&'static str, String)>,
    status: String,
    preview: String,
}

impl Sql {
    fn build(s: &SchemaInfo) -> Sql {
        let ws = s.table("workflow_status");
        let finished = FINISHED
            .iter()
            .map(|f| format!("'{f}'"))
            .collect::<Vec<_>>()
            .join(", ");
        Sql {
            // GREATEST ignores NULL: the stricter of the bounds given (NULL when neither applies).
            cutoff: format!(
                "SELECT GREATEST( \
                   CASE WHEN $1::int8 IS NULL THEN NULL \
                        ELSE (EXTRACT(epoch FROM now()) * 1000)::bigint - $1::int8 END, \
                   CASE WHEN $2::int8 IS NULL THEN NULL \
                        ELSE (SELECT created_at FROM {ws} ORDER BY created_at DESC \
                              OFFSET $2::int8 - 1 LIMIT 1) END)::int8"
            ),
            // Rows a concurrent call has locked (a resume, a delete) are left for a later batch.
            select: format!(
                "SELECT workflow_uuid FROM {ws} WHERE status IN ({finished}) AND created_at < $1 \
                 ORDER BY created_at, workflow_uuid LIMIT $2 FOR UPDATE SKIP LOCKED"
            ),
            owned: OWNED
                .iter()
                .filter(|(t, _)| s.has_table(t))
                .map(|(t, owner)| {
                    let sql = format!("DELETE FROM {} WHERE {owner} = ANY($1)", s.table(t));
                    (*t, sql)
                })
                .collect(),
            // The status is checked again under the row lock: a finished row is all this deletes.
            status: format!(
                "DELETE FROM {ws} WHERE workflow_uuid = ANY($1) AND status IN ({finished})"
            ),
            preview: format!(
                "SELECT status, count(*), min(created_at), max(created_at) FROM {ws} \
                 WHERE status IN ({finished}) AND created_at < $1 GROUP BY status ORDER BY status"
            ),
        }
    }
}

impl Repo {
    /// The `created_at` below which finished workflows go under `bounds` (by the database's clock),
    /// or `None` when no bound applies (no bound given, or fewer workflows than `max_rows`).
    pub async fn retention_cutoff(&self, bounds: &Bounds) -> Result<Option<i64>> {
        let ctx = "computing the retention cutoff";
        let sql = Sql::build(self.schema());
        let conn = self.conn().await?;
        let row = conn
            .query_one_unnamed(sql.cutoff.as_str(), &[&bounds.max_age_ms, &bounds.max_rows])
            .await
            .map_err(|e| classify(ctx, e))?;
        row.col(0)
    }

    /// Deletes up to `limit` finished workflows created before `cutoff` (oldest first) with every
    /// row they own, in one transaction under the retention lock.
    pub async fn retention_batch(&self, cutoff: i64, limit: i64) -> Result<Batch> {
        let ctx = "deleting expired workflows";
        let sql = Sql::build(self.schema());
        let key = lock_key(&self.schema().name);
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(|e| classify(ctx, e))?;
        let locked: bool = tx
            .query_one_unnamed("SELECT pg_try_advisory_xact_lock($1)", &[&key])
            .await
            .map_err(|e| classify(ctx, e))?
            .col(0)?;
        if !locked {
            tx.rollback().await.map_err(|e| classify(ctx, e))?;
            return Ok(Batch::Busy);
        }
        let batch = delete_batch(&tx, &sql, cutoff, limit, ctx).await?;
        tx.commit().await.map_err(|e| classify(ctx, e))?;
        Ok(batch)
    }

    /// What [`Repo::retention_batch`] calls would delete below `cutoff`, by status; deletes nothing.
    pub async fn retention_preview(&self, cutoff: i64) -> Result<Vec<Doomed>> {
        let ctx = "previewing retention";
        let sql = Sql::build(self.schema());
        let conn = self.conn().await?;
        let rows = conn
            .query_unnamed(sql.preview.as_str(), &[&cutoff])
            .await
            .map_err(|e| classify(ctx, e))?;
        rows.iter()
            .map(|r| {
                Ok(Doomed {
                    status: r.col(0)?,
                    workflows: r.col(1)?,
                    oldest_created_at: r.col(2)?,
                    newest_created_at: r.col(3)?,
                })
            })
            .collect()
    }
}

async fn delete_batch(
    tx: &Transaction<'_>,
    sql: &Sql,
    cutoff: i64,
    limit: i64,
    ctx: &str,
) -> Result<Batch> {
    let ids: Vec<String> = tx
        .query_unnamed(sql.select.as_str(), &[&cutoff, &limit])
        .await
        .map_err(|e| classify(ctx, e))?
        .iter()
        .map(|r| r.col(0))
        .collect::<Result<_>>()?;
    let mut rows = Vec::with_capacity(sql.owned.len());
    if ids.is_empty() {
        return Ok(Batch::Deleted { workflows: 0, rows });
    }
    for (table, delete) in &sql.owned {
        let n = tx
            .execute_unnamed(delete.as_str(), &[&ids])
            .await
            .map_err(|e| classify(ctx, e))?;
        rows.push((*table, n));
    }
    let workflows = tx
        .execute_unnamed(sql.status.as_str(), &[&ids])
        .await
        .map_err(|e| classify(ctx, e))?;
    Ok(Batch::Deleted { workflows, rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_key_is_the_one_dbos_sdks_derive() {
        // sha256("dbos.retention.dbos") = 640afcf99fdb2a98..., its first 8 bytes read signed.
        assert_eq!(lock_key("dbos"), 0x640a_fcf9_9fdb_2a98);
        assert_eq!(lock_key("dbos"), 7_208_852_302_618_897_048);
        assert_ne!(lock_key("dbos"), lock_key("other"));
    }
}
