//! GetWorkflowAggregates over `workflow_status` (with ListWorkflows' filters) and GetStepAggregates
//! over `operation_outputs`, as the Go client's aggregate queries, ordered by group for stable output.

use tokio_postgres::Row;

use crate::repo::{
    db::classify::classify,
    workflows::list::{like_prefix, Where},
    Repo, Unnamed,
};
use crate::{
    error::{Error, Result},
    model::{AggregateRow, StepAggQuery, StepGroup, WorkflowAggQuery, WorkflowGroup},
};

/// A step's outcome: operation_outputs has no status column.
const STEP_STATUS: &str = "(CASE WHEN error IS NULL THEN 'SUCCESS' ELSE 'ERROR' END)";

impl Repo {
    /// Workflow groups matching `q`.
    pub async fn workflow_aggregates(&self, q: &WorkflowAggQuery) -> Result<Vec<AggregateRow>> {
        let mut w = Where::new(self);
        w.filter(&q.filter);
        let mut groups: Vec<String> = q
            .group_by
            .iter()
            .map(|g| {
                let col = match g {
                    WorkflowGroup::Status => "status",
                    WorkflowGroup::Name => "name",
                    WorkflowGroup::QueueName => "queue_name",
                    WorkflowGroup::ExecutorId => "executor_id",
                    WorkflowGroup::AppVersion => "application_version",
                    WorkflowGroup::ApplicationName => "application_name",
                };
                format!("{}::text", w.col(col, "text"))
            })
            .collect();
        let bucket = q
            .bucket_ms
            .map(|ms| bucket_expr(&mut w, "ws.created_at", ms));
        groups.extend(bucket.clone());
        let measures = format!(
            "COUNT(*), MIN(ws.created_at), MAX({} - ws.created_at), MAX({} - ws.created_at)",
            w.col("started_at_epoch_ms", "bigint"),
            w.col("completed_at", "bigint"),
        );
        let from = format!("{} ws", self.schema().table("workflow_status"));
        self.aggregate(w, &from, &groups, bucket.is_some(), &measures, q.limit)
            .await
    }

    /// Step groups matching `q`.
    pub async fn step_aggregates(&self, q: &StepAggQuery) -> Result<Vec<AggregateRow>> {
        let s = self.schema();
        let has = |col: &str| s.has_column("operation_outputs", col);
        if !has("completed_at_epoch_ms") {
            return Err(Error::FailedPrecondition(
                "this DBOS schema has no step timestamps (DBOS migration 5)".to_owned(),
            ));
        }
        let mut w = Where::new(self);
        let mut groups: Vec<String> = q
            .group_by
            .iter()
            .map(|g| match g {
                StepGroup::FunctionName => "function_name".to_owned(),
                StepGroup::Status => STEP_STATUS.to_owned(),
            })
            .collect();
        let bucket = q
            .bucket_ms
            .map(|ms| bucket_expr(&mut w, "completed_at_epoch_ms", ms));
        groups.extend(bucket.clone());
        if !q.errors.is_empty() {
            let statuses: Vec<String> = q
                .errors
                .iter()
                .map(|e| if *e { "ERROR" } else { "SUCCESS" }.to_owned())
                .collect();
            let p = w.bind(statuses);
            w.clauses.push(format!("{STEP_STATUS} = ANY({p})"));
        }
        if !q.function_names.is_empty() {
            let p = w.bind(q.function_names.clone());
            w.clauses.push(format!("function_name = ANY({p})"));
        }
        if !q.id_prefixes.is_empty() {
            let patterns: Vec<String> = q.id_prefixes.iter().map(|p| like_prefix(p)).collect();
            let p = w.bind(patterns);
            w.clauses.push(format!("workflow_uuid LIKE ANY({p})"));
        }
        for (op, value) in [(">=", q.completed_after), ("<=", q.completed_before)] {
            if let Some(v) = value {
                let p = w.bind(v);
                w.clauses.push(format!("completed_at_epoch_ms {op} {p}"));
            }
        }
        if !q.application_names.is_empty() && has("application_name") {
            let p = w.bind(q.application_names.clone());
            w.clauses.push(format!(
                "(application_name = ANY({p}) OR application_name IS NULL)"
            ));
        }
        let measures =
            "COUNT(*), NULL::bigint, MAX(completed_at_epoch_ms - started_at_epoch_ms), NULL::bigint";
        let from = s.table("operation_outputs");
        self.aggregate(w, &from, &groups, bucket.is_some(), measures, q.limit)
            .await
    }

    /// `SELECT <groups>, <measures> FROM <from> WHERE .. GROUP BY .. ORDER BY .. LIMIT`; the bucket,
    /// when present, is the last group.
    async fn aggregate(
        &self,
        mut w: Where<'_>,
        from: &str,
        groups: &[String],
        has_bucket: bool,
        measures: &str,
        limit: i64,
    ) -> Result<Vec<AggregateRow>> {
        let positions: Vec<String> = (1..=groups.len()).map(|i| i.to_string()).collect();
        let mut sql = format!("SELECT {}, {measures} FROM {from}", groups.join(", "));
        if !w.clauses.is_empty() {
            sql += &format!(" WHERE {}", w.clauses.join(" AND "));
        }
        let limit = w.bind(limit);
        let by = positions.join(", ");
        sql += &format!(" GROUP BY {by} ORDER BY {by} LIMIT {limit}");
        let conn = self.conn().await?;
        let rows = conn
            .query_unnamed(sql.as_str(), &w.params())
            .await
            .map_err(|e| classify("aggregating", e))?;
        let texts = groups.len() - usize::from(has_bucket);
        rows.iter().map(|r| decode(r, texts, has_bucket)).collect()
    }
}

/// `FLOOR(col / size) * size`, on numeric so it floors rather than truncates.
fn bucket_expr(w: &mut Where<'_>, col: &str, ms: i64) -> String {
    let p = w.bind(ms);
    format!("(FLOOR({col}::numeric / {p}::bigint)::bigint * {p}::bigint)")
}

fn decode(row: &Row, texts: usize, has_bucket: bool) -> Result<AggregateRow> {
    let decode = || -> Result<AggregateRow, tokio_postgres::Error> {
        let group = (0..texts)
            .map(|i| row.try_get::<_, Option<String>>(i))
            .collect::<Result<Vec<_>, _>>()?;
        let mut i = texts;
        let bucket_start = if has_bucket {
            i += 1;
            row.try_get(i - 1)?
        } else {
            None
        };
        Ok(AggregateRow {
            group,
            bucket_start,
            count: row.try_get(i)?,
            min_created_at: row.try_get(i + 1)?,
            max_wait_ms: row.try_get(i + 2)?,
            max_latency_ms: row.try_get(i + 3)?,
        })
    };
    decode().map_err(|e| Error::internal("decoding an aggregate row", e))
}
