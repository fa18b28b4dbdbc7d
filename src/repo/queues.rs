//! `queues`: the DBOS queue registry (register, read, list, update, delete), with DBOS's ownership rule.

use tokio_postgres::{GenericClient, Row};

use crate::repo::db::row::Columns;
use crate::repo::{db::classify::classify, db::schema::SchemaInfo, Param, Repo, Unnamed};
use crate::{
    error::{Error, Result},
    model::{resolve_owner, OnConflict, QueueRow, QueueSpec, RateLimit},
};

/// The columns every statement reads back.
const COLUMNS: &str = "queue_id, name, concurrency, worker_concurrency, rate_limit_max, \
    rate_limit_period_sec, partition_concurrency, partition_worker_concurrency, \
    partition_rate_limit_max, partition_rate_limit_period_sec, polling_interval_sec, \
    application_name, created_at, updated_at";
/// The limit columns a register or update writes, `$2` to `$11` after the name.
const LIMITS: &str = "concurrency, worker_concurrency, rate_limit_max, rate_limit_period_sec, \
    partition_concurrency, partition_worker_concurrency, partition_rate_limit_max, \
    partition_rate_limit_period_sec, polling_interval_sec, partition_queue";
const NOW_MS: &str = "(EXTRACT(epoch FROM now()) * 1000)::bigint";

/// The queue statements, for a schema that has the full registry (DBOS migrations 21, 101, 108).
#[derive(Debug, Clone)]
pub(crate) struct QueueSql {
    get: String,
    lock_owner: String,
    list: String,
    upsert: String,
    insert_or_keep: String,
    update: String,
    delete: String,
}

impl QueueSql {
    /// None when the schema lacks the registry or one of its later columns.
    pub fn build(s: &SchemaInfo) -> Option<Self> {
        let needed = COLUMNS
            .split(", ")
            .chain(["partition_queue", "priority_enabled"]);
        if !needed.into_iter().all(|c| s.has_column("queues", c)) {
            return None;
        }
        let q = s.table("queues");
        let sets: Vec<String> = LIMITS
            .split(", ")
            .map(|c| format!("{c} = EXCLUDED.{c}"))
            .collect();
        let insert = format!(
            "INSERT INTO {q} AS cur (name, {LIMITS}, priority_enabled, updated_at, application_name) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, TRUE, {NOW_MS}, $12)"
        );
        let update_sets: Vec<String> = LIMITS
            .split(", ")
            .enumerate()
            .map(|(i, c)| format!("{c} = ${}", i + 2))
            .collect();
        Some(QueueSql {
            get: format!("SELECT {COLUMNS} FROM {q} WHERE name = $1"),
            lock_owner: format!("SELECT application_name FROM {q} WHERE name = $1 FOR UPDATE"),
            list: format!(
                "SELECT {COLUMNS} FROM {q} WHERE cardinality($1::text[]) = 0 \
                 OR application_name = ANY($1) OR application_name IS NULL ORDER BY name"
            ),
            // An unclaimed row is claimed; an owned one keeps its owner (checked before and after).
            upsert: format!(
                "{insert} ON CONFLICT (name) DO UPDATE SET {}, updated_at = EXCLUDED.updated_at, \
                 application_name = COALESCE(cur.application_name, EXCLUDED.application_name) \
                 RETURNING {COLUMNS}, (xmax = 0) AS created",
                sets.join(", ")
            ),
            insert_or_keep: format!(
                "{insert} ON CONFLICT (name) DO NOTHING RETURNING {COLUMNS}, TRUE AS created"
            ),
            update: format!(
                "UPDATE {q} SET {}, updated_at = {NOW_MS} WHERE name = $1 RETURNING {COLUMNS}",
                update_sets.join(", ")
            ),
            delete: format!("DELETE FROM {q} WHERE name = $1"),
        })
    }
}

impl Repo {
    fn queue_sql(&self) -> Result<&QueueSql> {
        self.sql().queues.as_ref().ok_or_else(|| {
            Error::FailedPrecondition(
                "this DBOS schema has no complete queue registry (DBOS migrations 21, 101 and 108); \
                 migrate it with a newer DBOS or `dbosd migrate`"
                    .to_owned(),
            )
        })
    }

    /// Registers (or, under `OnConflict::Update`, overwrites) a queue owned by `owner`; returns the
    /// stored queue and whether this call created it. Fails with ALREADY_EXISTS when another
    /// application owns the name.
    pub async fn register_queue(
        &self,
        spec: &QueueSpec,
        owner: Option<&str>,
        on_conflict: OnConflict,
    ) -> Result<(QueueRow, bool)> {
        let ctx = "registering a queue";
        let sql = self.queue_sql()?;
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(|e| classify(ctx, e))?;
        let existing = tx
            .query_opt_unnamed(sql.lock_owner.as_str(), &[&spec.name])
            .await
            .map_err(|e| classify(ctx, e))?;
        let current: Option<String> = match existing.as_ref() {
            Some(r) => r.col(0)?,
            None => None,
        };
        let owner = resolve_owner(current.as_deref(), existing.is_some(), owner)
            .map_err(|current| taken(&spec.name, &current))?;
        let limits = limit_params(spec);
        let mut params: Vec<&dyn Param> = vec![&spec.name];
        params.extend(limits.iter().map(|p| p.as_ref()));
        params.push(&owner);
        let stmt = match on_conflict {
            OnConflict::Update => &sql.upsert,
            OnConflict::Keep => &sql.insert_or_keep,
        };
        let row = tx
            .query_opt_unnamed(stmt.as_str(), &params)
            .await
            .map_err(|e| classify(ctx, e))?;
        let (row, created) = match row {
            Some(row) => (decode(&row)?, row.col::<_, bool>("created")?),
            None => (
                read_queue(&tx, sql, &spec.name).await?.ok_or_else(|| {
                    Error::Aborted(format!(
                        "queue {} was deleted concurrently; retry",
                        spec.name
                    ))
                })?,
                false,
            ),
        };
        // A concurrent registrar may have claimed the name between the check and the write.
        if let (Some(have), Some(want)) = (&row.application_name, &owner) {
            if have != want {
                return Err(taken(&spec.name, have));
            }
        }
        tx.commit().await.map_err(|e| classify(ctx, e))?;
        Ok((row, created))
    }

