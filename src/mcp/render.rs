//! Replies of the gRPC API as the JSON the tools return: only the fields that are set, statuses by
//! their short names (`SUCCESS`), times in RFC 3339, and payloads decoded by their serialization
//! (`portable_json` parsed; `py_pickle` and `js_superjson` decoded by dbosd's checked native
//! readers, which never run anything) and cut with a marker past a bound (`bounds`).

use chrono::{DateTime, FixedOffset, Utc};
use serde_json::{json, Map, Value as Json};

use super::bounds;
use crate::{
    native::{self, Allowlist, Typed},
    pb,
};

/// A workflow's summary: what an agent scans a list for.
pub fn workflow_summary(w: &pb::WorkflowInfo) -> Json {
    let mut out = Map::new();
    put_str(&mut out, "workflow_id", &w.workflow_id);
    out.insert("status".into(), json!(status_name(w.status)));
    put_str(&mut out, "workflow_name", &w.workflow_name);
    put_str(&mut out, "queue_name", &w.queue_name);
    put_str(&mut out, "application_name", &w.application_name);
    put_str(&mut out, "app_version", &w.app_version);
    put_str(&mut out, "executor_id", &w.executor_id);
    put_time(&mut out, "created_at", &w.created_at);
    put_time(&mut out, "updated_at", &w.updated_at);
    put_time(&mut out, "completed_at", &w.completed_at);
    put_str(&mut out, "parent_workflow_id", &w.parent_workflow_id);
    put_str(&mut out, "forked_from", &w.forked_from);
    if let Some(e) = &w.error {
        if !e.message.is_empty() || !e.name.is_empty() {
            let short = format!("{}: {}", e.name, e.message);
            out.insert("error".into(), json!(bounds::cut(&short, 512)));
        }
    }
    Json::Object(out)
}

/// Every field of a workflow that is set; payloads (when loaded) cut at `payload_max` bytes each.
pub fn workflow_full(w: &pb::WorkflowInfo, payload_max: usize) -> Json {
    let Json::Object(mut out) = workflow_summary(w) else {
        unreachable!("a summary is an object")
    };
    out.remove("error");
    put_str(&mut out, "class_name", &w.class_name);
    put_str(&mut out, "config_name", &w.config_name);
    put_str(&mut out, "app_id", &w.app_id);
    put_str(&mut out, "authenticated_user", &w.authenticated_user);
    put_str(&mut out, "assumed_role", &w.assumed_role);
    if !w.authenticated_roles.is_empty() {
        out.insert("authenticated_roles".into(), json!(w.authenticated_roles));
    }
    put_str(&mut out, "serialization", &w.serialization);
    if w.recovery_attempts > 0 {
        out.insert("recovery_attempts".into(), json!(w.recovery_attempts));
    }
    if w.priority != 0 {
        out.insert("priority".into(), json!(w.priority));
    }
    put_str(&mut out, "deduplication_id", &w.deduplication_id);
    put_str(&mut out, "queue_partition_key", &w.queue_partition_key);
    if let Some(t) = &w.timeout {
        out.insert(
            "timeout_seconds".into(),
            json!(t.seconds as f64 + f64::from(t.nanos) / 1e9),
        );
    }
    put_time(&mut out, "deadline", &w.deadline);
    put_time(&mut out, "dequeued_at", &w.dequeued_at);
    put_time(&mut out, "delay_until", &w.delay_until);
    if w.was_forked_from {
        out.insert("was_forked_from".into(), json!(true));
    }
    put_str(&mut out, "schedule_name", &w.schedule_name);
    if let Some(attributes) = &w.attributes {
        if !attributes.fields.is_empty() {
            if let Ok(map) = crate::api::json::struct_to_map(attributes, "attributes") {
                out.insert("attributes".into(), Json::Object(map));
            }
        }
    }
    if w.is_debounced {
        out.insert("is_debounced".into(), json!(true));
    }
    if let Some(p) = &w.input {
        out.insert("input".into(), payload(p, payload_max));
    }
    if let Some(p) = &w.output {
        out.insert("output".into(), payload(p, payload_max));
    }
    if let Some(e) = &w.error {
        out.insert("error".into(), error(e, payload_max));
    }
    Json::Object(out)
}

