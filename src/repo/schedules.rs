//! `workflow_schedules`: create, read, list, pause/resume, delete. Firing (trigger, backfill) goes
//! through the enqueue statements (`Repo::transact`).

use tokio_postgres::Row;

use crate::repo::{
    db::classify::classify, db::classify::is_unique_violation, db::schema::SchemaInfo,
    workflows::list::like_prefix, Param, Repo, Unnamed,
};
use crate::{
    error::{Error, Result},
    model::{ScheduleFilter, ScheduleRow},
};

const COLUMNS: &str = "schedule_id, schedule_name, workflow_name, workflow_class_name, schedule, \
    status, context, last_fired_at, automatic_backfill, cron_timezone, queue_name, application_name";

/// The schedule statements, for a schema with every schedule column (DBOS migrations 9, 15, 17, 102).
#[derive(Debug, Clone)]
pub(crate) struct ScheduleSql {
    insert: String,
    /// `insert`, but an existing schedule of the name takes the new definition (keeping its id,
    /// status and last firing) unless another application owns it (then no row is returned).
    upsert: String,
    get: String,
    /// Replaces a schedule's changeable fields (cron, context, backfill, time zone, queue).
    update: String,
    list: String,
    set_status: String,
    delete: String,
}

impl ScheduleSql {
    pub fn build(s: &SchemaInfo) -> Option<Self> {
        if !COLUMNS
            .split(", ")
            .all(|c| s.has_column("workflow_schedules", c))
        {
            return None;
        }
        let t = s.table("workflow_schedules");
        Some(ScheduleSql {
            insert: format!(
                "INSERT INTO {t} ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, 'ACTIVE', $6, NULL, $7, $8, $9, $10) \
                 RETURNING {COLUMNS}"
            ),
            upsert: format!(
                "INSERT INTO {t} AS cur ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, 'ACTIVE', $6, NULL, $7, $8, $9, $10) \
                 ON CONFLICT (schedule_name) DO UPDATE SET workflow_name = EXCLUDED.workflow_name, \
                   workflow_class_name = EXCLUDED.workflow_class_name, schedule = EXCLUDED.schedule, \
                   context = EXCLUDED.context, automatic_backfill = EXCLUDED.automatic_backfill, \
                   cron_timezone = EXCLUDED.cron_timezone, queue_name = EXCLUDED.queue_name, \
                   application_name = COALESCE(cur.application_name, EXCLUDED.application_name) \
                 WHERE cur.application_name IS NULL OR EXCLUDED.application_name IS NULL \
                   OR cur.application_name = EXCLUDED.application_name \
                 RETURNING {}",
                COLUMNS.split(", ").map(|c| format!("cur.{c}")).collect::<Vec<_>>().join(", ")
            ),
            get: format!("SELECT {COLUMNS} FROM {t} WHERE schedule_name = $1"),
            update: format!(
                "UPDATE {t} SET schedule = $2, context = $3, automatic_backfill = $4, cron_timezone = $5, \
                 queue_name = $6 WHERE schedule_name = $1 RETURNING {COLUMNS}"
            ),
            list: format!(
                "SELECT {COLUMNS} FROM {t} WHERE (cardinality($1::text[]) = 0 OR status = ANY($1)) \
                 AND (cardinality($2::text[]) = 0 OR workflow_name = ANY($2)) \
                 AND (cardinality($3::text[]) = 0 OR schedule_name LIKE ANY($3)) \
                 AND (cardinality($4::text[]) = 0 OR application_name = ANY($4) OR application_name IS NULL) \
                 ORDER BY schedule_name"
            ),
            set_status: format!(
                "UPDATE {t} SET status = $2 WHERE schedule_name = $1 RETURNING {COLUMNS}"
            ),
            delete: format!("DELETE FROM {t} WHERE schedule_name = $1"),
        })
    }
}

impl Repo {
    fn schedule_sql(&self) -> Result<&ScheduleSql> {
        self.sql().schedules.as_ref().ok_or_else(|| {
            Error::FailedPrecondition(
                "this DBOS schema has no complete schedule table (DBOS migrations 9, 15, 17 and 102)"
                    .to_owned(),
            )
        })
    }

    /// Inserts a schedule (ACTIVE, never fired); ALREADY_EXISTS when the name is taken.
    pub async fn create_schedule(&self, s: &ScheduleRow) -> Result<ScheduleRow> {
        let sql = self.schedule_sql()?;
        let conn = self.conn().await?;
        let row = conn
            .query_one_unnamed(sql.insert.as_str(), &row_params(s))
            .await
            .map_err(|e| {
                if is_unique_violation(&e, "schedule_name") {
                    Error::AlreadyExists(format!("schedule {} already exists", s.schedule_name))
                } else {
                    classify("creating a schedule", e)
                }
            })?;
        decode(&row)
    }

