//! The WorkflowService behind a startup gate: while dbosd waits for its database to appear
//! (`--wait-for-database-ms`), the gRPC port is already open, health says NOT_SERVING and every API
//! call gets UNAVAILABLE (retryable); once startup completes the gate opens and calls reach the API.

use std::{
    convert::Infallible,
    sync::{Arc, OnceLock},
    task::{Context, Poll},
};

use tonic::{
    body::Body,
    codegen::{http, BoxFuture, Service},
    server::NamedService,
};

use crate::{api::WorkflowApi, pb::workflow_service_server::WorkflowServiceServer};

type Inner = WorkflowServiceServer<WorkflowApi>;

/// A shared, initially closed gate in front of the API service.
#[derive(Clone, Default)]
pub struct Gate {
    inner: Arc<OnceLock<Inner>>,
}

impl Gate {
    /// Opens the gate: calls from now on reach `api`.
    pub fn open(&self, api: WorkflowApi) {
        let _ = self.inner.set(WorkflowServiceServer::new(api));
    }
}

impl NamedService for Gate {
    const NAME: &'static str = <Inner as NamedService>::NAME;
}

impl Service<http::Request<Body>> for Gate {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        match self.inner.get() {
            Some(api) => {
                let mut api = api.clone();
                Box::pin(async move { api.call(req).await })
            }
            None => {
                let status = tonic::Status::unavailable(
                    "dbosd is waiting for its system database to become reachable; retry",
                );
                Box::pin(async move { Ok(status.into_http()) })
            }
        }
    }
}
