//! The call plumbing every RPC shares: its policy row, the permission check and audit, stream
//! slots and drain, and the trace context.

pub(crate) mod audit_targets;
pub(crate) mod authorize;
pub mod stream;
pub mod trace_context;
