//! Messaging (`src/api/messaging.rs`, `batch.rs`, `aggregates.rs`, `src/repo/messaging/`):
//! SendMessage and GetEvent; SendMessages, Transact, GetWorkflowEvents and the aggregates;
//! ListWorkflowMessages and ListStreamKeys.

mod aggregates;
mod batch;
mod events_messages;
mod inbox;
