//! Output: workflows, outcomes and action results as JSON values (the proto's JSON names) and as
//! aligned tables.

use serde_json::{json, Map, Value as Json};

use crate::{
    api::convert::json::to_json,
    pb::{self, WorkflowActionOutcome, WorkflowStatus},
};

/// `WORKFLOW_STATUS_SUCCESS` -> `SUCCESS`.
/// A value this build does not know (a newer server) reads `unknown value N`.
pub fn status_name(status: i32) -> String {
    match WorkflowStatus::try_from(status) {
        Ok(s) => s
            .as_str_name()
            .trim_start_matches("WORKFLOW_STATUS_")
            .to_owned(),
        Err(_) => format!("unknown value {status}"),
    }
}

/// `WORKFLOW_ACTION_OUTCOME_CANCELLED` -> `CANCELLED`.
pub fn action_name(outcome: i32) -> String {
    match WorkflowActionOutcome::try_from(outcome) {
        Ok(o) => o
            .as_str_name()
            .trim_start_matches("WORKFLOW_ACTION_OUTCOME_")
            .to_owned(),
        Err(_) => format!("unknown value {outcome}"),
    }
}

/// A timestamp as RFC 3339 UTC (seconds precision), or null.
pub fn time(ts: &Option<prost_types::Timestamp>) -> Json {
    ts.as_ref().map_or(Json::Null, |t| {
        let secs = t.seconds;
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        json!(format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            rem / 3600,
            rem / 60 % 60,
            rem % 60
        ))
    })
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// A payload: the decoded JSON when there is one, else `{serialization, text}`.
pub fn payload(p: &Option<pb::Payload>) -> Json {
    match p {
        None => Json::Null,
        Some(p) => match p.json.as_ref().and_then(|v| to_json(v, "payload").ok()) {
            Some(v) => v,
            None => json!({"serialization": p.serialization, "text": p.text}),
        },
    }
}

/// A workflow error as JSON.
pub fn error(e: &Option<pb::WorkflowError>) -> Json {
    match e {
        None => Json::Null,
        Some(e) if e.name.is_empty() && e.message.is_empty() => payload(&e.payload),
        Some(e) => json!({"name": e.name, "message": e.message}),
    }
}

/// A workflow as a JSON object: identity, status, times, and whatever payloads were loaded.
pub fn workflow(wf: &pb::WorkflowInfo) -> Json {
    let mut m = Map::new();
    m.insert("workflowId".into(), json!(wf.workflow_id));
    m.insert("status".into(), json!(status_name(wf.status)));
    m.insert("workflowName".into(), json!(wf.workflow_name));
    m.insert("queueName".into(), json!(wf.queue_name));
    m.insert("applicationName".into(), json!(wf.application_name));
    m.insert("executorId".into(), json!(wf.executor_id));
    m.insert("recoveryAttempts".into(), json!(wf.recovery_attempts));
    m.insert("createdAt".into(), time(&wf.created_at));
    m.insert("dequeuedAt".into(), time(&wf.dequeued_at));
    m.insert("updatedAt".into(), time(&wf.updated_at));
    m.insert("completedAt".into(), time(&wf.completed_at));
    if !wf.forked_from.is_empty() {
        m.insert("forkedFrom".into(), json!(wf.forked_from));
    }
    if !wf.parent_workflow_id.is_empty() {
        m.insert("parentWorkflowId".into(), json!(wf.parent_workflow_id));
    }
    for (key, value) in [
        ("input", payload(&wf.input)),
        ("output", payload(&wf.output)),
        ("error", error(&wf.error)),
    ] {
        if !value.is_null() {
            m.insert(key.into(), value);
        }
    }
    Json::Object(m)
}

/// A management result as JSON.
pub fn action(r: &pb::WorkflowActionResult) -> Json {
    let mut v = json!({
        "workflowId": r.workflow_id,
        "outcome": action_name(r.outcome),
        "previousStatus": status_name(r.previous_status),
        "status": status_name(r.status),
    });
    if !r.forked_workflow_id.is_empty() {
        v["forkedWorkflowId"] = json!(r.forked_workflow_id);
    }
    v
}