    /// Creates or replaces every schedule in one transaction (the clients' apply_schedules); all or
    /// none. FAILED_PRECONDITION if another application owns one of them.
    pub async fn apply_schedules(&self, rows: &[ScheduleRow]) -> Result<Vec<ScheduleRow>> {
        let ctx = "applying schedules";
        let sql = self.schedule_sql()?;
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(|e| classify(ctx, e))?;
        let mut applied = Vec::with_capacity(rows.len());
        for s in rows {
            let row = tx
                .query_opt_unnamed(sql.upsert.as_str(), &row_params(s))
                .await
                .map_err(|e| classify(ctx, e))?
                .ok_or_else(|| {
                    Error::FailedPrecondition(format!(
                        "schedule {} belongs to another application; nothing was applied",
                        s.schedule_name
                    ))
                })?;
            applied.push(decode(&row)?);
        }
        tx.commit().await.map_err(|e| classify(ctx, e))?;
        Ok(applied)
    }

    /// Writes a schedule's changeable fields; `None` when the schedule does not exist (any more).
    pub async fn update_schedule(&self, s: &ScheduleRow) -> Result<Option<ScheduleRow>> {
        let sql = self.schedule_sql()?;
        let conn = self.conn().await?;
        let row = conn
            .query_opt_unnamed(
                sql.update.as_str(),
                &[
                    &s.schedule_name,
                    &s.cron,
                    &s.context,
                    &s.automatic_backfill,
                    &s.cron_timezone,
                    &s.queue_name,
                ],
            )
            .await
            .map_err(|e| classify("updating a schedule", e))?;
        row.as_ref().map(decode).transpose()
    }

    /// One schedule, if it exists.
    pub async fn get_schedule(&self, name: &str) -> Result<Option<ScheduleRow>> {
        let sql = self.schedule_sql()?;
        let conn = self.conn().await?;
        let row = conn
            .query_opt_unnamed(sql.get.as_str(), &[&name])
            .await
            .map_err(|e| classify("reading a schedule", e))?;
        row.as_ref().map(decode).transpose()
    }

    /// Schedules matching `f`, by name.
    pub async fn list_schedules(&self, f: &ScheduleFilter) -> Result<Vec<ScheduleRow>> {
        let sql = self.schedule_sql()?;
        let prefixes: Vec<String> = f.name_prefixes.iter().map(|p| like_prefix(p)).collect();
        let conn = self.conn().await?;
        let rows = conn
            .query_unnamed(
                sql.list.as_str(),
                &[
                    &f.statuses,
                    &f.workflow_names,
                    &prefixes,
                    &f.application_names,
                ],
            )
            .await
            .map_err(|e| classify("listing schedules", e))?;
        rows.iter().map(decode).collect()
    }

    /// Sets a schedule's status (`ACTIVE` / `PAUSED`); None when it does not exist.
    pub async fn set_schedule_status(
        &self,
        name: &str,
        status: &str,
    ) -> Result<Option<ScheduleRow>> {
        let sql = self.schedule_sql()?;
        let conn = self.conn().await?;
        let row = conn
            .query_opt_unnamed(sql.set_status.as_str(), &[&name, &status])
            .await
            .map_err(|e| classify("changing a schedule", e))?;
        row.as_ref().map(decode).transpose()
    }

    /// Deletes a schedule; false when it did not exist.
    pub async fn delete_schedule(&self, name: &str) -> Result<bool> {
        let sql = self.schedule_sql()?;
        let conn = self.conn().await?;
        let n = conn
            .execute_unnamed(sql.delete.as_str(), &[&name])
            .await
            .map_err(|e| classify("deleting a schedule", e))?;
        Ok(n > 0)
    }
}

fn decode(row: &Row) -> Result<ScheduleRow> {
    let decode = || -> Result<ScheduleRow, tokio_postgres::Error> {
        Ok(ScheduleRow {
            schedule_id: row.try_get("schedule_id")?,
            schedule_name: row.try_get("schedule_name")?,
            workflow_name: row.try_get("workflow_name")?,
            workflow_class_name: row.try_get("workflow_class_name")?,
            cron: row.try_get("schedule")?,
            status: row.try_get("status")?,
            context: row.try_get("context")?,
            last_fired_at: row.try_get("last_fired_at")?,
            automatic_backfill: row.try_get("automatic_backfill")?,
            cron_timezone: row.try_get("cron_timezone")?,
            queue_name: row.try_get("queue_name")?,
            application_name: row.try_get("application_name")?,
        })
    };
    decode().map_err(|e| Error::internal("decoding a workflow_schedules row", e))
}

/// A schedule's values in the order of the insert and upsert statements' parameters.
fn row_params(s: &ScheduleRow) -> [&dyn Param; 10] {
    [
        &s.schedule_id,
        &s.schedule_name,
        &s.workflow_name,
        &s.workflow_class_name,
        &s.cron,
        &s.context,
        &s.automatic_backfill,
        &s.cron_timezone,
        &s.queue_name,
        &s.application_name,
    ]
}
