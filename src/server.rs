//! Startup and serving: connect and check (or migrate) the schema, then serve WorkflowService, health
//! and reflection on a listener until the shutdown future resolves.

use std::{future::Future, sync::Arc};

use tokio::net::TcpListener;
use tokio_postgres::NoTls;
use tonic::transport::{server::TcpIncoming, Server};

use crate::{
    api::WorkflowApi,
    config::{redact_url, Settings},
    health,
    hub::{self, Hub},
    pb::{self, workflow_service_server::WorkflowServiceServer},
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
    let listen_task = tokio::spawn(hub::listener::run(
        settings.database_url.clone(),
        Arc::clone(&hub),
    ));
    let poll_task = tokio::spawn(hub::poller::run(
        repo.clone(),
        Arc::clone(&hub),
        settings.hub_tick,
    ));

    let (reporter, health_service) = tonic_health::server::health_reporter();
    // NOT_SERVING until the first check passes (the reporter starts "" as SERVING).
    reporter
        .set_service_status("", tonic_health::ServingStatus::NotServing)
        .await;
    reporter
        .set_service_status(
            health::SERVICE_NAME,
            tonic_health::ServingStatus::NotServing,
        )
        .await;
    let health_task = tokio::spawn(health::run(
        reporter,
        settings.database_url.clone(),
        settings.schema.clone(),
        settings.health_interval,
    ));

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

    let api = WorkflowApi::new(repo, hub, settings.application_name.clone());
    let result = Server::builder()
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(WorkflowServiceServer::new(api))
        .serve_with_incoming_shutdown(incoming(listener), shutdown)
        .await
        .map_err(|e| StartupError::Other(format!("gRPC server failed: {e}")));
    listen_task.abort();
    poll_task.abort();
    health_task.abort();
    result
}

/// Accepted connections with TCP_NODELAY: a stream's small messages must not wait for Nagle.
fn incoming(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener).with_nodelay(Some(true))
}
