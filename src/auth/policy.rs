//! The authorization policy of every `dbosd.v1.WorkflowService` RPC, in one table (like Temporal's
//! `common/api/metadata.go`): what the call touches (its scope kind), whether it reads or writes,
//! and whether it waits. The rows live in `api::rpcs` (one per RPC, beside its handler); the auth layer tags each
//! call with its method and policy from there, and that one path decides what a token may call and what is audited.
//! Ownership of the rows themselves is decided in SQL (see `repo::db::scope`).

/// What a call touches, and so how the caller's scope applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeKind {
    /// Workflows the request names by id: one outside the scope is answered as a missing one.
    WorkflowIds,
    /// Workflows a filter selects (lists, aggregates, watches, bulk calls): narrowed to the scope.
    Filter,
    /// Workflows the call creates: each must be inside the scope (else PERMISSION_DENIED).
    NewWorkflows,
    /// State shared by every application (queues, versions, schedules, cross-workflow
    /// transactions, step aggregates): needs a token for all applications.
    WholeDatabase,
}

/// Whether a call changes anything (writes are audited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// One RPC's policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub scope: ScopeKind,
    pub access: Access,
    /// The call waits on purpose (a stream, or GetEvent's timeout).
    pub polling: bool,
}

/// The full name of the service this table covers.
pub const SERVICE: &str = "dbosd.v1.WorkflowService";

/// The RPC a call tagged by the auth layer is for.
#[derive(Debug, Clone, Copy)]
pub struct CalledMethod {
    pub name: &'static str,
    pub policy: &'static Policy,
}
