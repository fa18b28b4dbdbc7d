//! Proto → model conversion and validation: the one place that produces INVALID_ARGUMENT.

pub(crate) mod cron_check;
pub(crate) mod filter;
#[cfg(test)]
mod hostile_corpus;
#[cfg(test)]
mod hostile_input;
pub mod json;
pub(crate) mod json_value;
#[cfg(test)]
mod json_value_equiv;
pub(crate) mod page_token;
pub(crate) mod render;

use prost_types::{Duration, Timestamp};
use serde_json::{json, Map, Value as Json};

use crate::api::convert::json::{parse_text, struct_to_map, to_json};
use crate::{
    error::{Error, Result},
    model::{NewMessage, NewWorkflow, INTERNAL_QUEUE, NULL_TOPIC, PORTABLE_JSON},
    pb,
};

/// `class_name` and `config_name` are VARCHAR(255) in the DBOS schema.
const MAX_NAME_CHARS: usize = 255;
/// Longest timeout, delay or wait accepted (about 100 years would overflow nothing, but is a typo).
pub const MAX_DURATION_MS: i64 = 10 * 365 * 24 * 3600 * 1000;

/// An enum field's value. Protobuf keeps numbers it does not know (a newer client's value, or a
/// hostile one), so every enum a request carries goes through here: INVALID_ARGUMENT
/// `<field>: unknown value N`, never a silent default.
pub fn enum_field<E: TryFrom<i32>>(field: &str, value: i32) -> Result<E> {
    E::try_from(value).map_err(|_| Error::invalid(field, format!("unknown value {value}")))
}

/// A required text field: present, not blank, no NUL byte.
pub fn required(field: &str, value: &str) -> Result<String> {
    if value.trim().is_empty() {
        return Err(Error::invalid(field, "is required and must not be blank"));
    }
    text(field, value)
}

/// Any text stored in PostgreSQL: NUL bytes cannot be stored.
pub fn text(field: &str, value: &str) -> Result<String> {
    if value.contains('\0') {
        return Err(Error::invalid(field, "must not contain NUL bytes"));
    }
    Ok(value.to_owned())
}

/// A queue to enqueue onto: required, and not a reserved `_dbos_` name other than the internal queue.
pub fn queue_name(field: &str, value: &str) -> Result<String> {
    let queue = required(field, value)?;
    if queue.starts_with("_dbos_") && queue != INTERNAL_QUEUE {
        return Err(Error::invalid(
            field,
            format!("queue names starting with _dbos_ are reserved; use {INTERNAL_QUEUE} or a registered queue"),
        ));
    }
    Ok(queue)
}

/// An optional field that, when given, must be non-blank.
fn optional_nonblank(field: &str, value: Option<&String>) -> Result<Option<String>> {
    value.map(|v| required(field, v)).transpose()
}

/// An optional name where an empty string means "none" (stored as NULL, never '').
fn optional_name(field: &str, value: Option<&String>) -> Result<Option<String>> {
    match value.map(String::as_str) {
        None | Some("") => Ok(None),
        Some(v) if v.chars().count() > MAX_NAME_CHARS => Err(Error::invalid(
            field,
            format!("must be at most {MAX_NAME_CHARS} characters"),
        )),
        Some(v) => text(field, v).map(Some),
    }
}

/// A protobuf Duration as whole milliseconds, non-negative and bounded.
pub fn duration_ms(field: &str, d: &Duration) -> Result<i64> {
    if d.seconds < 0 || d.nanos < 0 || d.nanos >= 1_000_000_000 {
        return Err(Error::invalid(field, "must be a non-negative duration"));
    }
    let ms = d
        .seconds
        .checked_mul(1000)
        .and_then(|s| s.checked_add(i64::from(d.nanos / 1_000_000)))
        .filter(|ms| *ms <= MAX_DURATION_MS)
        .ok_or_else(|| Error::invalid(field, "is too long"))?;
    Ok(ms)
}

/// Earliest and latest timestamps accepted, in epoch seconds: 0001-01-01 to 9999-12-31, protobuf's
/// own Timestamp range (and PostgreSQL's), so arithmetic on them cannot overflow.
const MIN_TIMESTAMP_SECONDS: i64 = -62_135_596_800;
const MAX_TIMESTAMP_SECONDS: i64 = 253_402_300_799;

