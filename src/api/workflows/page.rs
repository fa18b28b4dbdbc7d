//! A ListWorkflows / ListQueuedWorkflows page, built row by row as PostgreSQL sends it and kept
//! within one response (`--max-message-bytes`).
//!
//! Each row is converted as it arrives and its text moves into the response (nothing is collected
//! first, nothing copied), so a page never holds its rows twice. A page whose workflows with their
//! payloads would not fit one response ends early, at the last workflow that fits, with a
//! `next_page_token` continuing from the first that did not: the caller pages on, and dbosd never
//! builds a response it would then refuse to send (a page of 1,000 workflows with 1 MiB outputs was
//! gigabytes of memory before the message limit turned it down). Only a workflow too large for a
//! response on its own is RESOURCE_EXHAUSTED, naming the flags that leave its payloads out.

use prost::{encoding::encoded_len_varint, Message};

use crate::api::{convert::render, workflows::list, WorkflowApi};
use crate::repo::workflows::list::Take;
use crate::{
    error::{Error, Result},
    model::{ListQuery, WorkflowRow},
    pb,
};

/// Room kept for the rest of a response: its `next_page_token`, at most a small fixed part and a
/// few bytes per byte of the workflow id it carries, and framing.
const TOKEN_ROOM: usize = 1024;
const TOKEN_BYTES_PER_ID_BYTE: usize = 8;

/// The workflows of one page and the token of the next page ('' on the last).
pub(crate) struct Page {
    pub workflows: Vec<pb::WorkflowInfo>,
    pub next_page_token: String,
}

impl WorkflowApi {
    /// Lists the page `query` asks for, at most what fits one response.
    pub(in crate::api) async fn list_page(&self, query: &ListQuery) -> Result<Page> {
        let mut fill = Fill {
            workflows: Vec::with_capacity(usize::try_from(query.limit).unwrap_or(0).min(1000)),
            bytes: 0,
            limit: self.response_limit,
        };
        let next = self
            .repo
            .list_workflows_each(query, |row| fill.take(row))
            .await?;
        Ok(Page {
            workflows: fill.workflows,
            next_page_token: next
                .map(|cursor| list::encode_token(query, &cursor))
                .unwrap_or_default(),
        })
    }
}

/// A page being filled, and the encoded bytes it has taken.
struct Fill {
    workflows: Vec<pb::WorkflowInfo>,
    bytes: usize,
    limit: usize,
}

impl Fill {
    fn take(&mut self, row: WorkflowRow) -> Result<Take> {
        let info = render::into_workflow_info(row);
        // As a `repeated` field entry: tag, length, message.
        let len = info.encoded_len();
        let entry = 1 + encoded_len_varint(len as u64) + len;
        let room = TOKEN_ROOM + TOKEN_BYTES_PER_ID_BYTE * info.workflow_id.len();
        if self.bytes + entry + room <= self.limit {
            self.bytes += entry;
            self.workflows.push(info);
            return Ok(Take::More);
        }
        if !self.workflows.is_empty() {
            return Ok(Take::Stop);
        }
        Err(Error::ResourceExhausted(format!(
            "workflow {} is {len} bytes with its payloads, more than one response may hold \
             ({} bytes; --max-message-bytes): set load_input / load_output = false to list it \
             without them",
            info.workflow_id, self.limit
        )))
    }
}
