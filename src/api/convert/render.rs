//! Model → proto: workflow rows and stored values as the API returns them.
//!
//! `portable_json` is decoded; any other serialization is passed through as text with its name,
//! never guessed at and never an error.

use serde_json::Value as Json;

use crate::api::{
    convert::json::{depth, from_json, map_to_struct, MAX_VALUE_DEPTH},
    convert::{ms_to_duration, ms_to_timestamp},
};
use crate::{
    model::{StoredValue, WorkflowRow, WorkflowStatus, PORTABLE_JSON},
    pb,
};

/// The proto enum for a stored status.
pub fn status(s: Option<WorkflowStatus>) -> pb::WorkflowStatus {
    match s {
        None => pb::WorkflowStatus::Unspecified,
        Some(WorkflowStatus::Enqueued) => pb::WorkflowStatus::Enqueued,
        Some(WorkflowStatus::Delayed) => pb::WorkflowStatus::Delayed,
        Some(WorkflowStatus::Pending) => pb::WorkflowStatus::Pending,
        Some(WorkflowStatus::Success) => pb::WorkflowStatus::Success,
        Some(WorkflowStatus::Error) => pb::WorkflowStatus::Error,
        Some(WorkflowStatus::Cancelled) => pb::WorkflowStatus::Cancelled,
        Some(WorkflowStatus::MaxRecoveryAttemptsExceeded) => {
            pb::WorkflowStatus::MaxRecoveryAttemptsExceeded
        }
    }
}

/// Largest decoded `json` copy of a payload sent beside its text, in encoded bytes. A `Value` can be
/// several times its JSON text (a number in an array is 11 bytes as a Value, 2 as text), so an
/// unbounded copy could make a row written within `--max-payload-bytes` unreadable.
pub const MAX_JSON_COPY_BYTES: usize = 1024 * 1024;

/// Most bytes one byte of JSON text becomes as a `google.protobuf.Value` (plus [`EXPANSION_SLACK`]):
/// the worst token is a number, 1 byte of text (`1` or `1,`) and 9 encoded bytes (tag and f64),
/// 13 inside a list (the element's tag and length); a member `"":0,` is 5 bytes and at most 19
/// encoded. No token reaches 16 per byte.
const MAX_EXPANSION: usize = 16;
const EXPANSION_SLACK: usize = 16;

/// A stored value: decoded when portable (and small enough to send twice), passed through otherwise.
pub fn payload(value: &StoredValue) -> pb::Payload {
    // Texts this short cannot decode past the limit, so they skip measuring the decoded copy (one
    // more walk of the whole tree, for every payload of a list page).
    let surely_fits = value.text.len() * MAX_EXPANSION + EXPANSION_SLACK <= MAX_JSON_COPY_BYTES;
    let json = (value.serialization.as_deref() == Some(PORTABLE_JSON)
        && value.text.len() <= MAX_JSON_COPY_BYTES)
        .then(|| serde_json::from_str::<Json>(&value.text).ok())
        .flatten()
        .filter(|j| depth(j) <= MAX_VALUE_DEPTH)
        .map(|j| from_json(&j))
        .filter(|v| surely_fits || prost::Message::encoded_len(v) <= MAX_JSON_COPY_BYTES);
    pb::Payload {
        serialization: value.serialization.clone().unwrap_or_default(),
        text: value.text.clone(),
        json,
    }
}