/// A workflow's error: name, message, code, and the stored error decoded as a payload.
pub fn error(e: &pb::WorkflowError, payload_max: usize) -> Json {
    let mut out = Map::new();
    put_str(&mut out, "name", &e.name);
    if !e.message.is_empty() {
        out.insert(
            "message".into(),
            json!(bounds::cut(&e.message, payload_max)),
        );
    }
    if let Some(code) = e.code.as_ref().and_then(value) {
        out.insert("code".into(), code);
    }
    if let Some(p) = &e.payload {
        out.insert("stored".into(), payload(p, payload_max));
    }
    Json::Object(out)
}

/// A stored value decoded by its serialization, as `value` (whole) or `value_truncated` (its JSON
/// text cut with the marker); `text` (cut likewise) when it cannot be decoded.
pub fn payload(p: &pb::Payload, max: usize) -> Json {
    let mut out = Map::new();
    let serialization = if p.serialization.is_empty() {
        "native (no serialization recorded)"
    } else {
        p.serialization.as_str()
    };
    out.insert("serialization".into(), json!(serialization));
    match decode(p) {
        Some((decoded, how)) => {
            if let Some(how) = how {
                out.insert("decoded_from".into(), json!(how));
            }
            let text = decoded.to_string();
            if text.len() <= max {
                out.insert("value".into(), decoded);
            } else {
                out.insert("value_truncated".into(), json!(bounds::cut(&text, max)));
            }
        }
        None => {
            out.insert("text".into(), json!(bounds::cut(&p.text, max)));
        }
    }
    Json::Object(out)
}

/// The value of a payload, and for a native one the format it was decoded from.
fn decode(p: &pb::Payload) -> Option<(Json, Option<&'static str>)> {
    if p.serialization == "portable_json" {
        return serde_json::from_str(&p.text).ok().map(|v| (v, None));
    }
    if !matches!(p.serialization.as_str(), "" | "py_pickle" | "js_superjson") {
        return None;
    }
    let language = native::detect(&p.text)?;
    let typed = native::decode_typed(language, &p.text, &Allowlist::default())?;
    let how = match language {
        native::Language::Python => "Python pickle (read by dbosd's checked reader)",
        native::Language::TypeScript => "superjson (read by dbosd's checked reader)",
    };
    Some((typed_json(&typed), Some(how)))
}

/// A typed value as JSON; what JSON lacks is written as text (times RFC 3339, decimals, UUIDs) or
/// tagged (`{"bytes_base64": ...}`).
fn typed_json(t: &Typed) -> Json {
    use base64::Engine;
    match t {
        Typed::Null => Json::Null,
        Typed::Bool(b) => json!(b),
        Typed::Int(i) => json!(i),
        Typed::Float(f) => serde_json::Number::from_f64(*f)
            .map(Json::Number)
            .unwrap_or_else(|| json!(f.to_string())),
        Typed::Str(s) => json!(s),
        Typed::Bytes(b) => {
            json!({ "bytes_base64": base64::engine::general_purpose::STANDARD.encode(b) })
        }
        Typed::Timestamp {
            micros,
            offset_seconds,
        } => {
            let at = DateTime::<Utc>::from_timestamp_micros(*micros);
            let offset = FixedOffset::east_opt(*offset_seconds);
            match (at, offset) {
                (Some(at), Some(offset)) => json!(at.with_timezone(&offset).to_rfc3339()),
                _ => json!(format!("{micros} µs since the epoch")),
            }
        }
        Typed::Date(d) => json!(d.to_string()),
        Typed::Decimal(d) => json!(d),
        Typed::Uuid(u) => json!(u.to_string()),
        Typed::List(items) => Json::Array(items.iter().map(typed_json).collect()),
        Typed::Map(entries) => Json::Object(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), typed_json(v)))
                .collect(),
        ),
    }
}

