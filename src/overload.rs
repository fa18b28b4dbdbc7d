//! The global cap on unary calls in flight (`--max-concurrent-calls`). Beyond it a new call is
//! answered at once with RESOURCE_EXHAUSTED and a retry pushback instead of queueing without bound
//! (for a pool connection, for the CPU): the calls admitted keep a bounded latency, and the others
//! retry later or on another replica. Waits (GetEvent, the streams) are capped by `--max-streams`.

use std::{sync::Arc, time::Duration};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::{Code, Status};

use crate::{
    error::{status_with_pushback, Error, Result},
    shutdown::Drain,
};

/// How long a shed caller is told to wait before retrying.
pub const SHED_PUSHBACK: Duration = Duration::from_millis(100);

/// How long a caller refused a stream (or a wait) is told to wait before retrying.
pub const STREAM_PUSHBACK: Duration = Duration::from_secs(1);

/// What every stream shares: the drain token, and the slots that cap how many streams (and unary
/// waits such as GetEvent) are open.
#[derive(Clone)]
pub struct Streams {
    drain: Drain,
    slots: Arc<Semaphore>,
    limit: usize,
}

impl Streams {
    /// At most `limit` open streams; all of them end when `drain` starts.
    pub fn new(drain: Drain, limit: usize) -> Self {
        Streams {
            drain,
            slots: Arc::new(Semaphore::new(limit)),
            limit,
        }
    }

    /// The same slots, with waits that also end when `drain` does (one database's streams).
    pub fn with_drain(&self, drain: Drain) -> Streams {
        Streams {
            drain,
            ..self.clone()
        }
    }

    /// How many streams are open now.
    pub fn open(&self) -> usize {
        self.limit - self.slots.available_permits()
    }

    /// The drain token (for unary waits such as GetEvent).
    pub fn drain(&self) -> &Drain {
        &self.drain
    }

    /// A slot, held by every stream and by a unary wait (GetEvent) while it waits: a wait costs
    /// what a stream does. RESOURCE_EXHAUSTED with a retry pushback when `limit` are taken.
    pub fn take_slot(&self) -> Result<OwnedSemaphorePermit> {
        Arc::clone(&self.slots)
            .try_acquire_owned()
            .map_err(|_| Error::Overloaded {
                message: format!(
                    "too many open streams and waits on this dbosd (limit {}, --max-streams); \
                     retry later or on another replica",
                    self.limit
                ),
                retry_after: STREAM_PUSHBACK,
            })
    }
}

/// The slots of unary calls in flight.
#[derive(Debug)]
pub struct CallLimit {
    slots: Arc<Semaphore>,
    limit: usize,
}

impl CallLimit {
    /// At most `limit` calls in flight.
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(CallLimit {
            slots: Arc::new(Semaphore::new(limit)),
            limit,
        })
    }

    /// A slot for one call, held until it is dropped; the status to answer when none is free.
    pub fn admit(&self) -> Result<OwnedSemaphorePermit, Status> {
        Arc::clone(&self.slots).try_acquire_owned().map_err(|_| {
            let message = format!(
                "dbosd is at its limit of {} calls in flight (--max-concurrent-calls); retry later \
                 or on another replica",
                self.limit
            );
            status_with_pushback(Code::ResourceExhausted, message, SHED_PUSHBACK)
        })
    }

    /// Calls in flight now.
    pub fn in_flight(&self) -> usize {
        self.limit - self.slots.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_beyond_the_limit_are_shed_with_pushback_until_one_ends() {
        let limit = CallLimit::new(2);
        let first = limit.admit().unwrap();
        let _second = limit.admit().unwrap();
        let shed = limit.admit().unwrap_err();
        assert_eq!(shed.code(), Code::ResourceExhausted);
        assert!(shed.message().contains("limit of 2"), "{}", shed.message());
        let pushback = shed.metadata().get(crate::error::RETRY_PUSHBACK_HEADER);
        assert_eq!(pushback.unwrap(), "100");
        assert_eq!(limit.in_flight(), 2);
        drop(first);
        assert!(limit.admit().is_ok());
    }
}
