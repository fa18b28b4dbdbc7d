//! Proto ⇄ model for the workflow management RPCs: selections (ids or filter), fork options,
//! in-flight changes, and the per-workflow outcomes and steps they return.

use std::collections::HashSet;

use serde_json::Value as Json;

use crate::api::{
    convert::filter::{default_application, workflow_filter},
    convert::json::{map_to_struct, struct_to_map},
    convert::render,
    convert::{
        check_payload, duration_ms, enum_field, ms_to_timestamp, queue_name, required, timestamp_ms,
    },
};
use crate::{
    error::{Error, Result},
    model::{
        ActionOutcome, ActionResult, AttributesChange, DelayUntil, ForkSpec, ForkVersion,
        ListFilter, Selection, StepRow, StoredValue, INTERNAL_QUEUE, MAX_BULK_WORKFLOWS,
    },
    pb,
};

/// A bulk call's selection: exactly one of a non-empty id list and a filter with a condition.
pub fn selection(
    workflow_ids: &[String],
    filter: Option<&pb::WorkflowFilter>,
    default_app: Option<&str>,
) -> Result<Selection> {
    match (workflow_ids.is_empty(), filter) {
        (false, Some(_)) => Err(Error::invalid(
            "filter",
            "cannot be combined with workflow_ids; give one of them",
        )),
        (true, None) => Err(Error::invalid(
            "workflow_ids",
            "give workflow_ids or a filter",
        )),
        (false, None) => {
            if workflow_ids.len() > MAX_BULK_WORKFLOWS {
                return Err(Error::invalid(
                    "workflow_ids",
                    format!("at most {MAX_BULK_WORKFLOWS} ids per call"),
                ));
            }
            let mut seen = HashSet::new();
            let mut ids = Vec::with_capacity(workflow_ids.len());
            for id in workflow_ids {
                let id = required("workflow_ids", id)?;
                if seen.insert(id.clone()) {
                    ids.push(id);
                }
            }
            Ok(Selection::Ids(ids))
        }
        (true, Some(filter)) => {
            let mut filter = workflow_filter(filter)?;
            // A forgotten filter must not act on every workflow.
            if filter == ListFilter::default() {
                return Err(Error::invalid(
                    "filter",
                    "must set at least one condition (e.g. created_before to act on everything older)",
                ));
            }
            default_application(&mut filter, default_app);
            Ok(Selection::Filter(Box::new(filter)))
        }
    }
}

/// The queue a resume or fork enqueues onto: absent means the internal queue.
pub fn target_queue(requested: Option<&String>) -> Result<String> {
    match requested {
        None => Ok(INTERNAL_QUEUE.to_owned()),
        Some(q) => queue_name("queue_name", q),
    }
}

