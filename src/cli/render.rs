//! Output: workflows, outcomes and action results as JSON values (the proto's JSON names) and as
//! aligned tables.

use serde_json::{json, Map, Value as Json};

use crate::{
    api::convert::json::to_json,
    pb::{self, WorkflowActionOutcome, WorkflowStatus},
};

/// `WORKFLOW_STATUS_SUCCESS` -> `SUCCESS`.
pub fn status_name(status: i32) -> String {
    let name = WorkflowStatus::try_from(status).map_or("UNKNOWN", |s| s.as_str_name());
    name.trim_start_matches("WORKFLOW_STATUS_").to_owned()
}

/// `WORKFLOW_ACTION_OUTCOME_CANCELLED` -> `CANCELLED`.
pub fn action_name(outcome: i32) -> String {
    let name = WorkflowActionOutcome::try_from(outcome).map_or("UNKNOWN", |s| s.as_str_name());
    name.trim_start_matches("WORKFLOW_ACTION_OUTCOME_")
        .to_owned()
}

/// A timestamp as RFC 3339 UTC (seconds precision), or null.
fn time(ts: &Option<prost_types::Timestamp>) -> Json {
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

/// Rows as aligned columns under a header.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_owned()
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push('\n');
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// A JSON object as `key: value` lines.
pub fn fields(v: &Json) -> String {
    let Json::Object(m) = v else {
        return cell(v);
    };
    let width = m.keys().map(String::len).max().unwrap_or(0) + 1;
    m.iter()
        .map(|(k, v)| format!("{:<width$} {}", format!("{k}:"), cell(v)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Prints `v` pretty as JSON.
pub fn print_json(v: &Json) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    );
}
