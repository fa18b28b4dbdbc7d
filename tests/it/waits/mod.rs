//! Waits (`src/api/waits/`, the hub in `src/hub/`): AwaitWorkflow(s) in `awaits.rs`; WatchEvent,
//! ReadStream and WatchWorkflows in `watch.rs`; WatchWorkflows' indexed finds and spaced rescans
//! in `watch_rescan.rs`; more waits than one tick's poll checks in `sweep.rs`; the poll's two
//! statements and how each is planned in `poll_plans.rs`.

mod awaits;
mod poll_plans;
mod sweep;
mod watch;
mod watch_rescan;
