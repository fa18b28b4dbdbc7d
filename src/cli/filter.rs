//! The filter flags to the API's WorkflowFilter, and the small parsers the commands share: statuses,
//! times (RFC 3339 or "a duration ago"), `KEY=JSON` attributes. Errors name the flag.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value as Json};

use super::{args_wf::FilterArgs, CliError};
use crate::pb::{self, WorkflowStatus};

/// `SUCCESS` or `WORKFLOW_STATUS_SUCCESS` (any case) to the enum value.
pub fn parse_status(text: &str) -> Result<i32, CliError> {
    let upper = text.trim().to_ascii_uppercase();
    let full = if upper.starts_with("WORKFLOW_STATUS_") {
        upper
    } else {
        format!("WORKFLOW_STATUS_{upper}")
    };
    WorkflowStatus::from_str_name(&full)
        .filter(|s| *s != WorkflowStatus::Unspecified)
        .map(|s| s as i32)
        .ok_or_else(|| {
            CliError::usage(format!(
                "--status {text:?}: expected one of ENQUEUED, PENDING, SUCCESS, ERROR, CANCELLED, \
                 DELAYED, MAX_RECOVERY_ATTEMPTS_EXCEEDED"
            ))
        })
}

pub fn parse_statuses(texts: &[String]) -> Result<Vec<i32>, CliError> {
    texts.iter().map(|s| parse_status(s)).collect()
}

/// A duration such as `90s`, `15m`, `2h`, `3d` (a bare number is seconds).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    let (num, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let n: u64 = num.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

/// RFC 3339, or a duration ago, as a Timestamp; the error names `flag`.
pub fn parse_time(flag: &str, text: &str) -> Result<prost_types::Timestamp, CliError> {
    if let Some(ago) = parse_duration(text) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let at = now.saturating_sub(ago);
        return Ok(prost_types::Timestamp {
            seconds: at.as_secs() as i64,
            nanos: at.subsec_nanos() as i32,
        });
    }
    let t = chrono::DateTime::parse_from_rfc3339(text.trim()).map_err(|_| {
        CliError::usage(format!(
            "{flag} {text:?}: expected RFC 3339 (2026-01-02T03:04:05Z) or a duration ago (15m, 2h, 3d)"
        ))
    })?;
    Ok(prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    })
}

fn opt_time(flag: &str, v: &Option<String>) -> Result<Option<prost_types::Timestamp>, CliError> {
    v.as_deref().map(|t| parse_time(flag, t)).transpose()
}

/// A command-line value: JSON when it parses as JSON, else the text as a string.
pub fn value(text: &str) -> Json {
    serde_json::from_str(text).unwrap_or_else(|_| Json::String(text.to_owned()))
}

/// `KEY=JSON` pairs as a Struct (none: `None`); the error names `flag`.
pub fn attributes(flag: &str, pairs: &[String]) -> Result<Option<prost_types::Struct>, CliError> {
    if pairs.is_empty() {
        return Ok(None);
    }
    let mut map = Map::new();
    for pair in pairs {
        let (k, v) = pair
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| CliError::usage(format!("{flag} {pair:?}: expected KEY=JSON")))?;
        map.insert(k.to_owned(), value(v));
    }
    Ok(Some(crate::api::json::map_to_struct(&map)))
}

/// The filter flags as the API's filter.
pub fn workflow_filter(f: FilterArgs) -> Result<pb::WorkflowFilter, CliError> {
    Ok(pb::WorkflowFilter {
        statuses: parse_statuses(&f.statuses)?,
        created_after: opt_time("--created-after", &f.created_after)?,
        created_before: opt_time("--created-before", &f.created_before)?,
        completed_after: opt_time("--completed-after", &f.completed_after)?,
        completed_before: opt_time("--completed-before", &f.completed_before)?,
        dequeued_after: opt_time("--dequeued-after", &f.dequeued_after)?,
        dequeued_before: opt_time("--dequeued-before", &f.dequeued_before)?,
        attributes: attributes("--attr", &f.attributes)?,
        workflow_ids: f.ids,
        workflow_names: f.names,
        app_versions: f.app_versions,
        forked_from: f.forked_from,
        parent_workflow_ids: f.parents,
        authenticated_users: f.users,
        queue_names: f.queues,
        executor_ids: f.executors,
        workflow_id_prefixes: f.prefixes,
        was_forked_from: f.was_forked_from,
        is_fork: f.is_fork,
        has_parent: f.has_parent,
        schedule_names: f.schedules,
        deduplication_ids: f.dedup_ids,
        is_debounced: f.is_debounced,
        application_names: f.applications,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times_parse_and_errors_name_the_flag() {
        assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("3d"), Some(Duration::from_secs(259_200)));
        assert_eq!(parse_duration("3w"), None);
        let t = parse_time("--x", "2026-01-02T03:04:05Z").expect("rfc3339");
        assert_eq!(t.seconds, 1_767_323_045);
        let e = parse_time("--created-after", "yesterday").expect_err("bad");
        assert!(e.message.starts_with("--created-after"), "{}", e.message);
        assert_eq!(e.code, 2);
        let e = parse_status("DONE").expect_err("bad status");
        assert!(e.message.contains("--status"), "{}", e.message);
    }
}
