//! ListWorkflowMessages and ListStreamKeys: what a workflow was sent and what it wrote, listed
//! rather than waited on (the waits are GetEvent, WatchEvent and ReadStream).
//!
//! A messages page token carries the workflow id and the last message's (sent at, id), so it pages
//! exactly in the order `recv` consumes and is refused for another workflow.

use crate::api::{
    convert,
    convert::page_token::{self, MessagesPage},
    convert::render,
    workflows::list,
    WorkflowApi,
};
use crate::{
    error::{Error, Result},
    model::{MessageQuery, MessageRow, NULL_TOPIC},
    pb,
};

impl WorkflowApi {
    pub(super) async fn list_messages(
        &self,
        req: &pb::ListWorkflowMessagesRequest,
    ) -> Result<pb::ListWorkflowMessagesResponse> {
        let workflow_id = convert::required("workflow_id", &req.workflow_id)?;
        let after = match req.page_token.as_str() {
            "" => None,
            token => Some(decode_token(token, &workflow_id)?),
        };
        let query = MessageQuery {
            limit: list::page_limit(req.page_size)?,
            // The empty topic is the one DBOS stores for messages sent without a topic.
            topic: req.topic.as_ref().map(|t| match t.as_str() {
                "" => NULL_TOPIC.to_owned(),
                t => t.to_owned(),
            }),
            consumed: req.consumed,
            after,
            workflow_id,
        };
        let page = self
            .repo
            .list_messages(&query, self.scope())
            .await?
            .ok_or_else(|| missing(&query.workflow_id))?;
        let next_page_token = match (page.has_more, page.rows.last()) {
            (true, Some(last)) => page_token::encode(&MessagesPage {
                w: query.workflow_id.clone(),
                c: last.created_at_ms,
                i: last.message_id.clone(),
            }),
            _ => String::new(),
        };
        Ok(pb::ListWorkflowMessagesResponse {
            messages: page.rows.iter().map(message).collect(),
            next_page_token,
        })
    }

    pub(super) async fn list_stream_keys(
        &self,
        req: &pb::ListStreamKeysRequest,
    ) -> Result<pb::ListStreamKeysResponse> {
        let workflow_id = convert::required("workflow_id", &req.workflow_id)?;
        let streams = self
            .repo
            .list_stream_keys(&workflow_id, self.scope())
            .await?
            .ok_or_else(|| missing(&workflow_id))?;
        Ok(pb::ListStreamKeysResponse {
            keys: streams
                .keys
                .into_iter()
                .map(|k| pb::StreamKey {
                    key: k.key,
                    value_count: k.values,
                    closed: k.closed,
                    last_offset: k.last_offset,
                })
                .collect(),
            truncated: streams.truncated,
        })
    }
}

/// The answer for a workflow that is not there, or outside the caller's scope (the same words
/// GetWorkflowEvents and ListWorkflowSteps use).
fn missing(workflow_id: &str) -> Error {
    Error::NotFound(format!("workflow {workflow_id} does not exist"))
}

/// A message as the API returns it: its payload rendered as GetEvent renders values.
fn message(row: &MessageRow) -> pb::WorkflowMessage {
    pb::WorkflowMessage {
        message_id: row.message_id.clone(),
        topic: row.topic.clone().filter(|t| t != NULL_TOPIC),
        message: Some(render::payload(&row.message)),
        created_at: Some(convert::ms_to_timestamp(row.created_at_ms)),
        consumed: row.consumed,
        consumed_by_step: row.consumed_by_function_id,
    }
}

fn decode_token(token: &str, workflow_id: &str) -> Result<(i64, String)> {
    let page: MessagesPage =
        page_token::decode("page_token", token, "is not a token this RPC returned")?;
    if page.w != workflow_id {
        return Err(Error::invalid(
            "page_token",
            "belongs to another workflow's messages",
        ));
    }
    Ok((page.c, page.i))
}
