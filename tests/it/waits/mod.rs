//! Waits (`src/api/waits/`, the hub in `src/hub/`): AwaitWorkflow(s) in `awaits.rs`; WatchEvent,
//! ReadStream and WatchWorkflows in `watch.rs`.

mod awaits;
mod watch;
