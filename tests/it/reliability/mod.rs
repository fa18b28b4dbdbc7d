//! Reliability under hostile conditions: racing callers, misbehaving clients, hostile values, memory
//! under abandoned streams, database trouble, a late or restarting database, and the soak run.

mod clients;
mod failures;
mod idempotency;
mod input;
mod memory;
mod restart;
mod soak;
mod startup;
