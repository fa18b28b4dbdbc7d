//! The control flow every wait's task shares. A client that leaves ends the wait quietly wherever
//! it is noticed (a re-read, a wake-up, a send); [`Stop::Left`] carries that out of the task with
//! `?`, so each wait's loop reads as subscribe → re-read → send → wait without a check at each step.

use std::future::Future;

use futures::FutureExt;

use tokio::time::Instant;

use crate::api::service::stream::{reread, wait_any, Sink, Woken};
use crate::{
    error::{Error, Result},
    hub::Subscription,
};

/// Why a wait's task ends before it is done.
pub(super) enum Stop {
    /// The client left: end without a status.
    Left,
    /// The wait failed: the error is the stream's final status.
    Failed(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Stop::Failed(e)
    }
}

/// What a wait's steps return: `Err(Stop::Left)` when the client has gone.
pub(super) type Flow<T = ()> = std::result::Result<T, Stop>;

/// Runs a wait's task body as `Streams::spawn` expects it: the client leaving is a quiet end. A
/// combinator, not an `async fn`, which would hold the body twice (as its argument and as the
/// future it awaits).
pub(super) fn run(body: impl Future<Output = Flow>) -> impl Future<Output = Result<()>> {
    body.map(|flow| match flow {
        Ok(()) | Err(Stop::Left) => Ok(()),
        Err(Stop::Failed(e)) => Err(e),
    })
}

/// Re-reads through `read` ([`reread`]: retried through database trouble until `deadline`).
///
/// The re-read is boxed, so it takes memory only while it runs: a task's future is as large as its
/// largest state, and a repository read (pool checkout, prepared statement, deadline scope) is
/// kilobytes of state that every idle wait would otherwise hold for its whole life.
pub(super) async fn read<T, R, Fut>(
    deadline: Option<Instant>,
    sink: &Sink<T>,
    what: &str,
    read: impl FnMut() -> Fut,
) -> Flow<R>
where
    Fut: Future<Output = Result<R>>,
{
    Box::pin(reread(deadline, sink, what, read))
        .await?
        .ok_or(Stop::Left)
}

/// Waits until a subscription wakes ([`wait_any`]); DEADLINE_EXCEEDED naming `what` at `deadline`.
pub(super) async fn wake<T>(
    subs: &mut [Subscription],
    deadline: Option<Instant>,
    sink: &Sink<T>,
    what: &str,
) -> Flow {
    match wait_any(subs, deadline, sink, what).await? {
        Woken::Changed => Ok(()),
        Woken::Gone => Err(Stop::Left),
    }
}

/// Sends one message to the client (boxed at once: a waiting send holds a pointer, see
/// [`Sink::send`]).
pub(super) fn send<T>(sink: &Sink<T>, message: T) -> impl Future<Output = Flow> + '_ {
    let sent = sink.send(message);
    async move {
        if sent.await {
            Ok(())
        } else {
            Err(Stop::Left)
        }
    }
}
