//! The per-RPC tower layer: gives every call a request id (the caller's `x-request-id`, or a new
//! one) echoed in the response, runs the call in a tracing span carrying it, sheds unary calls
//! beyond the limit of calls in flight, bounds each call by its deadline (the caller's grpc-timeout,
//! the default one for unary calls) and hands that deadline down to the repository, reports
//! message-size limits as RESOURCE_EXHAUSTED, adds the request id to INTERNAL statuses (the log line
//! with the cause carries the same id), and records the call's final status and latency when its
//! response body ends (a stream's status is in its trailers), labelled with its database
//! (`super::database_label`: a served name, or `unknown`). With traces on, each call also gets
//! an OpenTelemetry server span (`super::traces`), and the request's `traceparent` is rewritten
//! to name it, so handlers propagate the RPC span rather than the caller's.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use http::{HeaderMap, HeaderName, HeaderValue, Request, Response};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tonic::{Code, Status};
use tower_layer::Layer;
use tower_service::Service;
use tracing::{Instrument, Span};

use super::{
    traces::{RpcSpan, Traces},
    Method, Metrics,
};
use crate::overload::CallLimit;

/// The metadata key of the request id, in requests and responses.
pub const REQUEST_ID: &str = "x-request-id";
/// Longest caller-supplied request id kept; a longer one is replaced.
const MAX_REQUEST_ID: usize = 128;

/// Wraps the gRPC routes (see `server.rs`).
#[derive(Clone)]
pub struct RpcLayer {
    metrics: Arc<Metrics>,
    rpc_timeout: Option<Duration>,
    calls: Option<Arc<CallLimit>>,
    traces: Option<Arc<Traces>>,
}

impl RpcLayer {
    /// Counts calls into `metrics`; unary calls that do not wait on purpose get `rpc_timeout`.
    pub fn new(metrics: Arc<Metrics>, rpc_timeout: Option<Duration>) -> Self {
        RpcLayer {
            metrics,
            rpc_timeout,
            calls: None,
            traces: None,
        }
    }

    /// Gives every call an OpenTelemetry span exported by `traces`.
    pub fn with_traces(mut self, traces: Option<Arc<Traces>>) -> Self {
        self.traces = traces;
        self
    }

    /// Sheds unary calls that do not wait on purpose beyond `calls`' limit.
    pub fn with_call_limit(mut self, calls: Arc<CallLimit>) -> Self {
        self.calls = Some(calls);
        self
    }
}

impl<S> Layer<S> for RpcLayer {
    type Service = RpcService<S>;

    fn layer(&self, inner: S) -> RpcService<S> {
        RpcService {
            inner,
            metrics: Arc::clone(&self.metrics),
            rpc_timeout: self.rpc_timeout,
            calls: self.calls.clone(),
            traces: self.traces.clone(),
        }
    }
}