/// One recorded step, its output or error cut at `payload_max`.
pub fn step(s: &pb::StepInfo, payload_max: usize) -> Json {
    let mut out = Map::new();
    out.insert("step".into(), json!(s.function_id));
    put_str(&mut out, "name", &s.function_name);
    put_str(&mut out, "child_workflow_id", &s.child_workflow_id);
    put_time(&mut out, "started_at", &s.started_at);
    put_time(&mut out, "completed_at", &s.completed_at);
    if let Some(p) = &s.output {
        out.insert("output".into(), payload(p, payload_max));
    }
    if let Some(e) = &s.error {
        out.insert("error".into(), error(e, payload_max));
    }
    Json::Object(out)
}

/// A registered queue.
pub fn queue(q: &pb::Queue) -> Json {
    let mut out = Map::new();
    put_str(&mut out, "name", &q.name);
    put_str(&mut out, "application_name", &q.application_name);
    let limits = [
        ("concurrency", q.concurrency),
        ("worker_concurrency", q.worker_concurrency),
        ("partition_concurrency", q.partition_concurrency),
        (
            "partition_worker_concurrency",
            q.partition_worker_concurrency,
        ),
    ];
    for (name, limit) in limits {
        if let Some(n) = limit {
            out.insert(name.into(), json!(n));
        }
    }
    for (name, rate) in [
        ("rate_limit", &q.rate_limit),
        ("partition_rate_limit", &q.partition_rate_limit),
    ] {
        if let Some(r) = rate {
            let period = r.period.as_ref().map_or(0.0, |p| p.seconds as f64);
            out.insert(
                name.into(),
                json!({"limit": r.limit, "period_seconds": period}),
            );
        }
    }
    if let Some(p) = &q.polling_interval {
        let seconds = p.seconds as f64 + f64::from(p.nanos) / 1e9;
        out.insert("polling_interval_seconds".into(), json!(seconds));
    }
    if q.partitioned {
        out.insert("partitioned".into(), json!(true));
    }
    put_time(&mut out, "created_at", &q.created_at);
    put_time(&mut out, "updated_at", &q.updated_at);
    Json::Object(out)
}

/// A schedule, its context as JSON when dbosd can decode it, else its stored text (cut).
pub fn schedule(s: &pb::Schedule) -> Json {
    let mut out = Map::new();
    put_str(&mut out, "schedule_name", &s.schedule_name);
    put_str(&mut out, "workflow_name", &s.workflow_name);
    put_str(&mut out, "workflow_class_name", &s.workflow_class_name);
    put_str(&mut out, "cron", &s.cron);
    put_str(&mut out, "cron_timezone", &s.cron_timezone);
    let status = pb::ScheduleStatus::try_from(s.status)
        .map(|st| st.as_str_name().trim_start_matches("SCHEDULE_STATUS_"))
        .unwrap_or("UNKNOWN");
    out.insert("status".into(), json!(status));
    put_str(&mut out, "queue_name", &s.queue_name);
    put_str(&mut out, "application_name", &s.application_name);
    put_str(&mut out, "last_fired_at", &s.last_fired_at);
    if s.automatic_backfill {
        out.insert("automatic_backfill".into(), json!(true));
    }
    if let Some(c) = &s.context {
        let language = pb::WorkerLanguage::try_from(c.language)
            .map(|l| l.as_str_name().trim_start_matches("WORKER_LANGUAGE_"))
            .unwrap_or("UNSPECIFIED");
        let context = match c.json.as_ref().and_then(value) {
            Some(v) if v.to_string().len() <= bounds::ITEM_PAYLOAD_BYTES => {
                json!({"language": language, "value": v})
            }
            _ => {
                json!({"language": language, "text": bounds::cut(&c.text, bounds::ITEM_PAYLOAD_BYTES)})
            }
        };
        out.insert("context".into(), context);
    }
    Json::Object(out)
}

