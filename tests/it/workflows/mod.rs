//! Workflows (`src/api/workflows/`, `src/repo/workflows/`, `debounce.rs`): enqueue one, many and
//! coalesced, GetWorkflow and ListWorkflows, and DebounceWorkflow.

mod debounce;
mod enqueue;
mod enqueue_batch;
mod enqueue_shared;
mod get;
mod list;