/// The service [`RpcLayer`] makes.
#[derive(Clone)]
pub struct RpcService<S> {
    inner: S,
    metrics: Arc<Metrics>,
    rpc_timeout: Option<Duration>,
    calls: Option<Arc<CallLimit>>,
    traces: Option<Arc<Traces>>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RpcService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: Default,
{
    type Response = Response<RpcBody<ResBody>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let started = Instant::now();
        let method = self.metrics.method(request.uri().path());
        let database = self.metrics.per_database.labels.of(request.headers());
        let id = request_id(request.headers());
        // Handlers read the same id from their metadata as the span carries.
        request.headers_mut().insert(REQUEST_ID, id.clone());
        let span = tracing::info_span!(
            "rpc",
            method = %method.path,
            request_id = %id.to_str().unwrap_or_default(),
            // The token's name, filled in by the auth layer when there is one.
            principal = tracing::field::Empty,
            // The OpenTelemetry trace, when traces are on, so log lines lead to it.
            trace_id = tracing::field::Empty,
        );
        let otel = self.traces.as_ref().map(|traces| {
            let otel = traces.rpc_span(&method, request.headers(), id.to_str().unwrap_or_default());
            span.record("trace_id", otel.trace_id());
            // What the handler propagates (an enqueued workflow's carrier) now names this span.
            request
                .headers_mut()
                .insert("traceparent", otel.traceparent());
            otel
        });
        // Waits are capped by --max-streams instead (GetEvent's would hold a slot for minutes), and
        // health answers even under overload (a shed liveness probe would restart the process).
        let sheddable = !method.waits && !method.path.starts_with("/grpc.health.v1.Health/");
        let slot = match self.calls.as_ref().filter(|_| sheddable) {
            Some(calls) => calls.admit().map(Some),
            None => Ok(None),
        };
        let deadline = CallDeadline::of(&request, self.rpc_timeout.filter(|_| !method.waits));
        // A shed call is answered without running it.
        let call = slot.map(|slot| {
            let call = span.in_scope(|| self.inner.call(request));
            (slot, crate::deadline::scope(deadline.at(), call))
        });
        let metrics = Arc::clone(&self.metrics);
        Box::pin(
            async move {
                let mut response = match call {
                    Err(shed) => shed.into_http(),
                    Ok((_slot, call)) => match deadline.at() {
                        None => call.await?,
                        // tonic also enforces grpc-timeout, outside this layer; this ends the call
                        // a little earlier, so the caller learns why (see `crate::deadline`).
                        Some(at) => match tokio::time::timeout_at(at, call).await {
                            Ok(response) => response?,
                            Err(_) => deadline.passed().into_http(),
                        },
                    },
                };
                let hint = too_large_hint(&method.path);
                rewrite_status(response.headers_mut(), &id, hint);
                // Sent as never-indexed: a value new on every call would only churn HPACK's
                // dynamic table (both ends insert it, evicting entries that do repeat).
                let mut echoed = id.clone();
                echoed.set_sensitive(true);
                response.headers_mut().insert(REQUEST_ID, echoed);
                let labels = &metrics.per_database.labels;
                let database = labels.answered(response.extensions(), database);
                let recorder = Recorder {
                    metrics,
                    method,
                    database,
                    started,
                    // A trailers-only response (an error before any message) has its status here.
                    header_code: grpc_status(response.headers()),
                    span: Span::current(),
                    otel,
                };
                Ok(response.map(|inner| RpcBody {
                    inner,
                    request_id: id,
                    hint,
                    recorder: Some(recorder),
                }))
            }
            .instrument(span),
        )
    }
}

/// The caller's request id if it is usable as one, else a new one.
fn request_id(headers: &HeaderMap) -> HeaderValue {
    headers
        .get(REQUEST_ID)
        .filter(|v| {
            let ok = |b: &u8| b.is_ascii_graphic();
            !v.is_empty() && v.len() <= MAX_REQUEST_ID && v.as_bytes().iter().all(ok)
        })
        .cloned()
        .unwrap_or_else(|| {
            let id = uuid::Uuid::new_v4().simple().to_string();
            HeaderValue::from_str(&id).expect("a uuid is a valid header value")
        })
}

/// The deadline a call ends at: the caller's (its grpc-timeout less a reply margin) or dbosd's
/// default for unary calls, whichever comes first.
struct CallDeadline {
    caller: Option<tokio::time::Instant>,
    default: Option<(tokio::time::Instant, Duration)>,
}

impl CallDeadline {
    fn of<B>(request: &Request<B>, default: Option<Duration>) -> Self {
        let now = tokio::time::Instant::now();
        CallDeadline {
            caller: crate::deadline::from_grpc_timeout(request.headers(), now),
            default: default.and_then(|limit| Some((now.checked_add(limit)?, limit))),
        }
    }

