//! Domain types shared by the API and repository layers: workflow rows, new workflows, list filters.
//!
//! Nothing here knows about protobuf or SQL; `api::convert` maps protos to these, `repo` maps rows to them.

mod aggregates;
mod batch;
pub mod export;
mod inbox;
pub mod job;
mod manage;
mod registry;
mod schedule;
mod scope;
mod watch;

pub use self::{aggregates::*, batch::*, inbox::*, manage::*, registry::*, schedule::*};
pub use watch::{json_contains, WatchFilter};

pub use self::scope::Scope;

/// The serialization dbosd writes: the cross-language JSON format every DBOS worker reads.
pub const PORTABLE_JSON: &str = "portable_json";

/// The queue every DBOS worker polls, with no limits.
pub const INTERNAL_QUEUE: &str = "_dbos_internal_queue";

/// The topic DBOS stores for messages sent without one.
pub const NULL_TOPIC: &str = "__null__topic__";

/// A workflow status as stored in `workflow_status.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkflowStatus {
    Enqueued,
    Delayed,
    Pending,
    Success,
    Error,
    Cancelled,
    MaxRecoveryAttemptsExceeded,
}

impl WorkflowStatus {
    /// Every status, in proto order.
    pub const ALL: [WorkflowStatus; 7] = [
        WorkflowStatus::Enqueued,
        WorkflowStatus::Delayed,
        WorkflowStatus::Pending,
        WorkflowStatus::Success,
        WorkflowStatus::Error,
        WorkflowStatus::Cancelled,
        WorkflowStatus::MaxRecoveryAttemptsExceeded,
    ];

    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkflowStatus::Enqueued => "ENQUEUED",
            WorkflowStatus::Delayed => "DELAYED",
            WorkflowStatus::Pending => "PENDING",
            WorkflowStatus::Success => "SUCCESS",
            WorkflowStatus::Error => "ERROR",
            WorkflowStatus::Cancelled => "CANCELLED",
            WorkflowStatus::MaxRecoveryAttemptsExceeded => "MAX_RECOVERY_ATTEMPTS_EXCEEDED",
        }
    }

    /// Parses the stored text; `None` for a value no DBOS version writes.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Terminal statuses never change on their own (only cancel, resume or fork move them).
    pub fn is_terminal(self) -> bool {
        !matches!(
            self,
            WorkflowStatus::Enqueued | WorkflowStatus::Delayed | WorkflowStatus::Pending
        )
    }
}

/// A serialized value as stored: its serialization name (None = the writer's native format) and text.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredValue {
    pub serialization: Option<String>,
    pub text: String,
}

/// One `workflow_status` row joined with its payload rows. It also deserializes from the
/// `row_to_json` of a status SELECT (the hub's change feed).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct WorkflowRow {
    #[serde(alias = "workflow_uuid")]
    pub workflow_id: String,
    pub status: Option<String>,
    pub name: Option<String>,
    pub class_name: Option<String>,
    pub config_name: Option<String>,
    pub queue_name: Option<String>,
    pub application_name: Option<String>,
    pub application_version: Option<String>,
    pub application_id: Option<String>,
    pub executor_id: Option<String>,
    pub authenticated_user: Option<String>,
    pub assumed_role: Option<String>,
    pub authenticated_roles: Option<String>,
    pub serialization: Option<String>,
    pub inputs: Option<String>,
    pub output: Option<String>,
    pub error: Option<String>,
    pub recovery_attempts: Option<i64>,
    pub priority: i32,
    pub deduplication_id: Option<String>,
    pub queue_partition_key: Option<String>,
    pub workflow_timeout_ms: Option<i64>,
    pub workflow_deadline_epoch_ms: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub started_at_epoch_ms: Option<i64>,
    pub completed_at: Option<i64>,
    pub delay_until_epoch_ms: Option<i64>,
    pub forked_from: Option<String>,
    pub was_forked_from: bool,
    pub parent_workflow_id: Option<String>,
    pub schedule_name: Option<String>,
    /// The `attributes` JSONB as JSON text.
    pub attributes: Option<String>,
    pub is_debounced: bool,
}

impl WorkflowRow {
    /// The parsed status, if it is one DBOS writes.
    pub fn status(&self) -> Option<WorkflowStatus> {
        self.status.as_deref().and_then(WorkflowStatus::parse)
    }
}

