//! Handlers for enqueueing, reading and listing workflows.

mod enqueue;
pub(crate) mod filter;
mod inspect;
pub(crate) mod list;