/// A stored error; a portable one is split into name, message, code and data.
pub fn workflow_error(value: &StoredValue) -> pb::WorkflowError {
    let payload = payload(value);
    let mut err = pb::WorkflowError::default();
    if value.serialization.as_deref() == Some(PORTABLE_JSON) {
        if let Ok(Json::Object(map)) = serde_json::from_str::<Json>(&value.text) {
            let text_of = |k: &str| match map.get(k) {
                Some(Json::String(s)) => s.clone(),
                Some(Json::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            err.name = text_of("name");
            err.message = text_of("message");
            let value = |k: &str| map.get(k).filter(|j| depth(j) <= MAX_VALUE_DEPTH);
            err.code = value("code").map(from_json);
            err.data = value("data").map(from_json);
        }
    }
    err.payload = Some(payload);
    err
}

/// A workflow row as the API returns it.
pub fn workflow_info(row: &WorkflowRow) -> pb::WorkflowInfo {
    let stored = |text: &Option<String>| {
        text.as_ref().map(|t| StoredValue {
            serialization: row.serialization.clone(),
            text: t.clone(),
        })
    };
    let parsed = row.status();
    // Decide the outcome by status, never by which column is filled (Go writes '' errors on SUCCESS).
    let output = match parsed {
        Some(WorkflowStatus::Success) => stored(&row.output).map(|v| payload(&v)),
        _ => None,
    };
    let error = match parsed {
        Some(WorkflowStatus::Error) => stored(&row.error).map(|v| workflow_error(&v)),
        _ => None,
    };
    let roles = row
        .authenticated_roles
        .as_deref()
        .and_then(|r| serde_json::from_str::<Vec<String>>(r).ok())
        .unwrap_or_default();
    let attributes = row
        .attributes
        .as_deref()
        .and_then(|a| serde_json::from_str::<Json>(a).ok())
        .filter(|j| depth(j) <= MAX_VALUE_DEPTH)
        .and_then(|j| match j {
            Json::Object(map) => Some(map_to_struct(&map)),
            _ => None,
        });
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    pb::WorkflowInfo {
        workflow_id: row.workflow_id.clone(),
        status: status(parsed) as i32,
        workflow_name: s(&row.name),
        class_name: s(&row.class_name),
        config_name: s(&row.config_name),
        queue_name: s(&row.queue_name),
        application_name: s(&row.application_name),
        app_version: s(&row.application_version),
        app_id: s(&row.application_id),
        executor_id: s(&row.executor_id),
        authenticated_user: s(&row.authenticated_user),
        assumed_role: s(&row.assumed_role),
        authenticated_roles: roles,
        input: stored(&row.inputs).map(|v| payload(&v)),
        output,
        error,
        serialization: s(&row.serialization),
        recovery_attempts: row.recovery_attempts.unwrap_or_default(),
        priority: row.priority,
        deduplication_id: s(&row.deduplication_id),
        queue_partition_key: s(&row.queue_partition_key),
        timeout: row.workflow_timeout_ms.map(ms_to_duration),
        deadline: row.workflow_deadline_epoch_ms.map(ms_to_timestamp),
        created_at: Some(ms_to_timestamp(row.created_at)),
        updated_at: Some(ms_to_timestamp(row.updated_at)),
        dequeued_at: row.started_at_epoch_ms.map(ms_to_timestamp),
        completed_at: row.completed_at.map(ms_to_timestamp),
        delay_until: row.delay_until_epoch_ms.map(ms_to_timestamp),
        forked_from: s(&row.forked_from),
        was_forked_from: row.was_forked_from,
        parent_workflow_id: s(&row.parent_workflow_id),
        schedule_name: s(&row.schedule_name),
        attributes,
        is_debounced: row.is_debounced,
    }
}

/// A workflow's record for a status update: no input, output or error.
pub fn status_update(row: &WorkflowRow) -> pb::WorkflowInfo {
    let mut info = workflow_info(row);
    info.input = None;
    info.output = None;
    info.error = None;
    info
}

/// A finished workflow's outcome; without its output and error unless `load_output`.
pub fn outcome(row: &WorkflowRow, load_output: bool) -> pb::WorkflowOutcome {
    let info = workflow_info(row);
    pb::WorkflowOutcome {
        workflow_id: info.workflow_id,
        status: info.status,
        output: info.output.filter(|_| load_output),
        error: info.error.filter(|_| load_output),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The texts that expand most, each token repeated: none may pass the bound that lets a short
    /// text skip measuring its decoded copy.
    #[test]
    fn no_json_text_expands_past_the_bound() {
        let repeat = |open: &str, item: &str, close: &str, n: usize| {
            format!("{open}{}{close}", vec![item; n].join(","))
        };
        let nested = |open: &str, close: &str, n: usize| open.repeat(n) + "1" + &close.repeat(n);
        let mut members: Vec<String> = (0..2_000).map(|i| format!("\"{i}\":0")).collect();
        members.push("\"\":0".into());
        let texts = [
            "1".to_owned(),
            "0".to_owned(),
            "\"\"".to_owned(),
            "null".to_owned(),
            repeat("[", "1", "]", 5_000),
            repeat("[", "0", "]", 100_000),
            repeat("[", "null", "]", 5_000),
            repeat("[", "\"\"", "]", 5_000),
            repeat("[", "[]", "]", 5_000),
            repeat("[", "{}", "]", 5_000),
            repeat("[", "true", "]", 5_000),
            format!("{{{}}}", members.join(",")),
            nested("[", "]", 39),
            nested("{\"\":", "}", 39),
            nested("[[", "]]", 19),
        ];
        for text in texts {
            let json: Json = serde_json::from_str(&text).unwrap();
            let encoded = prost::Message::encoded_len(&from_json(&json));
            assert!(
                encoded <= text.len() * MAX_EXPANSION + EXPANSION_SLACK,
                "{} bytes of text became {encoded}",
                text.len()
            );
        }
    }
}
