//! The workflow filter every listing and counting tool takes (each field of the gRPC
//! `WorkflowFilter`, in the words a model uses), and the conversions of tool arguments to gRPC
//! fields, with errors that name the argument.

use chrono::DateTime;
use rmcp::schemars::{self, JsonSchema};
use serde::Deserialize;
use serde_json::{Map, Value as Json};

use crate::pb;

/// Which workflows: every given condition must hold; a list matches any of its values.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FilterParams {
    /// Only these workflow ids.
    #[serde(default)]
    pub workflow_ids: Vec<String>,
    /// Only these statuses: ENQUEUED, DELAYED, PENDING, SUCCESS, ERROR, CANCELLED,
    /// MAX_RECOVERY_ATTEMPTS_EXCEEDED.
    #[serde(default)]
    pub statuses: Vec<String>,
    /// Only these workflow (function) names.
    #[serde(default)]
    pub workflow_names: Vec<String>,
    /// Only workflow ids starting with one of these prefixes.
    #[serde(default)]
    pub workflow_id_prefixes: Vec<String>,
    /// Only these queues.
    #[serde(default)]
    pub queue_names: Vec<String>,
    /// Only these owning applications (plus unclaimed workflows).
    #[serde(default)]
    pub application_names: Vec<String>,
    /// Only these application versions.
    #[serde(default)]
    pub app_versions: Vec<String>,
    /// Only these executors (worker processes).
    #[serde(default)]
    pub executor_ids: Vec<String>,
    /// Only these authenticated users.
    #[serde(default)]
    pub authenticated_users: Vec<String>,
    /// Only children of these workflows.
    #[serde(default)]
    pub parent_workflow_ids: Vec<String>,
    /// Only forks of these workflows.
    #[serde(default)]
    pub forked_from: Vec<String>,
    /// Only workflows fired by these schedules.
    #[serde(default)]
    pub schedule_names: Vec<String>,
    /// Only these deduplication ids.
    #[serde(default)]
    pub deduplication_ids: Vec<String>,
    /// Created at or after this time (RFC 3339, e.g. 2026-01-31T09:00:00Z).
    pub created_after: Option<String>,
    /// Created at or before this time (RFC 3339).
    pub created_before: Option<String>,
    /// Completed at or after this time (RFC 3339).
    pub completed_after: Option<String>,
    /// Completed at or before this time (RFC 3339).
    pub completed_before: Option<String>,
    /// Dequeued by a worker at or after this time (RFC 3339).
    pub dequeued_after: Option<String>,
    /// Dequeued by a worker at or before this time (RFC 3339).
    pub dequeued_before: Option<String>,
    /// Only workflows some fork was (true) or was not (false) made from.
    pub was_forked_from: Option<bool>,
    /// Only forks (true) or only non-forks (false).
    pub is_fork: Option<bool>,
    /// Only child workflows (true) or only top-level ones (false).
    pub has_parent: Option<bool>,
    /// Only debounced (true) or non-debounced (false) workflows.
    pub is_debounced: Option<bool>,
    /// Only workflows whose attributes contain this JSON object.
    pub attributes: Option<Map<String, Json>>,
}

impl FilterParams {
    /// The gRPC filter; an error names the argument in the tool's terms.
    pub fn to_pb(&self) -> Result<pb::WorkflowFilter, String> {
        let statuses = self
            .statuses
            .iter()
            .map(|s| status(s))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(pb::WorkflowFilter {
            workflow_ids: self.workflow_ids.clone(),
            statuses,
            workflow_names: self.workflow_names.clone(),
            created_after: time("created_after", &self.created_after)?,
            created_before: time("created_before", &self.created_before)?,
            completed_after: time("completed_after", &self.completed_after)?,
            completed_before: time("completed_before", &self.completed_before)?,
            dequeued_after: time("dequeued_after", &self.dequeued_after)?,
            dequeued_before: time("dequeued_before", &self.dequeued_before)?,
            app_versions: self.app_versions.clone(),
            forked_from: self.forked_from.clone(),
            parent_workflow_ids: self.parent_workflow_ids.clone(),
            authenticated_users: self.authenticated_users.clone(),
            queue_names: self.queue_names.clone(),
            executor_ids: self.executor_ids.clone(),
            workflow_id_prefixes: self.workflow_id_prefixes.clone(),
            was_forked_from: self.was_forked_from,
            is_fork: self.is_fork,
            has_parent: self.has_parent,
            attributes: self
                .attributes
                .as_ref()
                .map(crate::api::json::map_to_struct),
            schedule_names: self.schedule_names.clone(),
            deduplication_ids: self.deduplication_ids.clone(),
            is_debounced: self.is_debounced,
            application_names: self.application_names.clone(),
        })
    }
}

/// A status by its short name (`success`, `SUCCESS`) or its full enum name.
pub fn status(name: &str) -> Result<i32, String> {
    let upper = name.trim().to_ascii_uppercase();
    let full = if upper.starts_with("WORKFLOW_STATUS_") {
        upper
    } else {
        format!("WORKFLOW_STATUS_{upper}")
    };
    match pb::WorkflowStatus::from_str_name(&full) {
        Some(s) if s != pb::WorkflowStatus::Unspecified => Ok(s as i32),
        _ => Err(format!(
            "statuses: {name:?} is not a workflow status; use ENQUEUED, DELAYED, PENDING, SUCCESS, \
             ERROR, CANCELLED or MAX_RECOVERY_ATTEMPTS_EXCEEDED"
        )),
    }
}

/// An RFC 3339 time argument.
pub fn time(field: &str, text: &Option<String>) -> Result<Option<prost_types::Timestamp>, String> {
    let Some(text) = text.as_deref().filter(|t| !t.trim().is_empty()) else {
        return Ok(None);
    };
    let at = DateTime::parse_from_rfc3339(text.trim()).map_err(|_| {
        format!("{field}: {text:?} is not an RFC 3339 time such as 2026-01-31T09:00:00Z")
    })?;
    Ok(Some(prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }))
}

/// `n` (or `default` when absent) within `1..=max`, else an error naming `field`.
pub fn bounded(field: &str, n: Option<u32>, default: u32, max: u32) -> Result<u32, String> {
    match n.unwrap_or(default) {
        0 => Err(format!("{field} must be at least 1")),
        n if n > max => Err(format!("{field} must be at most {max}")),
        n => Ok(n),
    }
}

/// Seconds as a protobuf duration.
pub fn seconds(s: f64) -> prost_types::Duration {
    prost_types::Duration {
        seconds: s.trunc() as i64,
        nanos: (s.fract() * 1e9) as i32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_convert_or_say_which_argument_is_wrong() {
        assert_eq!(status("success"), Ok(pb::WorkflowStatus::Success as i32));
        assert_eq!(
            status("WORKFLOW_STATUS_ERROR"),
            Ok(pb::WorkflowStatus::Error as i32)
        );
        assert!(status("DONE")
            .unwrap_err()
            .contains("\"DONE\" is not a workflow status"));
        assert!(status("unspecified").is_err());
        let t = time("created_after", &Some("2026-01-31T09:00:00+01:00".into())).unwrap();
        assert_eq!(t.unwrap().seconds, 1_769_846_400);
        let err = time("created_after", &Some("yesterday".into())).unwrap_err();
        assert!(err.starts_with("created_after:"), "{err}");
        assert_eq!(bounded("page_size", None, 20, 100), Ok(20));
        assert!(bounded("page_size", Some(0), 20, 100).is_err());
        assert!(bounded("page_size", Some(101), 20, 100).is_err());
    }
}
