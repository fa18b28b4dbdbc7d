//! The bulk-job store: `dbosd.bulk_jobs` (created by `dbosd migrate`, see `db/schema/dbosd.sql`).
//! Starting, reading, listing and aborting jobs here; running their batches in `run.rs`.
//!
//! A job is visible to unrestricted callers and to callers whose scope equals the scope it was
//! started with: the visibility test is part of every statement that reads or aborts a job.

pub mod run;

use tokio_postgres::Row;

use crate::repo::{
    db::{classify::classify, row::Columns, scope::Bound},
    workflows::list::Where,
    Repo, Unnamed,
};
use crate::{
    error::{Error, Result},
    model::{
        job::{canonical_scope, JobBound, JobRow, JobState, NewJob},
        ListFilter, Scope,
    },
};

/// The job table.
pub(crate) const TABLE: &str = "dbosd.bulk_jobs";

/// The columns [`decode`] reads, in its order.
pub(crate) const COLUMNS: &str = "job_id, operation, request, scope_applications, scope_queues, \
    created_by, rows_per_second, batch_size, state, total_count, processed_count, changed_count, \
    batch_count, error, runner_id, created_at, updated_at, finished_at";

/// The database clock in epoch milliseconds.
pub(crate) const NOW_MS: &str = "(EXTRACT(epoch FROM now()) * 1000)::bigint";

/// `$n` (unrestricted viewer), `$n+1`/`$n+2` (its scope): the job is visible to that viewer.
fn visible(n: usize) -> String {
    format!(
        "(${n}::boolean OR (scope_applications IS NOT DISTINCT FROM ${}::text[] \
         AND scope_queues IS NOT DISTINCT FROM ${}::text[]))",
        n + 1,
        n + 2
    )
}

/// A viewer's bind values for [`visible`].
struct Viewer {
    unrestricted: bool,
    bound: Bound,
}

impl Viewer {
    fn of(scope: &Scope) -> Viewer {
        Viewer {
            unrestricted: !scope.is_restricted(),
            bound: Bound::of(&canonical_scope(scope)),
        }
    }
}

/// A job row read with [`COLUMNS`].
pub(crate) fn decode(row: &Row) -> Result<JobRow> {
    let state: String = row.col("state")?;
    let state = JobState::parse(&state).ok_or_else(|| {
        Error::internal(
            "reading a bulk job",
            format!("unknown job state {state:?} in {TABLE}"),
        )
    })?;
    let count = |c: &str| -> Result<u32> {
        let v: i32 = row.col(c)?;
        Ok(v.max(0) as u32)
    };
    Ok(JobRow {
        job_id: row.col("job_id")?,
        operation: row.col("operation")?,
        request: row.col("request")?,
        scope: Scope {
            applications: row.col("scope_applications")?,
            queues: row.col("scope_queues")?,
        },
        created_by: row.col("created_by")?,
        rows_per_second: count("rows_per_second")?,
        batch_size: count("batch_size")?,
        state,
        total_count: row.col("total_count")?,
        processed_count: row.col("processed_count")?,
        changed_count: row.col("changed_count")?,
        batch_count: row.col("batch_count")?,
        error: row.col("error")?,
        runner_id: row.col("runner_id")?,
        created_at_ms: row.col("created_at")?,
        updated_at_ms: row.col("updated_at")?,
        finished_at_ms: row.col("finished_at")?,
    })
}

impl Repo {
    /// Whether `dbosd migrate` created the job table; FAILED_PRECONDITION saying so when not.
    pub async fn jobs_ready(&self) -> Result<()> {
        let ctx = "looking for the bulk-job table";
        let conn = self.conn().await?;
        let row = conn
            .query_one_unnamed("SELECT to_regclass($1) IS NOT NULL", &[&TABLE])
            .await
            .map_err(|e| classify(ctx, e))?;
        match row.col::<_, bool>(0)? {
            true => Ok(()),
            false => Err(Error::FailedPrecondition(format!(
                "bulk jobs need dbosd's own table {TABLE}, which this database lacks; run `dbosd migrate`"
            ))),
        }
    }

    /// How many workflows `filter` selects inside `scope` now, and the last of them in
    /// (created_at, workflow_uuid) order: the end of a job started now.
    pub async fn job_selection(
        &self,
        filter: &ListFilter,
        scope: &Scope,
    ) -> Result<(i64, Option<JobBound>)> {
        let ctx = "counting the workflows of a bulk job";
        let mut filter = filter.clone();
        filter.scope = scope.clone();
        let conn = self.conn().await?;
        let mut w = Where::new(self);
        w.filter(&filter);
        let ws = self.schema().table("workflow_status");
        let count_sql = format!("SELECT count(*) FROM {ws} ws{}", w.sql());
        let count: i64 = conn
            .query_one_unnamed(count_sql.as_str(), &w.params())
            .await
            .map_err(|e| classify(ctx, e))?
            .col(0)?;
        let last_sql = format!(
            "SELECT ws.created_at, ws.workflow_uuid FROM {ws} ws{} \
             ORDER BY ws.created_at DESC, ws.workflow_uuid DESC LIMIT 1",
            w.sql()
        );
        let last = conn
            .query_opt_unnamed(last_sql.as_str(), &w.params())
            .await
            .map_err(|e| classify(ctx, e))?;
        let bound = last
            .map(|row| {
                Ok::<_, Error>(JobBound {
                    created_at: row.col(0)?,
                    workflow_id: row.col(1)?,
                })
            })
            .transpose()?;
        Ok((count, bound))
    }

