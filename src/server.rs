//! Startup and serving: connect and check (or migrate) the schema, then serve WorkflowService, health
//! and reflection on a listener until the shutdown future resolves.

use std::{future::Future, sync::Arc, time::Duration};

use tokio::{net::TcpListener, sync::oneshot};
use tokio_postgres::NoTls;
use tonic::transport::{server::TcpIncoming, Server};

use crate::{
    api::WorkflowApi,
    config::{redact_url, Settings},
    gate::Gate,
    health,
    hub::{self, Hub},
    pb,
    repo::{migrate, Repo, SchemaInfo},
};

/// Why dbosd could not start; printed as one line before exiting non-zero.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("invalid database URL: {0}")]
    BadUrl(String),
    #[error("cannot connect to the system database at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error(
        "schema {schema:?} cannot be served: {reason}; run `dbosd migrate` or start with --migrate"
    )]
    Schema { schema: String, reason: String },
    #[error("{0}")]
    Other(String),
}

/// Connects to the database, migrates it if asked, checks the schema and builds the repository.
pub async fn prepare(settings: &Settings) -> Result<Repo, StartupError> {
    let url = &settings.database_url;
    url.parse::<tokio_postgres::Config>()
        .map_err(|e| StartupError::BadUrl(e.to_string()))?;
    let unreachable = |e: &dyn std::fmt::Display| StartupError::Unreachable {
        url: redact_url(url),
        reason: e.to_string(),
    };
    let (mut client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(|e| unreachable(&e))?;
    let driver = tokio::spawn(connection);
    if settings.migrate {
        let before = migrate::migrate(&mut client, &settings.schema)
            .await
            .map_err(|e| StartupError::Other(format!("migration failed: {e}")))?;
        tracing::info!(schema = %settings.schema, ?before, target = migrate::TARGET_VERSION, "schema migrated");
    }
    let schema = SchemaInfo::detect(&client, &settings.schema)
        .await
        .map_err(|e| unreachable(&e))?;
    drop(client);
    let _ = driver.await;
    schema.check().map_err(|reason| StartupError::Schema {
        schema: settings.schema.clone(),
        reason: reason.to_string(),
    })?;
    tracing::info!(schema = %schema.name, version = ?schema.version, "DBOS schema detected");
    Repo::new(url, &settings.pool, schema).map_err(|e| StartupError::BadUrl(e.to_string()))
}

/// Serves on `listener` until `shutdown` resolves. Background tasks (hub listener and poller, health
/// checks) stop with it.
pub async fn serve(
    repo: Repo,
    settings: &Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), StartupError> {
    serve_with_hub(repo, Hub::new(), settings, listener, shutdown).await
}

/// [`serve`] with a hub the caller keeps (tests and benchmarks read its counters).
pub async fn serve_with_hub(
    repo: Repo,
    hub: Arc<Hub>,
    settings: &Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), StartupError> {
    serve_when_ready(async { Ok(repo) }, hub, settings, listener, shutdown).await
}

/// Serves on `listener` at once, with the API behind a closed [`Gate`] (UNAVAILABLE, health
/// NOT_SERVING) until `ready` yields the repository; a startup error from `ready` stops the server
/// and is returned.
pub async fn serve_when_ready(
    ready: impl Future<Output = Result<Repo, StartupError>> + Send + 'static,
    hub: Arc<Hub>,
    settings: &Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), StartupError> {
    let (reporter, health_service) = tonic_health::server::health_reporter();
    // NOT_SERVING until the first check passes (the reporter starts "" as SERVING).
    for service in ["", health::SERVICE_NAME] {
        reporter
            .set_service_status(service, tonic_health::ServingStatus::NotServing)
            .await;
    }

    let reflection = |b: tonic_reflection::server::Builder<'static>| {
        b.register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection(tonic_reflection::server::Builder::configure())
        .build_v1()
        .map_err(|e| StartupError::Other(format!("reflection: {e}")))?;
    let reflection_v1alpha = reflection(tonic_reflection::server::Builder::configure())
        .build_v1alpha()
        .map_err(|e| StartupError::Other(format!("reflection: {e}")))?;

    let gate = Gate::default();
    let (failed_tx, failed_rx) = oneshot::channel();
    let start_task = tokio::spawn(start(
        ready,
        hub,
        settings.clone(),
        reporter,
        gate.clone(),
        failed_tx,
    ));
    // Stop serving when startup fails (the sender is dropped unused when it succeeds).
    let mut failed = None;
    let stop = async {
        tokio::select! {
            () = shutdown => {}
            Ok(e) = failed_rx => failed = Some(e),
        }
    };
    let result = Server::builder()
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(gate)
        .serve_with_incoming_shutdown(incoming(listener), stop)
        .await
        .map_err(|e| StartupError::Other(format!("gRPC server failed: {e}")));
    // Aborting the start task drops its guards, which abort the background tasks it started.
    start_task.abort();
    match failed {
        Some(e) => Err(e),
        None => result,
    }
}

/// Waits for the repository, then starts the background tasks (hub listener and poller, health
/// checks) and opens the gate; keeps the tasks until aborted.
async fn start(
    ready: impl Future<Output = Result<Repo, StartupError>>,
    hub: Arc<Hub>,
    settings: Settings,
    reporter: tonic_health::server::HealthReporter,
    gate: Gate,
    failed: oneshot::Sender<StartupError>,
) {
    let repo = match ready.await {
        Ok(repo) => repo,
        Err(e) => {
            let _ = failed.send(e);
            return;
        }
    };
    let _tasks = [
        AbortOnDrop(tokio::spawn(hub::listener::run(
            settings.database_url.clone(),
            Arc::clone(&hub),
        ))),
        AbortOnDrop(tokio::spawn(hub::poller::run(
            repo.clone(),
            Arc::clone(&hub),
            settings.hub_tick,
        ))),
        AbortOnDrop(tokio::spawn(health::run(
            reporter,
            settings.database_url.clone(),
            settings.schema.clone(),
            settings.health_interval,
        ))),
    ];
    gate.open(WorkflowApi::new(
        repo,
        hub,
        settings.application_name.clone(),
    ));
    std::future::pending::<()>().await;
}

/// [`prepare`], retried with backoff while the database is unreachable or its schema not yet
/// servable, for up to `wait` (then the last error).
pub async fn prepare_waiting(settings: &Settings, wait: Duration) -> Result<Repo, StartupError> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut backoff = Duration::from_millis(100);
    loop {
        match prepare(settings).await {
            Err(e @ (StartupError::Unreachable { .. } | StartupError::Schema { .. })) => {
                let now = tokio::time::Instant::now();
                if now >= deadline {
                    return Err(e);
                }
                tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "waiting for the system database");
                tokio::time::sleep(backoff.min(deadline - now)).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
            other => return other,
        }
    }
}

/// Aborts a background task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Accepted connections with TCP_NODELAY: a stream's small messages must not wait for Nagle.
fn incoming(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener).with_nodelay(Some(true))
}