/// A protobuf Timestamp as epoch milliseconds.
pub fn timestamp_ms(field: &str, t: &Timestamp) -> Result<i64> {
    if !(0..1_000_000_000).contains(&t.nanos) {
        return Err(Error::invalid(field, "has invalid nanos"));
    }
    if !(MIN_TIMESTAMP_SECONDS..=MAX_TIMESTAMP_SECONDS).contains(&t.seconds) {
        return Err(Error::invalid(
            field,
            "is out of range (years 0001 to 9999)",
        ));
    }
    Ok(t.seconds * 1000 + i64::from(t.nanos / 1_000_000))
}

/// Epoch milliseconds as a protobuf Timestamp.
pub fn ms_to_timestamp(ms: i64) -> Timestamp {
    Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// Milliseconds as a protobuf Duration.
pub fn ms_to_duration(ms: i64) -> Duration {
    Duration {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// Validates an EnqueueWorkflow request into the row to write. `default_app` is dbosd's configured
/// application name, used when the request names none.
pub fn new_workflow(
    req: &pb::EnqueueWorkflowRequest,
    default_app: Option<&str>,
    payload_limit: usize,
) -> Result<NewWorkflow> {
    let name = required("workflow_name", &req.workflow_name)?;
    let queue_name = queue_name("queue_name", &req.queue_name)?;
    let workflow_id = match &req.workflow_id {
        Some(id) => required("workflow_id", id)?,
        None => uuid::Uuid::new_v4().to_string(),
    };
    let priority = match req.priority {
        None => 0,
        Some(p) if p >= 0 => p,
        Some(_) => {
            return Err(Error::invalid(
                "priority",
                "must be between 0 and 2147483647",
            ))
        }
    };
    let deduplication_id = optional_nonblank("deduplication_id", req.deduplication_id.as_ref())?;
    let queue_partition_key =
        optional_nonblank("queue_partition_key", req.queue_partition_key.as_ref())?;
    if deduplication_id.is_some() && queue_partition_key.is_some() {
        return Err(Error::invalid(
            "deduplication_id",
            "cannot be combined with queue_partition_key (DBOS does not deduplicate on partitioned queues)",
        ));
    }
    let timeout_ms = match &req.timeout {
        Some(d) => match duration_ms("timeout", d)? {
            0 => return Err(Error::invalid("timeout", "must be positive when given")),
            ms => Some(ms),
        },
        None => None,
    };
    let delay_ms = match &req.delay {
        Some(d) => Some(duration_ms("delay", d)?).filter(|ms| *ms > 0),
        None => None,
    };
    let roles = req
        .authenticated_roles
        .iter()
        .map(|r| text("authenticated_roles", r))
        .collect::<Result<Vec<_>>>()?;
    let application_name = match &req.application_name {
        Some(app) if app.is_empty() => None,
        Some(app) => Some(text("application_name", app)?),
        None => default_app.map(str::to_owned),
    };
    let inputs = inputs_envelope(req)?;
    check_payload("inputs", "the workflow's inputs", &inputs, payload_limit)?;
    let attributes = req
        .attributes
        .as_ref()
        .map(|a| struct_to_map(a, "attributes").map(|m| Json::Object(m).to_string()))
        .transpose()?;
    if let Some(attributes) = &attributes {
        check_payload("attributes", "the attributes", attributes, payload_limit)?;
    }
    Ok(NewWorkflow {
        workflow_id,
        name,
        queue_name,
        inputs,
        serialization: Some(PORTABLE_JSON.to_owned()),
        schedule_name: None,
        is_debounced: false,
        debounce_deadline_epoch_ms: None,
        class_name: optional_name("class_name", req.class_name.as_ref())?,
        config_name: optional_name("config_name", req.config_name.as_ref())?,
        app_version: optional_nonblank("app_version", req.app_version.as_ref())?,
        timeout_ms,
        deadline_epoch_ms: req
            .deadline
            .as_ref()
            .map(|t| timestamp_ms("deadline", t))
            .transpose()?,
        delay_ms,
        deduplication_id,
        return_existing_on_dedup: enum_field::<pb::DeduplicationPolicy>(
            "deduplication_policy",
            req.deduplication_policy,
        )? == pb::DeduplicationPolicy::ReturnExisting,
        priority,
        queue_partition_key,
        authenticated_user: req
            .authenticated_user
            .as_deref()
            .map(|u| text("authenticated_user", u))
            .transpose()?,
        authenticated_roles: (!roles.is_empty()).then(|| Json::from(roles).to_string()),
        assumed_role: req
            .assumed_role
            .as_deref()
            .map(|r| text("assumed_role", r))
            .transpose()?,
        attributes,
        application_name,
        ..NewWorkflow::default()
    })
}

/// The `portable_json` inputs envelope, `{"positionalArgs":[..],"namedArgs":{..}}`, with both keys
/// always present (what the Python client writes; TS workers read positionalArgs only).
fn inputs_envelope(req: &pb::EnqueueWorkflowRequest) -> Result<String> {
    let (positional, named) = if req.inputs_json.is_empty() {
        let positional = req
            .positional_args
            .iter()
            .map(|v| to_json(v, "positional_args"))
            .collect::<Result<Vec<_>>>()?;
        let named = match &req.named_args {
            Some(s) => struct_to_map(s, "named_args")?,
            None => Map::new(),
        };
        (positional, named)
    } else {
        if !req.positional_args.is_empty() || req.named_args.is_some() {
            return Err(Error::invalid(
                "inputs_json",
                "cannot be combined with positional_args or named_args",
            ));
        }
        parse_inputs_json(&req.inputs_json)?
    };
    Ok(json!({ "positionalArgs": positional, "namedArgs": named }).to_string())
}

/// Accepts a JSON array (positional arguments) or the DBOS envelope object.
fn parse_inputs_json(text_in: &str) -> Result<(Vec<Json>, Map<String, Json>)> {
    const FIELD: &str = "inputs_json";
    text(FIELD, text_in)?;
    match parse_text(text_in, FIELD)? {
        Json::Array(items) => Ok((items, Map::new())),
        Json::Object(mut envelope) => {
            let positional = match envelope.remove("positionalArgs") {
                None | Some(Json::Null) => Vec::new(),
                Some(Json::Array(items)) => items,
                Some(_) => return Err(Error::invalid(FIELD, "positionalArgs must be a JSON array")),
            };
            let named = match envelope.remove("namedArgs") {
                None | Some(Json::Null) => Map::new(),
                Some(Json::Object(map)) => map,
                Some(_) => return Err(Error::invalid(FIELD, "namedArgs must be a JSON object")),
            };
            if let Some(key) = envelope.keys().next() {
                return Err(Error::invalid(
                    FIELD,
                    format!("unexpected key {key:?}; expected positionalArgs and namedArgs"),
                ));
            }
            Ok((positional, named))
        }
        _ => Err(Error::invalid(
            FIELD,
            "must be a JSON array of positional arguments or an object {\"positionalArgs\":[..],\"namedArgs\":{..}}",
        )),
    }
}

/// A payload about to be written, as stored: at most `limit` bytes, so that reading it back (its text
/// and its decoded JSON, beside the rest of the row) fits a response.
pub fn check_payload(field: &str, what: &str, stored: &str, limit: usize) -> Result<()> {
    if stored.len() > limit {
        return Err(Error::invalid(
            field,
            format!(
                "{what} are {} bytes as stored; the limit is {limit} (--max-payload-bytes)",
                stored.len()
            ),
        ));
    }
    Ok(())
}

/// Validates a SendMessage request. The message id follows DBOS: `<key>::<destination>` or a UUID.
pub fn new_message(req: &pb::SendMessageRequest, payload_limit: usize) -> Result<NewMessage> {
    let destination_id = required("destination_id", &req.destination_id)?;
    let topic = match &req.topic {
        Some(t) => text("topic", t)?,
        None => NULL_TOPIC.to_owned(),
    };
    let message = match (&req.message, req.message_json.is_empty()) {
        (Some(_), false) => {
            return Err(Error::invalid(
                "message_json",
                "cannot be combined with message",
            ));
        }
        (Some(v), true) => to_json(v, "message")?.to_string(),
        (None, false) => {
            text("message_json", &req.message_json)?;
            parse_text(&req.message_json, "message_json")?.to_string()
        }
        (None, true) => return Err(Error::invalid("message", "is required (or message_json)")),
    };
    check_payload("message", "the message's contents", &message, payload_limit)?;
    let idempotency_key = req
        .idempotency_key
        .as_deref()
        .map(|key| required("idempotency_key", key))
        .transpose()?;
    let message_id = match &idempotency_key {
        Some(key) => format!("{key}::{destination_id}"),
        None => uuid::Uuid::new_v4().to_string(),
    };
    Ok(NewMessage {
        destination_id,
        topic,
        message,
        message_id,
        idempotency_key,
    })
}
