//! ListWorkflows and ListQueuedWorkflows requests → [`ListQuery`]: their `filter` (converted by
//! [`crate::api::convert::filter`]) with paging, sort order and payload loading; and the opaque page token.
//!
//! The token carries the last row's (created_at, workflow_id) and a fingerprint of the filter, so a
//! token is only accepted by the query that produced it.

use crate::api::{
    convert::filter::read_filter,
    convert::page_token::{self, ListPage},
};
use crate::{
    error::{Error, Result},
    model::Scope,
    model::{ListFilter, ListQuery, PageCursor},
    pb,
};

const DEFAULT_PAGE_SIZE: i64 = 100;
const MAX_PAGE_SIZE: i64 = 1000;

/// Validates a ListWorkflows request. `default_app` applies when no application and no ids are
/// named; `scope` is the caller's (part of the filter, so page tokens stay within it).
pub fn list_query(
    req: &pb::ListWorkflowsRequest,
    default_app: Option<&str>,
    scope: Scope,
) -> Result<ListQuery> {
    let filter = read_filter(req.filter.as_ref(), default_app, scope)?;
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
    let mut filter = read_filter(req.filter.as_ref(), default_app, scope)?;
    filter.queues_only = true;
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
    page_token::encode(&ListPage {
        c: cursor.created_at,
        i: cursor.workflow_id.clone(),
        f: format!("{:016x}", fingerprint(&query.filter, query.sort_desc)),
    })
}

fn decode_token(token: &str, fingerprint: u64) -> Result<PageCursor> {
    let page: ListPage = page_token::decode(
        "page_token",
        token,
        "is not a token returned by ListWorkflows",
    )?;
    if page.f != format!("{fingerprint:016x}") {
        return Err(Error::invalid(
            "page_token",
            "belongs to a query with other filters or sort order; repeat the same query to page",
        ));
    }
    Ok(PageCursor {
        created_at: page.c,
        workflow_id: page.i,
    })
}

/// FNV-1a over the filter's debug form: stable for a given dbosd build and cheap.
fn fingerprint(filter: &ListFilter, sort_desc: bool) -> u64 {
    let text = format!("{filter:?}|{sort_desc}");
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
