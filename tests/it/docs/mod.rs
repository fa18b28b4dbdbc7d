//! Documentation, executed: the README's grpcurl walkthrough and the `examples/` programs run
//! against a live dbosd. (The README's curl examples are in `http/readme.rs`, its command
//! reference in `cli/docs.rs`.)

pub mod console;
mod examples;
mod grpcurl;
