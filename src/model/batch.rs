//! Transact: several enqueues and sends in one transaction.

use super::{Enqueued, NewMessage, NewWorkflow};

/// One operation of a Transact call.
#[derive(Debug, Clone)]
pub enum TxOp {
    /// Boxed: a workflow is far larger than a message.
    Enqueue(Box<NewWorkflow>),
    Send(NewMessage),
}

/// What one operation did.
#[derive(Debug, Clone)]
pub enum TxOutcome {
    Enqueued(Enqueued),
    /// Whether the message was written (false: its idempotency key had delivered it before).
    Sent(bool),
}