/// A JSON value in one line for a table cell (strings without quotes).
pub fn cell(v: &Json) -> String {
    match v {
        Json::Null => String::new(),
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A JSON object as `key: value` lines; null values (an absent error, say) are left out.
pub fn fields(v: &Json) -> String {
    let Json::Object(m) = v else {
        return cell(v);
    };
    let width = m.keys().map(String::len).max().unwrap_or(0) + 1;
    m.iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| format!("{:<width$} {}", format!("{k}:"), cell(v)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A step as JSON, with its duration in milliseconds when it has both times.
pub fn step(s: &pb::StepInfo) -> Json {
    let mut m = Map::new();
    m.insert("functionId".into(), json!(s.function_id));
    m.insert("functionName".into(), json!(s.function_name));
    m.insert("startedAt".into(), time(&s.started_at));
    m.insert("completedAt".into(), time(&s.completed_at));
    m.insert(
        "durationMs".into(),
        json!(duration_ms(&s.started_at, &s.completed_at)),
    );
    if !s.child_workflow_id.is_empty() {
        m.insert("childWorkflowId".into(), json!(s.child_workflow_id));
    }
    for (key, value) in [("output", payload(&s.output)), ("error", error(&s.error))] {
        if !value.is_null() {
            m.insert(key.into(), value);
        }
    }
    Json::Object(m)
}

/// Milliseconds from `a` to `b`, when both are set.
pub fn duration_ms(
    a: &Option<prost_types::Timestamp>,
    b: &Option<prost_types::Timestamp>,
) -> Option<i64> {
    let ms = |t: &prost_types::Timestamp| t.seconds * 1000 + i64::from(t.nanos) / 1_000_000;
    Some(ms(b.as_ref()?) - ms(a.as_ref()?))
}

/// Milliseconds as a short human duration (`850ms`, `2.4s`, `3m05s`).
pub fn human_ms(ms: i64) -> String {
    match ms {
        ..1_000 => format!("{ms}ms"),
        1_000..60_000 => format!("{:.1}s", ms as f64 / 1000.0),
        _ => format!("{}m{:02}s", ms / 60_000, ms / 1000 % 60),
    }
}

/// A Duration as seconds (null when absent).
pub fn seconds(d: &Option<prost_types::Duration>) -> Json {
    d.as_ref().map_or(Json::Null, |d| {
        json!(d.seconds as f64 + f64::from(d.nanos) / 1e9)
    })
}

/// A queue as JSON.
pub fn queue(q: &pb::Queue) -> Json {
    let rate = |r: &Option<pb::RateLimit>| {
        r.as_ref().map_or(
            Json::Null,
            |r| json!({"limit": r.limit, "periodSeconds": seconds(&r.period)}),
        )
    };
    json!({
        "name": q.name,
        "concurrency": q.concurrency,
        "workerConcurrency": q.worker_concurrency,
        "rateLimit": rate(&q.rate_limit),
        "partitionConcurrency": q.partition_concurrency,
        "partitionWorkerConcurrency": q.partition_worker_concurrency,
        "partitionRateLimit": rate(&q.partition_rate_limit),
        "pollingIntervalSeconds": seconds(&q.polling_interval),
        "applicationName": q.application_name,
        "partitioned": q.partitioned,
        "createdAt": time(&q.created_at),
        "updatedAt": time(&q.updated_at),
    })
}

/// A schedule as JSON.
pub fn schedule(s: &pb::Schedule) -> Json {
    let status = match pb::ScheduleStatus::try_from(s.status) {
        Ok(x) => x
            .as_str_name()
            .trim_start_matches("SCHEDULE_STATUS_")
            .to_owned(),
        Err(_) => format!("unknown value {}", s.status),
    };
    json!({
        "scheduleName": s.schedule_name,
        "status": status,
        "workflowName": s.workflow_name,
        "workflowClassName": s.workflow_class_name,
        "cron": s.cron,
        "cronTimezone": s.cron_timezone,
        "queueName": s.queue_name,
        "automaticBackfill": s.automatic_backfill,
        "lastFiredAt": s.last_fired_at,
        "applicationName": s.application_name,
        "context": s.context.as_ref().and_then(|c| c.json.as_ref()).and_then(|v| to_json(v, "context").ok()),
    })
}

/// An application version as JSON.
pub fn version(v: &pb::ApplicationVersion) -> Json {
    json!({
        "versionName": v.version_name,
        "versionId": v.version_id,
        "applicationName": v.application_name,
        "versionTimestamp": time(&v.version_timestamp),
        "createdAt": time(&v.created_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_values_this_build_does_not_know_are_named_by_number() {
        assert_eq!(status_name(WorkflowStatus::Success as i32), "SUCCESS");
        assert_eq!(status_name(99), "unknown value 99");
        assert_eq!(action_name(77), "unknown value 77");
    }
}
