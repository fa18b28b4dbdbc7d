//! `/mcp` on the gRPC port: MCP's streamable HTTP transport (stateless, JSON replies), whose tools
//! call the server's own layered gRPC service in-process with the request's `Authorization`, so an
//! MCP call passes exactly the layers a gRPC call does. With tokens on, a request without a known
//! bearer token is refused here first with HTTP 401 and `WWW-Authenticate: Bearer`, as HTTP
//! clients (and MCP clients) expect, instead of reaching MCP at all.

use std::{
    convert::Infallible,
    fmt::Display,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use http::{header, HeaderMap, Request, Response, StatusCode};
use rmcp::transport::streamable_http_server::{
    session::never::NeverSessionManager, StreamableHttpServerConfig, StreamableHttpService,
};
use tokio_util::sync::CancellationToken;
use tower_service::Service;

use super::{Api, DbosdMcp, GrpcChannel, McpSettings};
use crate::auth::Tokens;

/// The path MCP is served at.
pub const PATH: &str = "/mcp";

/// Hosts always accepted in `Host` (DNS-rebinding protection keeps the rest out).
const LOOPBACK: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// The `/mcp` service.
#[derive(Clone)]
pub struct McpHttp {
    inner: StreamableHttpService<DbosdMcp, NeverSessionManager>,
    tokens: Option<Arc<Tokens>>,
}

/// `/mcp` over `grpc` (the server's layered service stack), with `tokens` (the server's) for the
/// 401 answer; it stops serving when `stop` is cancelled.
pub fn service(
    grpc: GrpcChannel,
    settings: &McpSettings,
    tokens: Option<Arc<Tokens>>,
    stop: CancellationToken,
) -> McpHttp {
    // HTTP requests bring their own Authorization; there is no fallback token.
    let api = Api::new(grpc, None).expect("no token to parse");
    let prototype = DbosdMcp::new(api, settings.allow_writes);
    let mut hosts: Vec<String> = LOOPBACK.iter().map(|h| h.to_string()).collect();
    hosts.extend(settings.allowed_hosts.iter().cloned());
    let mut config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_cancellation_token(stop.child_token())
        .with_allowed_hosts(hosts);
    if settings.allowed_hosts.iter().any(|h| h == "*") {
        config = config.disable_allowed_hosts();
    }
    let inner = StreamableHttpService::new(
        move || Ok(prototype.clone()),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    McpHttp { inner, tokens }
}

impl<B> Service<Request<B>> for McpHttp
where
    B: http_body::Body + Send + 'static,
    B::Error: Display,
    B::Data: Send + 'static,
{
    type Response = Response<axum::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if let Some(tokens) = &self.tokens {
            if let Err(message) = authenticate(tokens, request.headers()) {
                return Box::pin(async move { Ok(unauthorized(message)) });
            }
        }
        let mut inner = self.inner.clone();
        Box::pin(async move {
            let response = inner.call(request).await?;
            Ok(response.map(axum::body::Body::new))
        })
    }
}

/// Whether the request carries one of the server's tokens (the gRPC layer checks it again, with
/// its scope, on every call the tools make).
fn authenticate(tokens: &Tokens, headers: &HeaderMap) -> Result<(), &'static str> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or("missing Authorization: Bearer <token> header")?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or("Authorization must be \"Bearer <token>\"")?;
    tokens
        .authenticate(token)
        .map(|_| ())
        .ok_or("unknown bearer token")
}

fn unauthorized(message: &str) -> Response<axum::body::Body> {
    let mut response = Response::new(axum::body::Body::from(format!("{message}\n")));
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    let headers = response.headers_mut();
    headers.insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer realm=\"dbosd\""),
    );
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Mounts `/mcp` in front of the server's call stack: requests for `/mcp` go to [`McpHttp`] (whose
/// tools call back into the stack in-process), every other request goes on unchanged.
#[derive(Clone)]
pub struct McpLayer(Option<McpHttp>);

impl McpLayer {
    /// `/mcp` served by `mcp`; with `None` every request passes through.
    pub fn new(mcp: Option<McpHttp>) -> McpLayer {
        McpLayer(mcp)
    }
}

impl<S> tower_layer::Layer<S> for McpLayer {
    type Service = McpRoute<S>;

    fn layer(&self, inner: S) -> McpRoute<S> {
        McpRoute {
            mcp: self.0.clone(),
            inner,
        }
    }
}

/// The service [`McpLayer`] makes.
#[derive(Clone)]
pub struct McpRoute<S> {
    mcp: Option<McpHttp>,
    inner: S,
}

impl<S, ResBody> Service<Request<tonic::body::Body>> for McpRoute<S>
where
    S: Service<Request<tonic::body::Body>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    ResBody::Error: Into<tower::BoxError>,
{
    type Response = Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<tonic::body::Body>) -> Self::Future {
        match &mut self.mcp {
            Some(mcp) if request.uri().path() == PATH => {
                let answer = mcp.call(request);
                Box::pin(async move {
                    let response = match answer.await {
                        Ok(response) => response,
                        Err(never) => match never {},
                    };
                    Ok(response.map(tonic::body::Body::new))
                })
            }
            _ => {
                let answer = self.inner.call(request);
                Box::pin(async move { Ok(answer.await?.map(tonic::body::Body::new)) })
            }
        }
    }
}
