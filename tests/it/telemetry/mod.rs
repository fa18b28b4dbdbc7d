//! Telemetry (`src/telemetry/`): metrics, request ids and trace context (`metrics.rs`), and what a
//! panic in a handler becomes (`panics.rs`).

mod metrics;
mod panics;
