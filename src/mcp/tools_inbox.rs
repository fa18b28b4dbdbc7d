//! The tools over what a workflow was sent and wrote: `list_messages` (one bounded page of the
//! messages sent to it) and `list_stream_keys` (its streams by key, to read with `read_stream`).

use rmcp::{
    handler::server::wrapper::Parameters,
    model::CallToolResult,
    schemars::{self, JsonSchema},
    service::RequestContext,
    tool, tool_router, ErrorData, RoleServer,
};
use serde::Deserialize;
use serde_json::{json, Value as Json};

use super::{
    bounds::{self, ITEM_PAYLOAD_BYTES},
    params::bounded,
    render,
    tools_read::WorkflowIdParams,
    DbosdMcp,
};
use crate::pb;

/// Arguments of `list_messages`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListMessagesParams {
    /// The workflow the messages were sent to.
    pub workflow_id: String,
    /// Only messages sent with this topic; the empty string: only those sent without a topic.
    pub topic: Option<String>,
    /// Only messages already received (true) or still waiting for a recv (false).
    pub consumed: Option<bool>,
    /// Messages per page, 1 to 100 (default 50).
    pub page_size: Option<u32>,
    /// The next_page_token of the previous page, to continue the same listing.
    pub page_token: Option<String>,
}

#[tool_router(router = inbox_tools, vis = "pub(super)")]
impl DbosdMcp {
    #[tool(
        description = "List the messages sent to a DBOS workflow (send/recv), oldest first: topic, \
        time sent, whether a recv already received it (consumed, with the receiving step) or it is \
        still pending, and the message decoded by its serialization (cut at 2 KiB). One bounded page \
        at a time; continue with next_page_token while it is present.",
        annotations(read_only_hint = true)
    )]
    async fn list_messages(
        &self,
        Parameters(p): Parameters<ListMessagesParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let mut page_size = arg!(bounded("page_size", p.page_size, 50, 100));
        loop {
            let request = pb::ListWorkflowMessagesRequest {
                workflow_id: p.workflow_id.clone(),
                topic: p.topic.clone(),
                consumed: p.consumed,
                page_size: page_size as i32,
                page_token: p.page_token.clone().unwrap_or_default(),
            };
            let reply = grpc!(self
                .api
                .client()
                .list_workflow_messages(self.api.request(&ctx, request)));
            let items: Vec<Json> = reply
                .messages
                .iter()
                .map(|m| render::message(m, ITEM_PAYLOAD_BYTES))
                .collect();
            // A page too big for one result is asked again smaller, so the token stays exact.
            if let Some(smaller) = bounds::smaller_page(&items, page_size) {
                page_size = smaller;
                continue;
            }
            let mut out = json!({"count": items.len(), "messages": items});
            if !reply.next_page_token.is_empty() {
                out["next_page_token"] = json!(reply.next_page_token);
            }
            return Ok(bounds::result(&out));
        }
    }

    #[tool(
        description = "List the streams a DBOS workflow wrote (write_stream), by key: how many values \
        each holds, its last offset and whether the workflow closed it. Read a stream's values with \
        read_stream.",
        annotations(read_only_hint = true)
    )]
    async fn list_stream_keys(
        &self,
        Parameters(p): Parameters<WorkflowIdParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let request = pb::ListStreamKeysRequest {
            workflow_id: p.workflow_id,
        };
        let reply = grpc!(self
            .api
            .client()
            .list_stream_keys(self.api.request(&ctx, request)));
        let mut keys: Vec<Json> = reply
            .keys
            .iter()
            .map(|k| {
                json!({"key": k.key, "values": k.value_count, "last_offset": k.last_offset,
                       "closed": k.closed})
            })
            .collect();
        // Keys are the workflow's to name: as many as fit in one result, saying when cut.
        let fit = bounds::fitting(&keys);
        let truncated = reply.truncated || fit < keys.len();
        keys.truncate(fit);
        Ok(bounds::result(
            &json!({"keys": keys, "truncated": truncated}),
        ))
    }
}
