//! Plumbing shared by the server-streaming RPCs: a spawned task feeding an mpsc channel (the tonic
//! streaming example's shape), raced against the drain token and capped in number, and the
//! subscribe → re-read → wait loop's waiting half.

use std::{future::Future, panic::AssertUnwindSafe, pin::Pin, time::Duration};

use futures::{future::select_all, FutureExt, Stream, StreamExt};
use tokio::{sync::mpsc, time::Instant};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;
use tracing::Instrument;

use crate::api::convert;
use crate::{
    backoff::Backoff,
    error::{Error, Result},
    hub::Subscription,
    overload::Streams,
    telemetry::panics,
};

/// The response stream type of every streaming RPC.
pub type RpcStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// Messages buffered per stream before the sender waits for the client to read.
const BUFFER: usize = 16;

/// One queued message. Boxed: the channel allocates its slots up front, and an unboxed response
/// (a WorkflowInfo is about a kilobyte) would cost tens of kilobytes per idle stream.
type Slot<T> = Box<Result<T, Status>>;

/// The sending half handed to a stream's task.
pub struct Sink<T> {
    tx: mpsc::Sender<Slot<T>>,
}

impl<T> Sink<T> {
    /// Sends one message; `false` when the client has gone. The message is boxed before the future
    /// is made, so a send waiting for room holds a pointer, not the message.
    pub fn send(&self, item: T) -> impl Future<Output = bool> + '_ {
        let slot = Box::new(Ok(item));
        async move { self.tx.send(slot).await.is_ok() }
    }

    /// Resolves when the client has gone (tonic dropped the stream).
    pub async fn closed(&self) {
        self.tx.closed().await
    }
}

impl Streams {
    /// Runs `body` in its own task and returns the stream of what it sends; an error it returns
    /// becomes the stream's final status, and so does draining (UNAVAILABLE with a retry hint), which
    /// ends the body wherever it waits. RESOURCE_EXHAUSTED when `limit` streams (and waits) are
    /// already open.
    pub fn spawn<T, F, Fut>(&self, body: F) -> Result<RpcStream<T>>
    where
        T: Send + 'static,
        F: FnOnce(Sink<T>) -> Fut,
        Fut: Future<Output = Result<()>> + Send + 'static,
    {
        let slot = self.take_slot()?;
        let (tx, rx) = mpsc::channel(BUFFER);
        // Boxed: every wrapper below (drain guard, panic catcher, span) holds the body by value
        // and an async wrapper keeps its argument beside its own state, so an unboxed body is
        // counted several times over in the task of every idle stream (27 KiB per wait before).
        let fut = Box::pin(body(Sink { tx: tx.clone() }));
        let drain = self.drain().clone();
        let task = async move {
            // A panic must end the stream with INTERNAL: without this the channel would just close
            // and the client would see the stream end OK.
            let status = match AssertUnwindSafe(drain.guard(fut)).catch_unwind().await {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.into()),
                Err(payload) => Some(panics::caught(&*payload)),
            };
            if let Some(status) = status {
                let _ = tx.send(Box::new(Err(status))).await;
            }
            drop(slot);
        };
        // The RPC's span (method, request id) follows the stream into its task.
        tokio::spawn(task.in_current_span());
        Ok(Box::pin(ReceiverStream::new(rx).map(|slot| *slot)))
    }
}

/// A wait's optional deadline from a request's `timeout` (absent: no deadline).
pub fn deadline(timeout: &Option<prost_types::Duration>) -> Result<Option<Instant>> {
    timeout
        .as_ref()
        .map(|d| {
            convert::duration_ms("timeout", d)
                .map(|ms| Instant::now() + Duration::from_millis(ms as u64))
        })
        .transpose()
}

/// How a wait ended.
pub enum Woken {
    /// Something may have changed: re-read.
    Changed,
    /// The client left: stop quietly.
    Gone,
}

/// Waits until any subscription is woken, the client leaves, or the deadline passes (an error
/// naming `what` was waited for).
pub async fn wait_any<T>(
    subs: &mut [Subscription],
    deadline: Option<Instant>,
    sink: &Sink<T>,
    what: &str,
) -> Result<Woken> {
    let changed = async {
        if subs.is_empty() {
            std::future::pending::<()>().await;
        }
        select_all(subs.iter_mut().map(|s| Box::pin(s.changed()))).await;
    };
    let expired = async {
        match deadline {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = changed => Ok(Woken::Changed),
        _ = sink.closed() => Ok(Woken::Gone),
        _ = expired => Err(Error::DeadlineExceeded(format!("timed out waiting for {what}"))),
    }
}

/// First and longest pause between retries of a wait's re-read while the database is away.
const REREAD_BACKOFF: (Duration, Duration) = (Duration::from_millis(50), Duration::from_secs(1));

/// Runs a wait's re-read, riding out transient database trouble: UNAVAILABLE and RESOURCE_EXHAUSTED
/// are retried with backoff until the deadline (then DEADLINE_EXCEEDED), so a wait survives a
/// database restart and re-reads once it is back. `Ok(None)`: the client left meanwhile.
pub async fn reread<T, R, Fut>(
    deadline: Option<Instant>,
    sink: &Sink<T>,
    what: &str,
    mut read: impl FnMut() -> Fut,
) -> Result<Option<R>>
where
    Fut: Future<Output = Result<R>>,
{
    let mut backoff = Backoff::new(REREAD_BACKOFF.0, REREAD_BACKOFF.1);
    loop {
        let error = match read().await {
            Ok(value) => return Ok(Some(value)),
            Err(e @ (Error::Unavailable(_) | Error::ResourceExhausted(_))) => e,
            Err(e) => return Err(e),
        };
        tracing::debug!(%error, what, "wait re-read failed; retrying");
        let pause = Instant::now() + backoff.pause();
        if deadline.is_some_and(|at| at <= pause) {
            return Err(Error::DeadlineExceeded(format!(
                "timed out waiting for {what} (the system database is unavailable: {error})"
            )));
        }
        tokio::select! {
            _ = tokio::time::sleep_until(pause) => {}
            _ = sink.closed() => return Ok(None),
        }
    }
}
