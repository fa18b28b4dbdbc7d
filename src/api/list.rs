//! ListWorkflows and ListQueuedWorkflows requests → [`ListQuery`], `WorkflowFilter` → [`ListFilter`]
//! (shared with the bulk management calls), and the opaque page token.
//!
//! The token carries the last row's (created_at, workflow_id) and a fingerprint of the filter, so a
//! token is only accepted by the query that produced it.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde_json::json;

use super::{
    convert::{text, timestamp_ms},
    json::struct_to_map,
};
use crate::{
    auth::Scope,
    error::{Error, Result},
    model::{ListFilter, ListQuery, PageCursor, WorkflowStatus},
    pb,
};

const DEFAULT_PAGE_SIZE: i64 = 100;
const MAX_PAGE_SIZE: i64 = 1000;

/// Builds a [`ListFilter`] from a request that carries the ListWorkflows filter fields (they have the
/// same names and types in `ListWorkflowsRequest` and `WorkflowFilter`, so one body serves both).
macro_rules! filter_from {
    ($(#[$doc:meta])* $name:ident, $request:ty) => {
        $(#[$doc])*
        pub fn $name(req: &$request) -> Result<ListFilter> {
            let texts = |field: &str, values: &[String]| -> Result<Vec<String>> {
                values.iter().map(|v| text(field, v)).collect()
            };
            let time = |field: &str, t: &Option<prost_types::Timestamp>| {
                t.as_ref().map(|t| timestamp_ms(field, t)).transpose()
            };
            Ok(ListFilter {
                workflow_ids: texts("workflow_ids", &req.workflow_ids)?,
                statuses: req
                    .statuses
                    .iter()
                    .map(|s| status_filter(*s))
                    .collect::<Result<Vec<_>>>()?,
                names: texts("workflow_names", &req.workflow_names)?,
                created_after: time("created_after", &req.created_after)?,
                created_before: time("created_before", &req.created_before)?,
                completed_after: time("completed_after", &req.completed_after)?,
                completed_before: time("completed_before", &req.completed_before)?,
                dequeued_after: time("dequeued_after", &req.dequeued_after)?,
                dequeued_before: time("dequeued_before", &req.dequeued_before)?,
                app_versions: texts("app_versions", &req.app_versions)?,
                forked_from: texts("forked_from", &req.forked_from)?,
                parent_workflow_ids: texts("parent_workflow_ids", &req.parent_workflow_ids)?,
                authenticated_users: texts("authenticated_users", &req.authenticated_users)?,
                queue_names: texts("queue_names", &req.queue_names)?,
                executor_ids: texts("executor_ids", &req.executor_ids)?,
                id_prefixes: texts("workflow_id_prefixes", &req.workflow_id_prefixes)?,
                was_forked_from: req.was_forked_from,
                is_fork: req.is_fork,
                has_parent: req.has_parent,
                attributes: req
                    .attributes
                    .as_ref()
                    .map(|a| {
                        struct_to_map(a, "attributes")
                            .map(|m| serde_json::Value::Object(m).to_string())
                    })
                    .transpose()?,
                schedule_names: texts("schedule_names", &req.schedule_names)?,
                deduplication_ids: texts("deduplication_ids", &req.deduplication_ids)?,
                is_debounced: req.is_debounced,
                application_names: texts("application_names", &req.application_names)?,
                updated_after: None,
                queues_only: false,
                // Narrowed to the caller's token by the handler.
                scope: Default::default(),
            })
        }
    };
}

filter_from!(
    /// The filter fields of a ListWorkflows request.
    list_request_filter,
    pb::ListWorkflowsRequest
);
filter_from!(
    /// A `WorkflowFilter` (ListQueuedWorkflows, bulk management calls).
    workflow_filter,
    pb::WorkflowFilter
);

/// Applies dbosd's configured application as the DBOS clients do: when no application and no ids are named.
pub fn default_application(filter: &mut ListFilter, default_app: Option<&str>) {
    if filter.application_names.is_empty() && filter.workflow_ids.is_empty() {
        filter
            .application_names
            .extend(default_app.map(str::to_owned));
    }
}

/// The filter fields of a ListWorkflows request with dbosd's default application applied and the
/// caller's `scope` (also the filter of GetWorkflowAggregates).
pub fn list_filter(
    req: &pb::ListWorkflowsRequest,
    default_app: Option<&str>,
    scope: Scope,
) -> Result<ListFilter> {
    let mut filter = list_request_filter(req)?;
    default_application(&mut filter, default_app);
    filter.scope = scope;
    Ok(filter)
}

/// Validates a ListWorkflows request. `default_app` applies when no application and no ids are
/// named; `scope` is the caller's (part of the filter, so page tokens stay within it).
pub fn list_query(
    req: &pb::ListWorkflowsRequest,
    default_app: Option<&str>,
    scope: Scope,
) -> Result<ListQuery> {
    let filter = list_filter(req, default_app, scope)?;
    let order = Order {
        sort_desc: req.sort_desc,
        load_input: req.load_input,
        load_output: req.load_output,
    };
    paged_query(filter, order, req.page_size, &req.page_token, req.offset)
}

/// Validates a ListQueuedWorkflows request: a list query restricted to workflows on a queue.
pub fn queued_query(
    req: &pb::ListQueuedWorkflowsRequest,
    default_app: Option<&str>,
    scope: Scope,
) -> Result<ListQuery> {
    let mut filter = match &req.filter {
        Some(f) => workflow_filter(f)?,
        None => ListFilter::default(),
    };
    default_application(&mut filter, default_app);
    filter.queues_only = true;
    filter.scope = scope;
    let order = Order {
        sort_desc: req.sort_desc,
        load_input: req.load_input,
        load_output: req.load_output,
    };
    paged_query(filter, order, req.page_size, &req.page_token, req.offset)
}

/// Sort order and payload loading of a list query.
struct Order {
    sort_desc: bool,
    load_input: bool,
    load_output: bool,
}

fn paged_query(
    filter: ListFilter,
    order: Order,
    page_size: i32,
    page_token: &str,
    offset: Option<i32>,
) -> Result<ListQuery> {
    let limit = page_limit(page_size)?;
    let offset = page_offset(offset, page_token)?;
    let fingerprint = fingerprint(&filter, order.sort_desc);
    let after = if page_token.is_empty() {
        None
    } else {
        Some(decode_token(page_token, fingerprint)?)
    };
    Ok(ListQuery {
        filter,
        sort_desc: order.sort_desc,
        load_input: order.load_input,
        load_output: order.load_output,
        by_updated_at: false,
        limit,
        offset,
        after,
    })
}

/// A page size: 0 means the default; at most [`MAX_PAGE_SIZE`].
pub fn page_limit(page_size: i32) -> Result<i64> {
    match i64::from(page_size) {
        0 => Ok(DEFAULT_PAGE_SIZE),
        n if (1..=MAX_PAGE_SIZE).contains(&n) => Ok(n),
        _ => Err(Error::invalid(
            "page_size",
            format!("must be between 0 and {MAX_PAGE_SIZE} (0 means {DEFAULT_PAGE_SIZE})"),
        )),
    }
}

/// A DBOS-style offset: non-negative, and never with a page token.
pub fn page_offset(offset: Option<i32>, page_token: &str) -> Result<Option<i64>> {
    match offset {
        Some(o) if o < 0 => Err(Error::invalid("offset", "must not be negative")),
        Some(_) if !page_token.is_empty() => Err(Error::invalid(
            "offset",
            "cannot be combined with page_token",
        )),
        o => Ok(o.map(i64::from)),
    }
}

/// The token for the page after `cursor` of `query`.
pub fn encode_token(query: &ListQuery, cursor: &PageCursor) -> String {
    let body = json!({
        "c": cursor.created_at,
        "i": cursor.workflow_id,
        "f": format!("{:016x}", fingerprint(&query.filter, query.sort_desc)),
    });
    URL_SAFE_NO_PAD.encode(body.to_string())
}

fn decode_token(token: &str, fingerprint: u64) -> Result<PageCursor> {
    let bad = || Error::invalid("page_token", "is not a token returned by ListWorkflows");
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let body: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let created_at = body.get("c").and_then(|v| v.as_i64()).ok_or_else(bad)?;
    let workflow_id = body
        .get("i")
        .and_then(|v| v.as_str())
        .ok_or_else(bad)?
        .to_owned();
    let f = body.get("f").and_then(|v| v.as_str()).ok_or_else(bad)?;
    if f != format!("{fingerprint:016x}") {
        return Err(Error::invalid(
            "page_token",
            "belongs to a query with other filters or sort order; repeat the same query to page",
        ));
    }
    Ok(PageCursor {
        created_at,
        workflow_id,
    })
}

/// FNV-1a over the filter's debug form: stable for a given dbosd build and cheap.
fn fingerprint(filter: &ListFilter, sort_desc: bool) -> u64 {
    let text = format!("{filter:?}|{sort_desc}");
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

pub(super) fn status_filter(value: i32) -> Result<WorkflowStatus> {
    let status = pb::WorkflowStatus::try_from(value).ok();
    let model = match status {
        Some(pb::WorkflowStatus::Enqueued) => WorkflowStatus::Enqueued,
        Some(pb::WorkflowStatus::Delayed) => WorkflowStatus::Delayed,
        Some(pb::WorkflowStatus::Pending) => WorkflowStatus::Pending,
        Some(pb::WorkflowStatus::Success) => WorkflowStatus::Success,
        Some(pb::WorkflowStatus::Error) => WorkflowStatus::Error,
        Some(pb::WorkflowStatus::Cancelled) => WorkflowStatus::Cancelled,
        Some(pb::WorkflowStatus::MaxRecoveryAttemptsExceeded) => {
            WorkflowStatus::MaxRecoveryAttemptsExceeded
        }
        Some(pb::WorkflowStatus::Unspecified) | None => {
            return Err(Error::invalid(
                "statuses",
                format!("{value} is not a workflow status"),
            ))
        }
    };
    Ok(model)
}