/// What `EnqueueWorkflow` writes: every column a DBOS client sets on enqueue.
#[derive(Debug, Clone, Default)]
pub struct NewWorkflow {
    pub workflow_id: String,
    pub name: String,
    pub queue_name: String,
    /// The serialized inputs: for `portable_json`, the envelope `{"positionalArgs":[..],"namedArgs":{..}}`.
    pub inputs: String,
    /// The inputs' (and outcome's) serialization: `portable_json`, except for schedule firings,
    /// which are written in the schedule's language (None = the reader's native format, Python's way).
    pub serialization: Option<String>,
    /// The schedule that fired it.
    pub schedule_name: Option<String>,
    /// A debounced workflow (DebounceWorkflow): its deduplication id is the debounce key.
    pub is_debounced: bool,
    /// The latest a debounced workflow may be pushed out to.
    pub debounce_deadline_epoch_ms: Option<i64>,
    pub class_name: Option<String>,
    pub config_name: Option<String>,
    pub app_version: Option<String>,
    pub timeout_ms: Option<i64>,
    pub deadline_epoch_ms: Option<i64>,
    pub delay_ms: Option<i64>,
    pub deduplication_id: Option<String>,
    pub return_existing_on_dedup: bool,
    pub priority: i32,
    pub queue_partition_key: Option<String>,
    pub authenticated_user: Option<String>,
    /// JSON array text, or None for no roles (as the Python client writes).
    pub authenticated_roles: Option<String>,
    pub assumed_role: Option<String>,
    /// JSON object text.
    pub attributes: Option<String>,
    pub application_name: Option<String>,
    /// The enqueuing caller's scope: an existing row with this id outside it is answered as a
    /// taken id, never with its data (unrestricted by default).
    pub caller_scope: Scope,
}

/// How an enqueue ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnqueueOutcome {
    Created,
    Existing,
    Deduplicated,
}

/// The result of an enqueue: which workflow, how, and its status now.
#[derive(Debug, Clone)]
pub struct Enqueued {
    pub workflow_id: String,
    pub outcome: EnqueueOutcome,
    pub status: Option<WorkflowStatus>,
}

/// Which workflows (a `WorkflowFilter`, plus internal conditions), all ANDed; empty lists and `None`
/// mean "no filter".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListFilter {
    pub workflow_ids: Vec<String>,
    pub statuses: Vec<WorkflowStatus>,
    pub names: Vec<String>,
    pub created_after: Option<i64>,
    pub created_before: Option<i64>,
    pub completed_after: Option<i64>,
    pub completed_before: Option<i64>,
    pub dequeued_after: Option<i64>,
    pub dequeued_before: Option<i64>,
    pub app_versions: Vec<String>,
    pub forked_from: Vec<String>,
    pub parent_workflow_ids: Vec<String>,
    pub authenticated_users: Vec<String>,
    pub queue_names: Vec<String>,
    pub executor_ids: Vec<String>,
    pub id_prefixes: Vec<String>,
    pub was_forked_from: Option<bool>,
    pub is_fork: Option<bool>,
    pub has_parent: Option<bool>,
    /// JSON object text matched with `attributes @> $`.
    pub attributes: Option<String>,
    pub schedule_names: Vec<String>,
    pub deduplication_ids: Vec<String>,
    pub is_debounced: Option<bool>,
    /// Owning applications; unclaimed rows (NULL) always match when this is set.
    pub application_names: Vec<String>,
    /// Only rows updated at or after this time (epoch ms); internal, for WatchWorkflows replays.
    pub updated_after: Option<i64>,
    /// ListQueuedWorkflows: only rows with a queue, and only active ones unless `statuses` is set.
    pub queues_only: bool,
    /// The caller's token scope: only rows it may touch (no unclaimed rows when restricted).
    pub scope: Scope,
}

/// Where a page starts: after this (created_at, workflow_id) in the query's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageCursor {
    pub created_at: i64,
    pub workflow_id: String,
}

/// A ListWorkflows query: filter, order, paging and which payloads to load.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub filter: ListFilter,
    pub sort_desc: bool,
    pub load_input: bool,
    pub load_output: bool,
    /// Order by (updated_at, id) instead of (created_at, id); internal, for WatchWorkflows replays.
    pub by_updated_at: bool,
    /// Rows to return (the repo fetches one more to know whether a next page exists).
    pub limit: i64,
    pub offset: Option<i64>,
    pub after: Option<PageCursor>,
}

/// A page of workflows and where the next one starts.
#[derive(Debug, Clone)]
pub struct WorkflowPage {
    pub rows: Vec<WorkflowRow>,
    pub next: Option<PageCursor>,
}

/// A message for `notifications`.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub destination_id: String,
    pub topic: String,
    /// `portable_json` text.
    pub message: String,
    /// `<idempotency_key>::<destination>` or a random UUID.
    pub message_id: String,
    /// The idempotency key, for the ids of copies sent to forks.
    pub idempotency_key: Option<String>,
}

impl NewMessage {
    /// The same message for another destination (a fork), with its own DBOS message id.
    pub fn to(&self, destination_id: &str) -> NewMessage {
        NewMessage {
            destination_id: destination_id.to_owned(),
            message_id: match &self.idempotency_key {
                Some(key) => format!("{key}::{destination_id}"),
                None => uuid::Uuid::new_v4().to_string(),
            },
            ..self.clone()
        }
    }
}

/// A DBOS stream read: the writer's status (None: no such workflow) and the values from an offset.
#[derive(Debug, Clone)]
pub struct StreamRead {
    pub status: Option<WorkflowStatus>,
    pub exists: bool,
    /// (offset, value) in offset order, consecutive from the requested offset.
    pub values: Vec<(i32, StoredValue)>,
}

/// The value DBOS writes to close a stream, in its current (portable JSON) and legacy (raw) forms.
pub fn is_stream_closed_marker(text: &str) -> bool {
    const MARKER: &str = "__DBOS_STREAM_CLOSED__";
    text == MARKER || text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) == Some(MARKER)
}
