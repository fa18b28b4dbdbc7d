//! Startup before the database is there (`--wait-for-database-ms`): the gRPC port opens at once and
//! answers health NOT_SERVING and every WorkflowService call UNAVAILABLE (retryable) while dbosd
//! retries with backoff; once the database appears this stand-in server stops and the real one takes
//! the same address.

use std::{
    convert::Infallible,
    net::SocketAddr,
    task::{Context, Poll},
    time::Duration,
};

use tokio::{net::TcpListener, sync::oneshot};
use tonic::{
    body::Body,
    codegen::{http, BoxFuture, Service},
    server::NamedService,
    transport::Server,
};
use tonic_health::ServingStatus;

use crate::{
    backoff::Backoff,
    config::Settings,
    health,
    pb::workflow_service_server::WorkflowServiceServer,
    repo::Repo,
    server::{self, StartupError},
};

/// WorkflowService while the database is not there yet: every call is UNAVAILABLE.
#[derive(Clone)]
struct NotYet;

impl NamedService for NotYet {
    const NAME: &'static str = <WorkflowServiceServer<crate::api::FleetApi> as NamedService>::NAME;
}

impl Service<http::Request<Body>> for NotYet {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _req: http::Request<Body>) -> Self::Future {
        let status = tonic::Status::unavailable(
            "dbosd is waiting for its system database to become reachable; retry",
        );
        Box::pin(async move { Ok(status.into_http()) })
    }
}

/// How waiting for the database ended.
pub enum Waited {
    /// The database is there: the repository, and the address the real server must bind.
    Ready(Repo, SocketAddr),
    /// A shutdown signal arrived first.
    Interrupted,
}

/// Binds `listen`, serves the stand-in there and retries `prepare` with backoff (100 ms doubling to
/// 5 s) for up to `wait`; the stand-in is stopped before this returns.
pub async fn wait_for_database(
    settings: &Settings,
    listen: &SocketAddr,
    wait: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<Waited, String> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("dbosd listening on {addr}");
    tracing::warn!(%addr, "waiting for the system database; serving NOT_SERVING meanwhile");

    let (reporter, health_service) = tonic_health::server::health_reporter();
    for service in health::PROCESS_NAMES {
        reporter
            .set_service_status(service, ServingStatus::NotServing)
            .await;
    }
    reporter
        .set_service_status(health::LIVENESS, ServingStatus::Serving)
        .await;
    let mut builder = Server::builder();
    if let Some(tls) = settings
        .tls
        .server_config(settings.connections.handshake_timeout)?
    {
        builder = builder.tls_config(tls).map_err(|e| format!("TLS: {e}"))?;
    }
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let stand_in = tokio::spawn(
        builder
            .add_service(health_service)
            .add_service(NotYet)
            .serve_with_incoming_shutdown(
                crate::connections::incoming(listener, settings.connections, Default::default()),
                async {
                    let _ = stop_rx.await;
                },
            ),
    );

    let deadline = tokio::time::Instant::now() + wait;
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    tokio::pin!(shutdown);
    let outcome = loop {
        match server::prepare(settings).await {
            Ok(repo) => break Ok(Waited::Ready(repo, addr)),
            Err(e @ (StartupError::Unreachable { .. } | StartupError::Schema { .. })) => {
                let now = tokio::time::Instant::now();
                if now >= deadline {
                    break Err(e.to_string());
                }
                tracing::warn!(error = %e, retry_in_ms = backoff.peek().as_millis() as u64, "waiting for the system database");
                tokio::select! {
                    () = tokio::time::sleep(backoff.pause().min(deadline - now)) => {}
                    () = &mut shutdown => break Ok(Waited::Interrupted),
                }
            }
            Err(e) => break Err(e.to_string()),
        }
    };
    let _ = stop_tx.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), stand_in).await;
    outcome
}
