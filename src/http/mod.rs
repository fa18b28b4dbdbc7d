//! The HTTP front of the gRPC port: one place that routes every request by path and content type.
//! Native gRPC goes straight into the call stack (RPC layer, auth, services); gRPC-Web
//! (`application/grpc-web*`, through tonic-web) and Connect (`application/json`, `application/proto`,
//! `application/connect+*` on an RPC path) are translated into gRPC requests and sent into the SAME
//! stack, so auth, scopes, limits, metrics and the drain apply once; everything else (the OpenAPI
//! document, and routes other features add: `/mcp`, `/ui`) is an axum [`Router`]. CORS, when
//! configured, wraps it all.

pub mod connect;
pub mod console;
pub mod cors;
pub mod openapi;

use std::{
    convert::Infallible,
    sync::Arc,
    task::{Context, Poll},
};

use axum::Router;
use http::{header::CONTENT_TYPE, Request, Response};
use tonic::body::Body;
use tower::{util::BoxCloneService, ServiceExt};
use tower_layer::Layer;
use tower_service::Service;

use self::connect::{Connect, Schema};

/// The gRPC call stack as one cloneable service: what native gRPC, gRPC-Web and Connect all call.
/// Routes added to the front receive it, to call RPCs exactly as a gRPC client would.
pub type CallStack = BoxCloneService<Request<Body>, Response<Body>, Infallible>;

/// Builds the non-RPC routes once the call stack exists (e.g. an MCP endpoint that calls RPCs).
type RouteBuilder = Arc<dyn Fn(CallStack) -> Router + Send + Sync>;

/// The front's settings; [`HttpLayer`] puts it outside the call stack (see `server::call_stack`).
#[derive(Clone)]
pub struct HttpLayer {
    schema: Arc<Schema>,
    max_message_bytes: usize,
    cors: Option<tower_http::cors::CorsLayer>,
    routes: Vec<RouteBuilder>,
}

impl HttpLayer {
    /// A front for messages up to `max_message_bytes`, allowing `cors_origins` cross-origin (none:
    /// CORS off). Origins are checked by `Settings::validate`; a bad one here is a startup error.
    pub fn new(max_message_bytes: usize, cors_origins: &[String]) -> Result<Self, String> {
        Ok(HttpLayer {
            schema: Arc::new(Schema::load()?),
            max_message_bytes,
            cors: cors::layer(cors_origins)?,
            routes: vec![Arc::new(|_| openapi::router())],
        })
    }

    /// Serves the web console at `/ui` when `enabled` (`--ui`); otherwise `/ui` stays 404.
    pub fn with_console(self, enabled: bool) -> Self {
        match enabled {
            true => self.with_routes(|_| console::router()),
            false => self,
        }
    }

    /// Adds routes (merged into the non-RPC router) built from the call stack; for `/mcp`, `/ui`.
    pub fn with_routes(
        mut self,
        routes: impl Fn(CallStack) -> Router + Send + Sync + 'static,
    ) -> Self {
        self.routes.push(Arc::new(routes));
        self
    }
}

impl<S, B> Layer<S> for HttpLayer
where
    S: Service<Request<Body>, Response = Response<B>, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<tonic::codegen::StdError>,
{
    type Service = HttpService;

    fn layer(&self, inner: S) -> HttpService {
        let stack: CallStack = BoxCloneService::new(inner.map_response(|r| r.map(Body::new)));
        let router = self.routes.iter().fold(Router::new(), |router, build| {
            router.merge(build(stack.clone()))
        });
        let front = Front {
            grpc_web: tonic_web::GrpcWebLayer::new().layer(stack.clone()),
            connect: Connect::new(
                stack.clone(),
                Arc::clone(&self.schema),
                self.max_message_bytes,
            ),
            grpc: stack,
            router: router
                .into_service::<Body>()
                .map_response(|r| r.map(Body::new))
                .boxed_clone(),
        };
        let service = match &self.cors {
            Some(cors) => BoxCloneService::new(cors.layer(front)),
            None => BoxCloneService::new(front),
        };
        HttpService { service }
    }
}

/// The service [`HttpLayer`] makes: the front, wrapped in CORS when configured.
#[derive(Clone)]
pub struct HttpService {
    service: CallStack,
}

impl Service<Request<Body>> for HttpService {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = <CallStack as Service<Request<Body>>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.service.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        self.service.call(request)
    }
}

/// Where each kind of request goes.
#[derive(Clone)]
struct Front {
    grpc: CallStack,
    grpc_web: tonic_web::GrpcWebService<CallStack>,
    connect: Connect,
    router: CallStack,
}

impl Service<Request<Body>> for Front {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = futures::future::BoxFuture<'static, Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Each route is readied (by `oneshot`) when the request is routed to it.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let content_type = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if content_type.starts_with("application/grpc-web") {
            let service = self.grpc_web.clone();
            Box::pin(async move { service.oneshot(request).await })
        } else if content_type.starts_with("application/grpc") {
            Box::pin(self.grpc.clone().oneshot(request))
        } else if self.connect.serves(request.uri().path()) {
            let connect = self.connect.clone();
            Box::pin(async move { Ok(connect.call(request).await) })
        } else {
            Box::pin(self.router.clone().oneshot(request))
        }
    }
}
