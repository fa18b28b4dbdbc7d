//! The call plumbing every RPC shares: its policy row, the permission check and audit, stream
//! slots and drain, the trace context, and the routing table that picks each call's database.

pub(crate) mod audit_targets;
pub(crate) mod authorize;
pub mod databases;
pub mod stream;
pub mod trace_context;