    fn at(&self) -> Option<tokio::time::Instant> {
        match (self.caller, self.default.map(|(at, _)| at)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn passed(&self) -> Status {
        match self.default {
            Some((at, limit)) if self.caller.is_none_or(|c| at <= c) => {
                Status::deadline_exceeded(format!(
                    "the call did not finish within dbosd's default deadline of {} ms \
                     (--rpc-timeout-ms); retry",
                    limit.as_millis()
                ))
            }
            _ => Status::deadline_exceeded("the call did not finish within its deadline"),
        }
    }
}

/// The final status as the caller should see it: size limits named, and an INTERNAL status carrying
/// the request id under which the log has its cause.
fn rewrite_status(headers: &mut HeaderMap, id: &HeaderValue, hint: &str) {
    // Only two codes are rewritten: read the code alone first, since parsing the whole status
    // copies every header, twice for each response's headers and trailers.
    match grpc_status(headers) {
        Some(Code::OutOfRange) => report_size_limit(headers, hint),
        Some(Code::Internal) => tag_internal(headers, id),
        _ => {}
    }
}

/// Appends the request id to an INTERNAL status's message, once (a status may pass here twice).
fn tag_internal(headers: &mut HeaderMap, id: &HeaderValue) {
    let Some(status) = Status::from_header_map(headers) else {
        return;
    };
    let id = id.to_str().unwrap_or_default();
    if status.code() != Code::Internal || status.message().contains(id) {
        return;
    }
    let status = Status::internal(format!("{} (request id {id})", status.message()));
    let _ = status.add_header(headers);
}

/// tonic reports a message over `--max-message-bytes` as OUT_OF_RANGE; gRPC's status codes say
/// RESOURCE_EXHAUSTED, and the caller deserves to know which limit it was.
fn report_size_limit(headers: &mut HeaderMap, hint: &str) {
    let Some(status) = Status::from_header_map(headers) else {
        return;
    };
    if status.code() != Code::OutOfRange {
        return;
    }
    let message = status.message();
    let Some((_, sizes)) = message.split_once("message length too large: ") else {
        return;
    };
    let status = if message.contains("decoded") {
        format!("request message is too large ({sizes}; --max-message-bytes)")
    } else {
        format!("response message is too large ({sizes}; --max-message-bytes); {hint}")
    };
    let status = Status::resource_exhausted(status);
    let _ = status.add_header(headers);
}

/// What a caller can do when a method's response is too large: leave payloads out where the
/// method can (a worker may have written an output bigger than any response), else ask for less.
fn too_large_hint(path: &str) -> &'static str {
    match path.rsplit('/').next().unwrap_or_default() {
        "GetWorkflow" => {
            "set load_output = false (and load_input = false) to read the workflow without its payloads"
        }
        "AwaitWorkflow" | "AwaitWorkflows" => {
            "set load_output = false to learn the outcome without the output and error"
        }
        "ListWorkflows" | "ListQueuedWorkflows" => {
            "ask for fewer workflows (page_size) or set load_input / load_output = false"
        }
        "ListWorkflowSteps" => "ask for fewer steps (page_size) or set load_output = false",
        _ => "ask for less per call (e.g. a smaller page_size)",
    }
}

fn grpc_status(headers: &HeaderMap) -> Option<Code> {
    // A ready-made name: looking a header up by `&str` parses the name on every call.
    static GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
    let value = headers.get(&GRPC_STATUS)?.to_str().ok()?;
    value.parse::<i32>().ok().map(Code::from_i32)
}

/// Records one call once its final status is known.
struct Recorder {
    metrics: Arc<Metrics>,
    method: Method,
    database: Arc<str>,
    started: Instant,
    header_code: Option<Code>,
    span: Span,
    otel: Option<RpcSpan>,
}

impl Recorder {
    /// `trailer_code` is the status from the trailers, if the body ended with them; a body dropped
    /// before its status (the client went away) counts as CANCELLED.
    fn finish(self, trailer_code: Option<Code>) {
        let code = trailer_code.or(self.header_code).unwrap_or(Code::Cancelled);
        let elapsed = self.started.elapsed();
        self.metrics
            .observe(&self.method, self.database, code, elapsed);
        if let Some(otel) = self.otel {
            otel.finish(code);
        }
        // Entering the span costs a call something even when the line is filtered out.
        if tracing::enabled!(tracing::Level::DEBUG) {
            self.span.in_scope(|| {
                tracing::debug!(code = ?code, elapsed_ms = elapsed.as_millis() as u64, "rpc finished");
            });
        }
    }
}

pin_project! {
    /// A response body that reports the call's status when it ends or is dropped.
    pub struct RpcBody<B> {
        #[pin]
        inner: B,
        request_id: HeaderValue,
        hint: &'static str,
        recorder: Option<Recorder>,
    }

    impl<B> PinnedDrop for RpcBody<B> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(recorder) = this.project().recorder.take() {
                recorder.finish(None);
            }
        }
    }
}

impl<B: Body> Body for RpcBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.project();
        let mut polled = this.inner.poll_frame(cx);
        let trailers = match &mut polled {
            Poll::Ready(Some(Ok(frame))) => frame.trailers_mut().map(|trailers| {
                rewrite_status(trailers, this.request_id, this.hint);
                grpc_status(trailers)
            }),
            Poll::Ready(None) => Some(None),
            _ => None,
        };
        if let Some(code) = trailers {
            if let Some(recorder) = this.recorder.take() {
                recorder.finish(code);
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
