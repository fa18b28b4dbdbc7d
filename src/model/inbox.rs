//! What a workflow received and wrote, as listed (not waited on): the messages sent to it
//! (`notifications`, kept after `recv` consumes them) and a summary of each stream it wrote.

use super::StoredValue;

/// Which of a workflow's messages to list, one page at a time.
#[derive(Debug, Clone)]
pub struct MessageQuery {
    pub workflow_id: String,
    /// Only this stored topic (the null topic is [`super::NULL_TOPIC`]).
    pub topic: Option<String>,
    /// Only consumed (true) or pending (false) messages.
    pub consumed: Option<bool>,
    /// After this message (created_at ms, message id), in (created_at, id) order.
    pub after: Option<(i64, String)>,
    pub limit: i64,
}

/// One message sent to a workflow.
#[derive(Debug, Clone)]
pub struct MessageRow {
    pub message_id: String,
    /// The stored topic; [`super::NULL_TOPIC`] (or NULL) for a message sent without one.
    pub topic: Option<String>,
    pub message: StoredValue,
    pub created_at_ms: i64,
    pub consumed: bool,
    pub consumed_by_function_id: Option<i32>,
}

/// A page of messages; `has_more` when another page follows.
#[derive(Debug, Clone)]
pub struct MessagePage {
    pub rows: Vec<MessageRow>,
    pub has_more: bool,
}

/// One stream of a workflow: its key, how many rows it holds, its last offset and whether the row
/// there is the close marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamKeyRow {
    pub key: String,
    /// Values a reader receives (the close marker not counted).
    pub values: i32,
    pub last_offset: i32,
    pub closed: bool,
}

/// A workflow's streams by key, at most the repository's bound; `truncated` when it wrote more.
#[derive(Debug, Clone)]
pub struct StreamKeys {
    pub keys: Vec<StreamKeyRow>,
    pub truncated: bool,
}
