//! `WorkflowFilter` → [`ListFilter`]: the one conversion of "which workflows", shared by the reads
//! (ListWorkflows, ListQueuedWorkflows, GetWorkflowAggregates) and the bulk management calls. Every
//! request carries it as its `filter` field, so errors name `filter.<field>`.

use crate::api::{
    convert::json::struct_to_map,
    convert::{enum_field, text, timestamp_ms},
};
use crate::{
    error::{Error, Result},
    model::Scope,
    model::{ListFilter, WorkflowStatus},
    pb,
};

/// The request field every filter arrives in.
const FIELD: &str = "filter";

/// Most values in one list of a filter: each becomes an array parameter of one statement.
pub const MAX_FILTER_VALUES: usize = 10_000;
/// Most id prefixes: each is a LIKE pattern tried against every row the rest of the filter keeps.
pub const MAX_FILTER_PREFIXES: usize = 100;
/// Longest single text value of a filter, in bytes.
pub const MAX_FILTER_TEXT_BYTES: usize = 64 * 1024;
/// Largest `attributes` filter, as JSON text.
pub const MAX_FILTER_ATTRIBUTES_BYTES: usize = 64 * 1024;

/// Validates a `WorkflowFilter`; no default application and no scope yet (see [`read_filter`]).
pub fn workflow_filter(filter: &pb::WorkflowFilter) -> Result<ListFilter> {
    convert(filter).map_err(|e| match e {
        Error::InvalidArgument { field, reason } => {
            Error::invalid(format!("{FIELD}.{field}"), reason)
        }
        other => other,
    })
}

/// The filter of a read: absent matches every workflow; dbosd's default application applies as
/// [`default_application`] says, and the caller's `scope` narrows it (part of the filter, so page
/// tokens stay within it).
pub fn read_filter(
    filter: Option<&pb::WorkflowFilter>,
    default_app: Option<&str>,
    scope: Scope,
) -> Result<ListFilter> {
    let mut filter = filter.map(workflow_filter).transpose()?.unwrap_or_default();
    default_application(&mut filter, default_app);
    filter.scope = scope;
    Ok(filter)
}

/// Applies dbosd's configured application as the DBOS clients do: when no application and no ids are named.
pub fn default_application(filter: &mut ListFilter, default_app: Option<&str>) {
    if filter.application_names.is_empty() && filter.workflow_ids.is_empty() {
        filter
            .application_names
            .extend(default_app.map(str::to_owned));
    }
}

/// A status a filter names; `field` is the request field it came from.
pub fn status_filter(field: &str, value: i32) -> Result<WorkflowStatus> {
    let model = match enum_field(field, value)? {
        pb::WorkflowStatus::Enqueued => WorkflowStatus::Enqueued,
        pb::WorkflowStatus::Delayed => WorkflowStatus::Delayed,
        pb::WorkflowStatus::Pending => WorkflowStatus::Pending,
        pb::WorkflowStatus::Success => WorkflowStatus::Success,
        pb::WorkflowStatus::Error => WorkflowStatus::Error,
        pb::WorkflowStatus::Cancelled => WorkflowStatus::Cancelled,
        pb::WorkflowStatus::MaxRecoveryAttemptsExceeded => {
            WorkflowStatus::MaxRecoveryAttemptsExceeded
        }
        pb::WorkflowStatus::Unspecified => {
            return Err(Error::invalid(
                field,
                "WORKFLOW_STATUS_UNSPECIFIED is not a workflow status",
            ))
        }
    };
    Ok(model)
}

/// A list of at most `most` values.
fn count(field: &str, n: usize, most: usize) -> Result<()> {
    if n > most {
        return Err(Error::invalid(
            field,
            format!("has {n} values; the limit is {most}"),
        ));
    }
    Ok(())
}

/// One text value of a filter: storable, and bounded.
fn filter_text(field: &str, value: &str) -> Result<String> {
    if value.len() > MAX_FILTER_TEXT_BYTES {
        return Err(Error::invalid(
            field,
            format!(
                "has a value of {} bytes; the limit is {MAX_FILTER_TEXT_BYTES}",
                value.len()
            ),
        ));
    }
    text(field, value)
}