/// Validates the fork options of a ForkWorkflow request (a bulk fork reuses it for its options;
/// the source id is checked by the caller). `default_app` owns forks of unclaimed sources.
pub fn fork_spec(req: &pb::ForkWorkflowRequest, default_app: Option<&str>) -> Result<ForkSpec> {
    let first_step = match enum_field("step_numbering", req.step_numbering)? {
        pb::StepNumbering::Unspecified | pb::StepNumbering::FromOne => 1,
        pb::StepNumbering::FromZero => 0,
    };
    let start_step = req.start_step.unwrap_or(first_step);
    if start_step < first_step {
        return Err(Error::invalid(
            "start_step",
            format!(
                "must be at least {first_step}, the first step number (Python workers number steps \
                 from 1; set step_numbering to STEP_NUMBERING_FROM_ZERO for TypeScript and Go workers)"
            ),
        ));
    }
    let version = match (&req.app_version, req.keep_app_version) {
        (Some(_), true) => {
            return Err(Error::invalid(
                "keep_app_version",
                "cannot be combined with app_version",
            ))
        }
        (Some(v), false) => ForkVersion::Pinned(required("app_version", v)?),
        (None, true) => ForkVersion::Source,
        (None, false) => ForkVersion::Latest,
    };
    let timeout_ms = match &req.timeout {
        Some(d) => match duration_ms("timeout", d)? {
            0 => return Err(Error::invalid("timeout", "must be positive when given")),
            ms => Some(ms),
        },
        None => None,
    };
    let mut replacement_children = req
        .replacement_children
        .iter()
        .map(|(old, new)| {
            Ok((
                required("replacement_children", old)?,
                required("replacement_children", new)?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    replacement_children.sort();
    Ok(ForkSpec {
        start_step,
        first_step,
        forked_workflow_id: req
            .forked_workflow_id
            .as_ref()
            .map(|id| required("forked_workflow_id", id))
            .transpose()?,
        version,
        queue_name: target_queue(req.queue_name.as_ref())?,
        queue_partition_key: req
            .queue_partition_key
            .as_ref()
            .map(|k| required("queue_partition_key", k))
            .transpose()?,
        timeout_ms,
        replacement_children,
        default_app: default_app.map(str::to_owned),
    })
}

/// The fork options of a ForkWorkflows request, as a single-fork request without a source.
pub fn bulk_fork_options(req: &pb::ForkWorkflowsRequest) -> pb::ForkWorkflowRequest {
    pb::ForkWorkflowRequest {
        start_step: req.start_step,
        step_numbering: req.step_numbering,
        app_version: req.app_version.clone(),
        keep_app_version: req.keep_app_version,
        queue_name: req.queue_name.clone(),
        queue_partition_key: req.queue_partition_key.clone(),
        timeout: req.timeout,
        ..Default::default()
    }
}

/// The delay end of a SetWorkflowDelay request.
pub fn delay_until(req: &pb::SetWorkflowDelayRequest) -> Result<DelayUntil> {
    use pb::set_workflow_delay_request::Until;
    match &req.until {
        Some(Until::Delay(d)) => Ok(DelayUntil::FromNow(duration_ms("delay", d)?)),
        Some(Until::DelayUntil(t)) => match timestamp_ms("delay_until", t)? {
            ms if ms < 0 => Err(Error::invalid("delay_until", "must not be before 1970")),
            ms => Ok(DelayUntil::At(ms)),
        },
        None => Err(Error::invalid("delay", "give delay or delay_until")),
    }
}

/// The change of an UpdateWorkflowAttributes request; the attributes it writes are a payload of at
/// most `payload_limit` bytes.
pub fn attributes_change(
    req: &pb::UpdateWorkflowAttributesRequest,
    payload_limit: usize,
) -> Result<AttributesChange> {
    let json = req
        .attributes
        .as_ref()
        .map(|a| struct_to_map(a, "attributes").map(|m| Json::Object(m).to_string()))
        .transpose()?;
    if let Some(json) = &json {
        check_payload("attributes", "the attributes", json, payload_limit)?;
    }
    match (json, req.merge) {
        (Some(json), true) => Ok(AttributesChange::Merge(json)),
        (None, true) => Err(Error::invalid(
            "attributes",
            "is required with merge (clearing is a replace without attributes)",
        )),
        (json, false) => Ok(AttributesChange::Replace(json)),
    }
}

/// A priority: 0 to 2^31-1, lower runs first.
pub fn priority(value: i32) -> Result<i32> {
    if value < 0 {
        return Err(Error::invalid(
            "priority",
            "must be between 0 and 2147483647",
        ));
    }
    Ok(value)
}

/// The stored attributes JSON text as a Struct (absent when NULL or not an object).
pub fn attributes(json: Option<&str>) -> Option<prost_types::Struct> {
    match serde_json::from_str::<Json>(json?) {
        Ok(Json::Object(map)) => Some(map_to_struct(&map)),
        _ => None,
    }
}

/// The proto outcome of a model outcome.
pub fn outcome(o: ActionOutcome) -> pb::WorkflowActionOutcome {
    use pb::WorkflowActionOutcome as P;
    match o {
        ActionOutcome::NotFound => P::NotFound,
        ActionOutcome::AlreadyFinished => P::AlreadyFinished,
        ActionOutcome::Cancelled => P::Cancelled,
        ActionOutcome::AlreadyCancelled => P::AlreadyCancelled,
        ActionOutcome::Resumed => P::Resumed,
        ActionOutcome::StartedNow => P::StartedNow,
        ActionOutcome::Deleted => P::Deleted,
        ActionOutcome::Forked => P::Forked,
        ActionOutcome::StepOutOfRange => P::StepOutOfRange,
        ActionOutcome::Updated => P::Updated,
        ActionOutcome::WrongStatus => P::WrongStatus,
    }
}

/// One workflow's outcome as the API returns it.
pub fn action_result(r: &ActionResult) -> pb::WorkflowActionResult {
    pb::WorkflowActionResult {
        workflow_id: r.workflow_id.clone(),
        outcome: outcome(r.outcome) as i32,
        previous_status: render::status(r.previous_status) as i32,
        status: render::status(r.status) as i32,
        parent_workflow_id: r.parent_workflow_id.clone().unwrap_or_default(),
        forked_workflow_id: r.forked_workflow_id.clone().unwrap_or_default(),
    }
}

/// A step row as the API returns it: the error when one is recorded, else the output.
pub fn step_info(row: &StepRow) -> pb::StepInfo {
    let stored = |t: &Option<String>| {
        t.as_ref().map(|t| StoredValue {
            serialization: row.serialization.clone(),
            text: t.clone(),
        })
    };
    // An empty error text is Go's "no error"; decide by the error, as workflows decide by status.
    let error = stored(&row.error).filter(|e| !e.text.is_empty());
    let output = match error {
        Some(_) => None,
        None => stored(&row.output).map(|v| render::payload(&v)),
    };
    pb::StepInfo {
        function_id: row.function_id,
        function_name: row.function_name.clone(),
        output,
        error: error.map(|e| render::workflow_error(&e)),
        child_workflow_id: row.child_workflow_id.clone().unwrap_or_default(),
        started_at: row.started_at_epoch_ms.map(ms_to_timestamp),
        completed_at: row.completed_at_epoch_ms.map(ms_to_timestamp),
    }
}
