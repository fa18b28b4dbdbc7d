//! GetWorkflowAggregates and GetStepAggregates.

use crate::api::{
    convert::filter::{read_filter, status_filter},
    convert::{duration_ms, ms_to_duration, ms_to_timestamp, text, timestamp_ms},
    WorkflowApi,
};
use crate::{
    error::{Error, Result},
    model::{
        AggregateRow, StepAggQuery, StepGroup, WorkflowAggQuery, WorkflowGroup, WorkflowStatus,
    },
    pb,
};

const DEFAULT_LIMIT: i64 = 10_000;
const MAX_LIMIT: i64 = 1_000_000;

impl WorkflowApi {
    pub(super) async fn workflow_aggregates(
        &self,
        req: &pb::GetWorkflowAggregatesRequest,
    ) -> Result<pb::GetWorkflowAggregatesResponse> {
        let group_by = req
            .group_by
            .iter()
            .map(|g| match crate::api::convert::enum_field("group_by", *g)? {
                pb::WorkflowGroupBy::Status => Ok(WorkflowGroup::Status),
                pb::WorkflowGroupBy::WorkflowName => Ok(WorkflowGroup::Name),
                pb::WorkflowGroupBy::QueueName => Ok(WorkflowGroup::QueueName),
                pb::WorkflowGroupBy::ExecutorId => Ok(WorkflowGroup::ExecutorId),
                pb::WorkflowGroupBy::AppVersion => Ok(WorkflowGroup::AppVersion),
                pb::WorkflowGroupBy::ApplicationName => Ok(WorkflowGroup::ApplicationName),
                pb::WorkflowGroupBy::Unspecified => Err(Error::invalid(
                    "group_by",
                    format!("{g} is not a grouping column"),
                )),
            })
            .collect::<Result<Vec<_>>>()?;
        let query = WorkflowAggQuery {
            filter: read_filter(
                req.filter.as_ref(),
                self.default_app.as_deref(),
                self.filter_scope(),
            )?,
            bucket_ms: grouping(group_by.is_empty(), &req.time_bucket)?,
            group_by,
            limit: limit(req.limit)?,
        };
        let rows = self.repo.workflow_aggregates(&query).await?;
        Ok(pb::GetWorkflowAggregatesResponse {
            aggregates: rows
                .iter()
                .map(|r| pb::WorkflowAggregate {
                    group: group(r),
                    time_bucket_start: r.bucket_start.map(ms_to_timestamp),
                    count: r.count,
                    min_created_at: r.min_created_at.map(ms_to_timestamp),
                    max_queue_wait: r.max_wait_ms.map(ms_to_duration),
                    max_total_latency: r.max_latency_ms.map(ms_to_duration),
                })
                .collect(),
        })
    }

    pub(super) async fn step_aggregates(
        &self,
        req: &pb::GetStepAggregatesRequest,
    ) -> Result<pb::GetStepAggregatesResponse> {
        let group_by = req
            .group_by
            .iter()
            .map(|g| match crate::api::convert::enum_field("group_by", *g)? {
                pb::StepGroupBy::FunctionName => Ok(StepGroup::FunctionName),
                pb::StepGroupBy::Status => Ok(StepGroup::Status),
                pb::StepGroupBy::Unspecified => Err(Error::invalid(
                    "group_by",
                    format!("{g} is not a grouping column"),
                )),
            })
            .collect::<Result<Vec<_>>>()?;
        let errors = req
            .statuses
            .iter()
            .map(|s| match status_filter("statuses", *s)? {
                WorkflowStatus::Success => Ok(false),
                WorkflowStatus::Error => Ok(true),
                other => Err(Error::invalid(
                    "statuses",
                    format!("steps are SUCCESS or ERROR, not {}", other.as_str()),
                )),
            })
            .collect::<Result<Vec<_>>>()?;
        let texts = |field: &str, values: &[String]| -> Result<Vec<String>> {
            values.iter().map(|v| text(field, v)).collect()
        };
        let time = |field: &str, t: &Option<prost_types::Timestamp>| {
            t.as_ref().map(|t| timestamp_ms(field, t)).transpose()
        };
        let query = StepAggQuery {
            bucket_ms: grouping(group_by.is_empty(), &req.time_bucket)?,
            group_by,
            errors,
            function_names: texts("function_names", &req.function_names)?,
            id_prefixes: texts("workflow_id_prefixes", &req.workflow_id_prefixes)?,
            completed_after: time("completed_after", &req.completed_after)?,
            completed_before: time("completed_before", &req.completed_before)?,
            application_names: self.owner_filter(&req.application_names)?,
            limit: limit(req.limit)?,
        };
        let rows = self.repo.step_aggregates(&query).await?;
        Ok(pb::GetStepAggregatesResponse {
            aggregates: rows
                .iter()
                .map(|r| pb::StepAggregate {
                    group: group(r),
                    time_bucket_start: r.bucket_start.map(ms_to_timestamp),
                    count: r.count,
                    max_duration: r.max_wait_ms.map(ms_to_duration),
                })
                .collect(),
        })
    }
}

/// The time bucket in ms; an aggregate needs at least one grouping.
fn grouping(no_columns: bool, bucket: &Option<prost_types::Duration>) -> Result<Option<i64>> {
    let bucket_ms = match bucket {
        None => None,
        Some(d) => match duration_ms("time_bucket", d)? {
            0 => return Err(Error::invalid("time_bucket", "must be at least 1 ms")),
            ms => Some(ms),
        },
    };
    if no_columns && bucket_ms.is_none() {
        return Err(Error::invalid(
            "group_by",
            "name at least one column, or give a time_bucket",
        ));
    }
    Ok(bucket_ms)
}

fn limit(requested: i32) -> Result<i64> {
    match i64::from(requested) {
        0 => Ok(DEFAULT_LIMIT),
        n if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(Error::invalid(
            "limit",
            format!("must be between 0 and {MAX_LIMIT} (0 means {DEFAULT_LIMIT})"),
        )),
    }
}

fn group(r: &AggregateRow) -> Vec<pb::GroupValue> {
    r.group
        .iter()
        .map(|v| pb::GroupValue { value: v.clone() })
        .collect()
}
