//! The authentication layer: outside the exempt services (health by default), every call needs
//! `authorization: Bearer <token>` naming a known token, else UNAUTHENTICATED, within the token's
//! rate limit if it has one, else RESOURCE_EXHAUSTED with a retry pushback. The caller's
//! [`Principal`] rides in the request's extensions for the handlers' scope checks, and its name
//! (never the token) is recorded on the RPC's span. Every `WorkflowService` call is also tagged
//! with its method and policy from the service's table (`api::rpcs`, handed in by the server) (from the request path, so a handler cannot
//! claim another method's policy); a write refused here for its token is audited here, since it
//! never reaches the service.

use std::sync::Arc;

use http::Request;
use tonic::{
    transport::server::{TcpConnectInfo, TlsConnectInfo},
    Status,
};
use tower_layer::Layer;

use super::{
    policy::{Access, CalledMethod},
    Principal, Tokens,
};
use crate::{
    audit::{self, AuditRecord},
    telemetry::{
        intercept::{answer, CallFuture, Intercept, Intercepted, Next},
        layer::REQUEST_ID,
    },
};

/// Authenticates calls; with no tokens configured every call passes unauthenticated.
#[derive(Clone)]
pub struct AuthLayer {
    tokens: Option<Arc<Tokens>>,
    exempt: Arc<Vec<String>>,
    /// The method (and its policy) a request path calls: `api::rpcs::called_method`.
    methods: MethodTable,
}

/// Looks up the RPC a request path calls; `None` for paths outside the table.
pub type MethodTable = fn(&str) -> Option<CalledMethod>;

impl AuthLayer {
    /// `exempt` lists full service names (e.g. `grpc.health.v1.Health`) that need no token.
    /// `methods` tags each call with the RPC it calls and that RPC's policy.
    pub fn new(tokens: Option<Arc<Tokens>>, exempt: Vec<String>, methods: MethodTable) -> Self {
        AuthLayer {
            tokens,
            exempt: Arc::new(exempt),
            methods,
        }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> AuthService<S> {
        Intercepted::new(inner, self.clone())
    }
}

/// The service [`AuthLayer`] makes.
pub type AuthService<S> = Intercepted<S, AuthLayer>;

impl Intercept for AuthLayer {
    fn call<S: Next<B, R>, B, R: Default + Send + 'static>(
        &self,
        next: &mut S,
        mut request: Request<B>,
    ) -> CallFuture<R, S::Error> {
        let called = (self.methods)(request.uri().path());
        if let Some(called) = called {
            request.extensions_mut().insert(called);
        }
        if let Some(tokens) = &self.tokens {
            let service = request.uri().path().trim_start_matches('/');
            let service = service.split('/').next().unwrap_or_default();
            if !self.exempt.iter().any(|e| e == service) {
                let admitted = authenticate(tokens, &request)
                    .and_then(|principal| tokens.admit(&principal).map(|()| principal));
                match admitted {
                    Ok(principal) => {
                        tracing::Span::current().record("principal", principal.name.as_str());
                        request.extensions_mut().insert(principal);
                    }
                    Err(status) => {
                        audit_refused(called, &request, &status);
                        return answer(status);
                    }
                }
            }
        }
        Box::pin(next.call(request))
    }
}

/// A write refused for its token never reaches the service, so its audit record is written here
/// (with no targets: the message is not decoded).
fn audit_refused<B>(called: Option<CalledMethod>, request: &Request<B>, status: &Status) {
    let Some(called) = called.filter(|c| c.policy.access == Access::Write) else {
        return;
    };
    let extensions = request.extensions();
    let peer = extensions
        .get::<TcpConnectInfo>()
        .or_else(|| {
            extensions
                .get::<TlsConnectInfo<TcpConnectInfo>>()
                .map(|tls| tls.get_ref())
        })
        .and_then(TcpConnectInfo::remote_addr);
    audit::record(&AuditRecord {
        principal: None,
        rpc: called.name,
        result: Some(status.code()),
        peer,
        request_id: request
            .headers()
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok()),
        ..AuditRecord::default()
    });
}

fn authenticate<B>(tokens: &Tokens, request: &Request<B>) -> Result<Arc<Principal>, Status> {
    let header = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .ok_or_else(|| Status::unauthenticated("missing authorization: Bearer <token> metadata"))?;
    let token = header
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or_else(|| Status::unauthenticated("authorization must be \"Bearer <token>\""))?;
    tokens
        .authenticate(token)
        .ok_or_else(|| Status::unauthenticated("unknown bearer token"))
}
