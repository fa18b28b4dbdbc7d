//! Handlers for enqueueing, reading and listing workflows.

mod enqueue;
mod inspect;
pub(crate) mod list;
mod page;
