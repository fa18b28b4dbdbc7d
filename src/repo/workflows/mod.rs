//! Workflow rows: enqueue (one call, a batch, or coalesced under load), read one, list many.

pub mod coalescer;
mod columns;
pub mod enqueue;
pub mod list;
mod outcome;
pub mod session;
pub mod statement;
pub mod status;
