//! Workflow management: what cancel, resume, fork, delete and the in-flight changes (delay,
//! priority, attributes) select and do, their per-workflow outcomes, and the step records they read.

use super::{ListFilter, WorkflowStatus};

/// The most workflows one bulk call may select by ids or filter (they change in one transaction).
pub const MAX_BULK_WORKFLOWS: usize = 10_000;

/// Which workflows a management call acts on.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    /// These ids, in this order; unknown ones are reported [`ActionOutcome::NotFound`].
    Ids(Vec<String>),
    /// Every workflow matching the filter (boxed: a filter is large, an id list small).
    Filter(Box<ListFilter>),
}

/// Which application version a fork is pinned to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForkVersion {
    /// No pin (NULL: the owning application's latest version), as the Python client forks.
    Latest,
    /// The source's version, as the TypeScript and Go clients fork.
    Source,
    /// This version.
    Pinned(String),
}

/// What a fork writes besides the copied source.
#[derive(Debug, Clone, PartialEq)]
pub struct ForkSpec {
    /// The first step the fork runs again; steps below it are copied.
    pub start_step: i32,
    /// The worker language's first step number (Python 1, TypeScript and Go 0).
    pub first_step: i32,
    /// The fork's id (single fork only; bulk forks get random ids).
    pub forked_workflow_id: Option<String>,
    pub version: ForkVersion,
    pub queue_name: String,
    pub queue_partition_key: Option<String>,
    pub timeout_ms: Option<i64>,
    /// (old child id, new child id) rewrites of `operation_outputs.child_workflow_id`.
    pub replacement_children: Vec<(String, String)>,
    /// The owner when the source is unclaimed (dbosd's configured application name).
    pub default_app: Option<String>,
}

/// A management action on the selected workflows.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Cancel, with descendants when `children`.
    Cancel { children: bool },
    /// Resume onto `queue_name`.
    Resume { queue_name: String },
    /// Delete every row, with descendants when `children`.
    Delete { children: bool },
    /// Fork.
    Fork(ForkSpec),
}

impl Action {
    /// Whether descendants (through `parent_workflow_id`) are included.
    pub fn with_children(&self) -> bool {
        matches!(
            self,
            Action::Cancel { children: true } | Action::Delete { children: true }
        )
    }
}

/// What a management call did to one workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionOutcome {
    NotFound,
    AlreadyFinished,
    Cancelled,
    AlreadyCancelled,
    Resumed,
    StartedNow,
    Deleted,
    Forked,
    StepOutOfRange,
    Updated,
    WrongStatus,
}

impl ActionOutcome {
    /// Whether the outcome wrote something.
    pub fn changed(self) -> bool {
        matches!(
            self,
            ActionOutcome::Cancelled
                | ActionOutcome::Resumed
                | ActionOutcome::StartedNow
                | ActionOutcome::Deleted
                | ActionOutcome::Forked
                | ActionOutcome::Updated
        )
    }
}

/// One workflow's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionResult {
    pub workflow_id: String,
    pub outcome: ActionOutcome,
    pub previous_status: Option<WorkflowStatus>,
    pub status: Option<WorkflowStatus>,
    /// The parent a descendant was reached from.
    pub parent_workflow_id: Option<String>,
    pub forked_workflow_id: Option<String>,
}

impl ActionResult {
    /// A result for an id that does not exist.
    pub fn not_found(workflow_id: &str) -> Self {
        ActionResult {
            workflow_id: workflow_id.to_owned(),
            outcome: ActionOutcome::NotFound,
            previous_status: None,
            status: None,
            parent_workflow_id: None,
            forked_workflow_id: None,
        }
    }
}

/// The outcome of a (bulk) management call.
#[derive(Debug, Clone, Default)]
pub struct ActionReport {
    /// Selected workflows first (request order for ids), then descendants level by level.
    pub results: Vec<ActionResult>,
}

impl ActionReport {
    /// How many existing workflows were selected (descendants included).
    pub fn selected(&self) -> usize {
        self.results
            .iter()
            .filter(|r| r.outcome != ActionOutcome::NotFound)
            .count()
    }

    /// How many workflows were changed.
    pub fn changed(&self) -> usize {
        self.results.iter().filter(|r| r.outcome.changed()).count()
    }
}

/// A ListWorkflowSteps query.
#[derive(Debug, Clone)]
pub struct StepQuery {
    pub workflow_id: String,
    pub load_output: bool,
    /// Rows to return (the repo fetches one more to know whether a next page exists).
    pub limit: i64,
    pub offset: Option<i64>,
    /// Start after this function_id.
    pub after: Option<i32>,
}

/// One `operation_outputs` row.
#[derive(Debug, Clone)]
pub struct StepRow {
    pub function_id: i32,
    pub function_name: String,
    pub output: Option<String>,
    pub error: Option<String>,
    pub serialization: Option<String>,
    pub child_workflow_id: Option<String>,
    pub started_at_epoch_ms: Option<i64>,
    pub completed_at_epoch_ms: Option<i64>,
}

/// A page of steps; `has_more` when another page follows.
#[derive(Debug, Clone)]
pub struct StepPage {
    pub rows: Vec<StepRow>,
    pub has_more: bool,
}

/// When a DELAYED workflow's delay ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DelayUntil {
    /// This many milliseconds from now (database clock).
    FromNow(i64),
    /// At this epoch millisecond.
    At(i64),
}

/// An attributes change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributesChange {
    /// Replace with this JSON object text, or clear (NULL).
    Replace(Option<String>),
    /// Merge these top-level keys (JSON object text) into the existing object.
    Merge(String),
}

/// The result of an in-flight change: the outcome and the value now stored (delay end or attributes).
#[derive(Debug, Clone)]
pub struct Changed<T> {
    pub result: ActionResult,
    pub value: Option<T>,
}
