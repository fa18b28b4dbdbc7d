//! Handlers for the streaming waits: AwaitWorkflow(s), WatchEvent, ReadStream and WatchWorkflows,
//! each a task with the control flow of `task.rs`.

mod awaits;
mod task;
mod watch;
mod watch_workflows;
