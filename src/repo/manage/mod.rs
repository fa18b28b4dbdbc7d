//! Management writes: cancel, resume, fork, delete and bulk, in-flight edits, and the steps read.

pub mod control;
pub mod fork;
pub mod in_flight;
pub mod sql;
pub mod steps;
