//! Handlers for the streaming waits: AwaitWorkflow(s), WatchEvent, ReadStream and WatchWorkflows.

mod awaits;
mod watch;
mod watch_workflows;
