//! Handlers for cancel, resume, fork, delete, bulk management, in-flight edits and steps.

mod control;
pub(crate) mod convert;
mod fork;
mod in_flight;
mod steps;