    /// Stores a new job selecting `total` workflows up to `bound` (a job with nothing to do is
    /// COMPLETED at once). ALREADY_EXISTS when the id is taken.
    pub async fn create_job(
        &self,
        job: &NewJob,
        total: i64,
        bound: Option<&JobBound>,
    ) -> Result<JobRow> {
        let ctx = "starting a bulk job";
        let scope = canonical_scope(&job.scope);
        let state = match bound {
            Some(_) => JobState::Running,
            None => JobState::Completed,
        };
        let sql = format!(
            "INSERT INTO {TABLE} (job_id, dbos_schema, operation, request, scope_applications, \
             scope_queues, created_by, rows_per_second, batch_size, bound_created_at, \
             bound_workflow_uuid, state, total_count, finished_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
             CASE WHEN $12 = 'RUNNING' THEN NULL ELSE {NOW_MS} END) \
             ON CONFLICT (job_id) DO NOTHING RETURNING {COLUMNS}"
        );
        let conn = self.conn().await?;
        let row = conn
            .query_opt_unnamed(
                sql.as_str(),
                &[
                    &job.job_id,
                    &self.schema().name,
                    &job.operation,
                    &job.request,
                    &scope.applications,
                    &scope.queues,
                    &job.created_by,
                    &(job.rows_per_second.min(i32::MAX as u32) as i32),
                    &(job.batch_size.min(i32::MAX as u32) as i32),
                    &bound.map(|b| b.created_at),
                    &bound.map(|b| b.workflow_id.clone()),
                    &state.as_str(),
                    &total,
                ],
            )
            .await
            .map_err(|e| classify(ctx, e))?;
        match row {
            Some(row) => decode(&row),
            None => Err(Error::AlreadyExists(format!(
                "bulk job {} already exists",
                job.job_id
            ))),
        }
    }

    /// The job `job_id` if `viewer` may see it.
    pub async fn get_job(&self, job_id: &str, viewer: &Scope) -> Result<Option<JobRow>> {
        let v = Viewer::of(viewer);
        let sql = format!(
            "SELECT {COLUMNS} FROM {TABLE} WHERE job_id = $1 AND dbos_schema = $2 AND {}",
            visible(3)
        );
        let conn = self.conn().await?;
        let row = conn
            .query_opt_unnamed(
                sql.as_str(),
                &[
                    &job_id,
                    &self.schema().name,
                    &v.unrestricted,
                    &v.bound.apps,
                    &v.bound.queues,
                ],
            )
            .await
            .map_err(|e| classify("reading a bulk job", e))?;
        row.as_ref().map(decode).transpose()
    }

    /// Up to `limit` jobs `viewer` may see, newest first, in `states` (empty: any).
    pub async fn list_jobs(
        &self,
        states: &[JobState],
        limit: i64,
        viewer: &Scope,
    ) -> Result<Vec<JobRow>> {
        let v = Viewer::of(viewer);
        let states: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
        let sql = format!(
            "SELECT {COLUMNS} FROM {TABLE} WHERE dbos_schema = $1 AND {} \
             AND (cardinality($5::text[]) = 0 OR state = ANY($5::text[])) \
             ORDER BY created_at DESC, job_id DESC LIMIT $6",
            visible(2)
        );
        let conn = self.conn().await?;
        let rows = conn
            .query_unnamed(
                sql.as_str(),
                &[
                    &self.schema().name,
                    &v.unrestricted,
                    &v.bound.apps,
                    &v.bound.queues,
                    &states,
                    &limit,
                ],
            )
            .await
            .map_err(|e| classify("listing bulk jobs", e))?;
        rows.iter().map(decode).collect()
    }

    /// Aborts a RUNNING job `viewer` may see. The UPDATE waits for a batch in flight (which holds
    /// the job's row), and every batch re-reads the state under that lock, so no batch commits
    /// after this returns. NOT_FOUND for a job it may not see, FAILED_PRECONDITION for a finished one.
    pub async fn abort_job(&self, job_id: &str, viewer: &Scope) -> Result<JobRow> {
        let v = Viewer::of(viewer);
        let sql = format!(
            "UPDATE {TABLE} SET state = 'ABORTED', finished_at = {NOW_MS}, updated_at = {NOW_MS}, \
             runner_id = NULL, lease_expires_at = NULL \
             WHERE job_id = $1 AND dbos_schema = $2 AND state = 'RUNNING' AND {} RETURNING {COLUMNS}",
            visible(3)
        );
        let row = {
            let conn = self.conn().await?;
            conn.query_opt_unnamed(
                sql.as_str(),
                &[
                    &job_id,
                    &self.schema().name,
                    &v.unrestricted,
                    &v.bound.apps,
                    &v.bound.queues,
                ],
            )
            .await
            .map_err(|e| classify("aborting a bulk job", e))?
        };
        match row {
            Some(row) => decode(&row),
            None => match self.get_job(job_id, viewer).await? {
                Some(job) => Err(Error::FailedPrecondition(format!(
                    "bulk job {job_id} has already finished ({})",
                    job.state.as_str()
                ))),
                None => Err(Error::NotFound(format!("bulk job {job_id} does not exist"))),
            },
        }
    }

    /// The jobs among `ids`, whoever started them (for the watch board, whose watchers were
    /// checked when they subscribed).
    pub async fn jobs_by_ids(&self, ids: &[String]) -> Result<Vec<JobRow>> {
        let sql =
            format!("SELECT {COLUMNS} FROM {TABLE} WHERE job_id = ANY($1) AND dbos_schema = $2");
        let conn = self.conn().await?;
        let rows = conn
            .query_unnamed(sql.as_str(), &[&ids, &self.schema().name])
            .await
            .map_err(|e| classify("reading bulk jobs", e))?;
        rows.iter().map(decode).collect()
    }
}
