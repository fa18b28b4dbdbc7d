//! Panics in calls: the layer that turns a handler's panic into INTERNAL so the daemon keeps
//! serving, and the process-wide count behind `dbosd_panics_total`. A panic is logged in the call's
//! span, so the log line carries the request id that the RPC layer also puts in the INTERNAL message.
//! Streaming calls run in tasks of their own (`api::service::stream`), which report their panics here too.

use std::{
    any::Any,
    panic::{catch_unwind, AssertUnwindSafe},
    sync::atomic::{AtomicU64, Ordering},
};

use futures::FutureExt;
use http::Request;
use tonic::Status;
use tower_layer::Layer;

use super::intercept::{answer, CallFuture, Intercept, Intercepted, Next};

/// Panics caught since the process started (every server in it).
static PANICS: AtomicU64 = AtomicU64::new(0);

/// What the caller of a call that panicked is told (the RPC layer adds the request id).
pub const PANIC_MESSAGE: &str =
    "internal error: dbosd failed while serving this call; the dbosd log has the details";

/// Panics caught so far.
pub fn total() -> u64 {
    PANICS.load(Ordering::Relaxed)
}

/// Logs and counts a caught panic, and returns the status the call ends with.
pub fn caught(payload: &(dyn Any + Send)) -> Status {
    PANICS.fetch_add(1, Ordering::Relaxed);
    let text = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(a panic without a message)");
    tracing::error!(panic = text, "a call panicked; it ends with INTERNAL");
    Status::internal(PANIC_MESSAGE)
}

/// Catches panics of the services it wraps, while making the call or awaiting its response.
#[derive(Clone, Copy, Debug, Default)]
pub struct CatchPanicLayer;

impl<S> Layer<S> for CatchPanicLayer {
    type Service = CatchPanic<S>;

    fn layer(&self, inner: S) -> CatchPanic<S> {
        Intercepted::new(inner, *self)
    }
}

/// The service [`CatchPanicLayer`] makes.
pub type CatchPanic<S> = Intercepted<S, CatchPanicLayer>;

impl Intercept for CatchPanicLayer {
    fn call<S: Next<B, R>, B, R: Default + Send + 'static>(
        &self,
        next: &mut S,
        request: Request<B>,
    ) -> CallFuture<R, S::Error> {
        // A handler's state is per call, so nothing a panic leaves half-done is seen by another call.
        match catch_unwind(AssertUnwindSafe(|| next.call(request))) {
            Ok(call) => Box::pin(async move {
                match AssertUnwindSafe(call).catch_unwind().await {
                    Ok(response) => response,
                    Err(payload) => Ok(caught(&*payload).into_http()),
                }
            }),
            Err(payload) => answer(caught(&*payload)),
        }
    }
}