    /// One queue, if registered.
    pub async fn get_queue(&self, name: &str) -> Result<Option<QueueRow>> {
        let sql = self.queue_sql()?;
        let conn = self.conn().await?;
        read_queue(&**conn, sql, name).await
    }

    /// Queues owned by `owners` plus unclaimed ones (every queue when `owners` is empty), by name.
    pub async fn list_queues(&self, owners: &[String]) -> Result<Vec<QueueRow>> {
        let sql = self.queue_sql()?;
        let conn = self.conn().await?;
        let rows = conn
            .query_unnamed(sql.list.as_str(), &[&owners])
            .await
            .map_err(|e| classify("listing queues", e))?;
        rows.iter().map(decode).collect()
    }

    /// Rewrites a queue's limits with `apply(current)` in one transaction (the row is locked while
    /// `apply` runs, so concurrent updates never lose each other's fields).
    pub async fn update_queue(
        &self,
        name: &str,
        apply: impl FnOnce(QueueSpec) -> Result<QueueSpec>,
    ) -> Result<QueueRow> {
        let ctx = "updating a queue";
        let sql = self.queue_sql()?;
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(|e| classify(ctx, e))?;
        tx.execute_unnamed(sql.lock_owner.as_str(), &[&name])
            .await
            .map_err(|e| classify(ctx, e))?;
        let current = read_queue(&tx, sql, name)
            .await?
            .ok_or_else(|| not_found(name))?;
        let spec = apply(current.spec)?;
        let limits = limit_params(&spec);
        let mut params: Vec<&dyn Param> = vec![&name];
        params.extend(limits.iter().map(|p| p.as_ref()));
        let row = tx
            .query_one_unnamed(sql.update.as_str(), &params)
            .await
            .map_err(|e| classify(ctx, e))?;
        let row = decode(&row)?;
        tx.commit().await.map_err(|e| classify(ctx, e))?;
        Ok(row)
    }

    /// Deletes a queue; false when none was registered under `name`.
    pub async fn delete_queue(&self, name: &str) -> Result<bool> {
        let sql = self.queue_sql()?;
        let conn = self.conn().await?;
        let n = conn
            .execute_unnamed(sql.delete.as_str(), &[&name])
            .await
            .map_err(|e| classify("deleting a queue", e))?;
        Ok(n > 0)
    }
}

/// The NOT_FOUND of a queue name.
pub(crate) fn not_found(name: &str) -> Error {
    Error::NotFound(format!("queue {name} is not registered"))
}

fn taken(name: &str, owner: &str) -> Error {
    Error::AlreadyExists(format!(
        "queue {name} is already registered by application {owner}; queue names are unique across \
         the applications of a system database (rename that application first if it is this one)"
    ))
}

async fn read_queue(
    client: &(impl GenericClient + Sync),
    sql: &QueueSql,
    name: &str,
) -> Result<Option<QueueRow>> {
    let row = client
        .query_opt_unnamed(sql.get.as_str(), &[&name])
        .await
        .map_err(|e| classify("reading a queue", e))?;
    row.as_ref().map(decode).transpose()
}

/// `$2`..`$11`: the limit columns in `LIMITS` order.
fn limit_params(spec: &QueueSpec) -> Vec<Box<dyn Param>> {
    let limit = |r: &Option<RateLimit>| r.map(|r| r.limit);
    let period = |r: &Option<RateLimit>| r.map(|r| r.period_sec);
    vec![
        Box::new(spec.concurrency),
        Box::new(spec.worker_concurrency),
        Box::new(limit(&spec.rate_limit)),
        Box::new(period(&spec.rate_limit)),
        Box::new(spec.partition_concurrency),
        Box::new(spec.partition_worker_concurrency),
        Box::new(limit(&spec.partition_rate_limit)),
        Box::new(period(&spec.partition_rate_limit)),
        Box::new(spec.polling_interval_sec),
        Box::new(spec.partitioned()),
    ]
}

fn decode(row: &Row) -> Result<QueueRow> {
    let decode = || -> Result<QueueRow, tokio_postgres::Error> {
        let rate =
            |limit: &str, period: &str| -> Result<Option<RateLimit>, tokio_postgres::Error> {
                let limit: Option<i32> = row.try_get(limit)?;
                let period: Option<f64> = row.try_get(period)?;
                Ok(limit
                    .zip(period)
                    .map(|(limit, period_sec)| RateLimit { limit, period_sec }))
            };
        Ok(QueueRow {
            spec: QueueSpec {
                name: row.try_get("name")?,
                concurrency: row.try_get("concurrency")?,
                worker_concurrency: row.try_get("worker_concurrency")?,
                rate_limit: rate("rate_limit_max", "rate_limit_period_sec")?,
                partition_concurrency: row.try_get("partition_concurrency")?,
                partition_worker_concurrency: row.try_get("partition_worker_concurrency")?,
                partition_rate_limit: rate(
                    "partition_rate_limit_max",
                    "partition_rate_limit_period_sec",
                )?,
                polling_interval_sec: row.try_get("polling_interval_sec")?,
            },
            queue_id: row.try_get("queue_id")?,
            application_name: row.try_get("application_name")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    };
    decode().map_err(|e| Error::internal("decoding a queues row", e))
}
