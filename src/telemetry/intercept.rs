//! The tower service every call layer that may answer a call itself is made of (`auth::layer`: a
//! refused token; `telemetry::panics`: a handler that panicked). Each layer says what it does
//! around the next service ([`Intercept`]); [`Intercepted`] is the one `Service` impl around it.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use http::{Request, Response};
use tonic::Status;
use tower_service::Service;

/// The response future of an intercepted call.
pub type CallFuture<B, E> = Pin<Box<dyn Future<Output = Result<Response<B>, E>> + Send>>;

/// The next service in the call stack, as a call layer can hand a call to it.
pub trait Next<B, R>:
    Service<Request<B>, Response = Response<R>, Future: Send + 'static, Error: Send + 'static>
{
}

impl<S, B, R> Next<B, R> for S
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
}

/// What a call layer does with one call: hand it to `next` (perhaps around it), or answer it.
pub trait Intercept: Clone {
    fn call<S: Next<B, R>, B, R: Default + Send + 'static>(
        &self,
        next: &mut S,
        request: Request<B>,
    ) -> CallFuture<R, S::Error>;
}

/// Answers a call with `status` without running it.
pub fn answer<R: Default + Send + 'static, E: Send + 'static>(status: Status) -> CallFuture<R, E> {
    let response = status.into_http();
    Box::pin(async move { Ok(response) })
}

/// The service a call layer makes: the next service and what the layer does around it.
#[derive(Clone, Debug)]
pub struct Intercepted<S, I> {
    inner: S,
    intercept: I,
}

impl<S, I> Intercepted<S, I> {
    pub fn new(inner: S, intercept: I) -> Self {
        Intercepted { inner, intercept }
    }
}

impl<S, I, B, R> Service<Request<B>> for Intercepted<S, I>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    R: Default + Send + 'static,
    I: Intercept,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = CallFuture<R, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        self.intercept.call(&mut self.inner, request)
    }
}
