//! Model → proto: workflow rows and stored values as the API returns them.
//!
//! `portable_json` is decoded; any other serialization is passed through as text with its name,
//! never guessed at and never an error.

use serde_json::Value as Json;

use prost_types::value::Kind;

use crate::api::{
    convert::json::{depth, from_json, MAX_VALUE_DEPTH},
    convert::json_value::{self, Limits},
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

/// The decoded `json` copy of a stored value's text: only for portable JSON that nests at most
/// [`MAX_VALUE_DEPTH`] deep and fits [`MAX_JSON_COPY_BYTES`] (a longer text cannot).
fn json_copy(serialization: Option<&str>, text: &str) -> Option<prost_types::Value> {
    if serialization != Some(PORTABLE_JSON) || text.len() > MAX_JSON_COPY_BYTES {
        return None;
    }
    json_value::decode(
        text,
        Limits {
            depth: MAX_VALUE_DEPTH,
            bytes: MAX_JSON_COPY_BYTES,
        },
    )
}

/// A stored value: decoded when portable (and small enough to send twice), passed through otherwise.
pub fn payload(value: &StoredValue) -> pb::Payload {
    pb::Payload {
        json: json_copy(value.serialization.as_deref(), &value.text),
        serialization: value.serialization.clone().unwrap_or_default(),
        text: value.text.clone(),
    }
}

/// [`payload`] of a value the caller is done with: its text moves into the response uncopied.
pub fn into_payload(value: StoredValue) -> pb::Payload {
    pb::Payload {
        json: json_copy(value.serialization.as_deref(), &value.text),
        serialization: value.serialization.unwrap_or_default(),
        text: value.text,
    }
}

/// A stored error; a portable one is split into name, message, code and data.
pub fn workflow_error(value: &StoredValue) -> pb::WorkflowError {
    into_workflow_error(value.clone())
}

/// [`workflow_error`] of a value the caller is done with.
pub fn into_workflow_error(value: StoredValue) -> pb::WorkflowError {
    let mut err = pb::WorkflowError::default();
    if value.serialization.as_deref() == Some(PORTABLE_JSON) {
        // The name and message keep the stored text of non-string members (a big code's digits).
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
    err.payload = Some(into_payload(value));
    err
}

/// A row's output and error as the API returns them: decided by status, never by which column is
/// filled (Go writes '' errors on SUCCESS).
fn outcome_parts(
    status: Option<WorkflowStatus>,
    serialization: &Option<String>,
    output: Option<String>,
    error: Option<String>,
) -> (Option<pb::Payload>, Option<pb::WorkflowError>) {
    let stored = |text: String| StoredValue {
        serialization: serialization.clone(),
        text,
    };
    match status {
        Some(WorkflowStatus::Success) => (output.map(|t| into_payload(stored(t))), None),
        Some(WorkflowStatus::Error) => (None, error.map(|t| into_workflow_error(stored(t)))),
        _ => (None, None),
    }
}

/// A workflow row as the API returns it. The row is consumed: every text moves into the response
/// uncopied.
pub fn into_workflow_info(mut row: WorkflowRow) -> pb::WorkflowInfo {
    let parsed = row.status();
    let (output, error) = outcome_parts(
        parsed,
        &row.serialization,
        row.output.take(),
        row.error.take(),
    );
    let input = row.inputs.take().map(|text| {
        into_payload(StoredValue {
            serialization: row.serialization.clone(),
            text,
        })
    });
    pb::WorkflowInfo {
        input,
        output,
        error,
        ..header(row, parsed)
    }
}

/// A row's every field but its input, output and error.
fn header(row: WorkflowRow, parsed: Option<WorkflowStatus>) -> pb::WorkflowInfo {
    let roles = row
        .authenticated_roles
        .as_deref()
        .and_then(|r| serde_json::from_str::<Vec<String>>(r).ok())
        .unwrap_or_default();
    let attributes = row
        .attributes
        .as_deref()
        .and_then(|a| {
            json_value::decode(
                a,
                Limits {
                    depth: MAX_VALUE_DEPTH,
                    bytes: usize::MAX,
                },
            )
        })
        .and_then(|v| match v.kind {
            Some(Kind::StructValue(s)) => Some(s),
            _ => None,
        });
    let s = Option::unwrap_or_default;
    pb::WorkflowInfo {
        workflow_id: row.workflow_id,
        status: status(parsed) as i32,
        workflow_name: s(row.name),
        class_name: s(row.class_name),
        config_name: s(row.config_name),
        queue_name: s(row.queue_name),
        application_name: s(row.application_name),
        app_version: s(row.application_version),
        app_id: s(row.application_id),
        executor_id: s(row.executor_id),
        authenticated_user: s(row.authenticated_user),
        assumed_role: s(row.assumed_role),
        authenticated_roles: roles,
        input: None,
        output: None,
        error: None,
        serialization: s(row.serialization),
        recovery_attempts: row.recovery_attempts.unwrap_or_default(),
        priority: row.priority,
        deduplication_id: s(row.deduplication_id),
        queue_partition_key: s(row.queue_partition_key),
        timeout: row.workflow_timeout_ms.map(ms_to_duration),
        deadline: row.workflow_deadline_epoch_ms.map(ms_to_timestamp),
        created_at: Some(ms_to_timestamp(row.created_at)),
        updated_at: Some(ms_to_timestamp(row.updated_at)),
        dequeued_at: row.started_at_epoch_ms.map(ms_to_timestamp),
        completed_at: row.completed_at.map(ms_to_timestamp),
        delay_until: row.delay_until_epoch_ms.map(ms_to_timestamp),
        forked_from: s(row.forked_from),
        was_forked_from: row.was_forked_from,
        parent_workflow_id: s(row.parent_workflow_id),
        schedule_name: s(row.schedule_name),
        attributes,
        is_debounced: row.is_debounced,
    }
}

/// A workflow's record for a status update: no input, output or error (none is decoded).
pub fn status_update(row: &WorkflowRow) -> pb::WorkflowInfo {
    let parsed = row.status();
    let mut row = row.clone();
    // Dropped before anything is rendered: a status update never carries them.
    (row.inputs, row.output, row.error) = (None, None, None);
    header(row, parsed)
}

/// A finished workflow's outcome; without its output and error unless `load_output`.
pub fn outcome(row: &WorkflowRow, load_output: bool) -> pb::WorkflowOutcome {
    let parsed = row.status();
    let (output, error) = match load_output {
        true => outcome_parts(
            parsed,
            &row.serialization,
            row.output.clone(),
            row.error.clone(),
        ),
        false => (None, None),
    };
    pb::WorkflowOutcome {
        workflow_id: row.workflow_id.clone(),
        status: status(parsed) as i32,
        output,
        error,
    }
}