/// The conversion itself, with errors naming the field inside the filter.
fn convert(f: &pb::WorkflowFilter) -> Result<ListFilter> {
    let texts = |field: &str, values: &[String]| -> Result<Vec<String>> {
        let most = if field == "workflow_id_prefixes" {
            MAX_FILTER_PREFIXES
        } else {
            MAX_FILTER_VALUES
        };
        count(field, values.len(), most)?;
        values.iter().map(|v| filter_text(field, v)).collect()
    };
    count("statuses", f.statuses.len(), MAX_FILTER_VALUES)?;
    let time = |field: &str, t: &Option<prost_types::Timestamp>| {
        t.as_ref().map(|t| timestamp_ms(field, t)).transpose()
    };
    Ok(ListFilter {
        workflow_ids: texts("workflow_ids", &f.workflow_ids)?,
        statuses: f
            .statuses
            .iter()
            .map(|s| status_filter("statuses", *s))
            .collect::<Result<Vec<_>>>()?,
        names: texts("workflow_names", &f.workflow_names)?,
        created_after: time("created_after", &f.created_after)?,
        created_before: time("created_before", &f.created_before)?,
        completed_after: time("completed_after", &f.completed_after)?,
        completed_before: time("completed_before", &f.completed_before)?,
        dequeued_after: time("dequeued_after", &f.dequeued_after)?,
        dequeued_before: time("dequeued_before", &f.dequeued_before)?,
        app_versions: texts("app_versions", &f.app_versions)?,
        forked_from: texts("forked_from", &f.forked_from)?,
        parent_workflow_ids: texts("parent_workflow_ids", &f.parent_workflow_ids)?,
        authenticated_users: texts("authenticated_users", &f.authenticated_users)?,
        queue_names: texts("queue_names", &f.queue_names)?,
        executor_ids: texts("executor_ids", &f.executor_ids)?,
        id_prefixes: texts("workflow_id_prefixes", &f.workflow_id_prefixes)?,
        was_forked_from: f.was_forked_from,
        is_fork: f.is_fork,
        has_parent: f.has_parent,
        attributes: f
            .attributes
            .as_ref()
            .map(|a| {
                struct_to_map(a, "attributes").map(|m| serde_json::Value::Object(m).to_string())
            })
            .transpose()?
            .map(|json| match json.len() {
                n if n > MAX_FILTER_ATTRIBUTES_BYTES => Err(Error::invalid(
                    "attributes",
                    format!("is {n} bytes as JSON; the limit is {MAX_FILTER_ATTRIBUTES_BYTES}"),
                )),
                _ => Ok(json),
            })
            .transpose()?,
        schedule_names: texts("schedule_names", &f.schedule_names)?,
        deduplication_ids: texts("deduplication_ids", &f.deduplication_ids)?,
        is_debounced: f.is_debounced,
        application_names: texts("application_names", &f.application_names)?,
        updated_after: None,
        queues_only: false,
        // Narrowed to the caller's token by read_filter or the bulk call's authorization.
        scope: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_field_inside_filter() {
        let bad = pb::WorkflowFilter {
            created_after: Some(prost_types::Timestamp {
                seconds: 0,
                nanos: -1,
            }),
            ..Default::default()
        };
        match workflow_filter(&bad) {
            Err(Error::InvalidArgument { field, .. }) => assert_eq!(field, "filter.created_after"),
            other => panic!("{other:?}"),
        }
        let bad = pb::WorkflowFilter {
            statuses: vec![0],
            ..Default::default()
        };
        match workflow_filter(&bad) {
            Err(Error::InvalidArgument { field, .. }) => assert_eq!(field, "filter.statuses"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_absent_filter_reads_the_default_application() {
        let f = read_filter(None, Some("app"), Scope::default()).unwrap();
        assert_eq!(f.application_names, ["app"]);
        let by_id = pb::WorkflowFilter {
            workflow_ids: vec!["wf".into()],
            ..Default::default()
        };
        let f = read_filter(Some(&by_id), Some("app"), Scope::default()).unwrap();
        assert!(f.application_names.is_empty());
    }
}