/// A protobuf Value as JSON (None if it is not valid JSON, e.g. NaN).
pub fn value(v: &prost_types::Value) -> Option<Json> {
    crate::api::json::to_json(v, "value").ok()
}

/// A status's short name: `SUCCESS` for WORKFLOW_STATUS_SUCCESS.
pub fn status_name(status: i32) -> &'static str {
    pb::WorkflowStatus::try_from(status)
        .map(|s| s.as_str_name().trim_start_matches("WORKFLOW_STATUS_"))
        .unwrap_or("UNKNOWN")
}

/// A protobuf timestamp in RFC 3339 (UTC).
pub fn time(t: &prost_types::Timestamp) -> Option<String> {
    DateTime::<Utc>::from_timestamp(t.seconds, t.nanos.max(0) as u32)
        .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// A message sent to a workflow: its topic (absent: none), when, whether a `recv` took it and at
/// which step, and its value bounded at `payload_max`.
pub fn message(m: &pb::WorkflowMessage, payload_max: usize) -> Json {
    let mut out = Map::new();
    out.insert("message_id".into(), json!(m.message_id));
    if let Some(topic) = &m.topic {
        out.insert("topic".into(), json!(topic));
    }
    put_time(&mut out, "sent_at", &m.created_at);
    out.insert("consumed".into(), json!(m.consumed));
    if let Some(step) = m.consumed_by_step {
        out.insert("consumed_by_step".into(), json!(step));
    }
    if let Some(p) = &m.message {
        out.insert("message".into(), payload(p, payload_max));
    }
    Json::Object(out)
}

fn put_str(out: &mut Map<String, Json>, key: &str, value: &str) {
    if !value.is_empty() {
        out.insert(key.into(), json!(value));
    }
}

fn put_time(out: &mut Map<String, Json>, key: &str, value: &Option<prost_types::Timestamp>) {
    if let Some(text) = value.as_ref().and_then(time) {
        out.insert(key.into(), json!(text));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(serialization: &str, text: &str) -> pb::Payload {
        pb::Payload {
            serialization: serialization.into(),
            text: text.into(),
            json: None,
        }
    }

    #[test]
    fn payloads_are_decoded_by_their_serialization_and_cut_with_a_marker() {
        let portable = payload(&p("portable_json", r#"{"a":[1,2]}"#), 100);
        assert_eq!(portable["value"], json!({"a": [1, 2]}));
        let superjson = r#"{"json":[1,"x"],"__dbos_serializer":"superjson"}"#;
        let decoded = payload(&p("js_superjson", superjson), 100);
        assert_eq!(decoded["value"], json!([1, "x"]), "{decoded}");
        assert!(decoded["decoded_from"]
            .as_str()
            .unwrap()
            .contains("superjson"));
        let long = format!("\"{}\"", "y".repeat(500));
        let cut = payload(&p("portable_json", &long), 100);
        let shown = cut["value_truncated"].as_str().unwrap();
        assert!(
            shown.ends_with("[cut by dbosd: 100 of 502 bytes shown]"),
            "{shown}"
        );
        let unknown = payload(&p("custom_format", "opaque"), 100);
        assert_eq!(unknown["text"], "opaque");
    }

    #[test]
    fn statuses_and_times_read_as_people_write_them() {
        assert_eq!(status_name(pb::WorkflowStatus::Success as i32), "SUCCESS");
        assert_eq!(status_name(99), "UNKNOWN");
        let t = prost_types::Timestamp {
            seconds: 1_767_225_600,
            nanos: 5_000_000,
        };
        assert_eq!(time(&t).unwrap(), "2026-01-01T00:00:00.005Z");
    }
}
