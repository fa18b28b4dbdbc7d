//! Opening one database: connect, migrate if asked, check the schema, build its repository
//! ([`prepare`]), and the settings a configured database is opened with ([`settings_for`]).

use tokio_postgres::NoTls;

use crate::{
    config::{redact_url, Settings},
    fleet_config::DatabaseSpec,
    repo::{db::migrate, Repo, SchemaInfo},
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
    for url in [&settings.database_url, settings.direct_url()] {
        url.parse::<tokio_postgres::Config>()
            .map_err(|e| StartupError::BadUrl(e.to_string()))?;
    }
    // Migrating and inspecting the schema is session work: straight to PostgreSQL when we can.
    let url = settings.direct_url();
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
    Repo::new(
        &settings.database_url,
        settings.direct_url(),
        &settings.pool,
        schema,
    )
    .map_err(|e| StartupError::BadUrl(e.to_string()))
}

/// The settings database `spec` is served with: the server's, with what the spec sets. Its pool
/// keeps no idle connection, so a quiet database of a fleet costs no pooled connection.
pub fn settings_for(base: &Settings, spec: &DatabaseSpec) -> Settings {
    let mut settings = base.clone();
    settings.database_url = spec.url.clone();
    settings.direct_database_url = spec.direct_url.clone();
    if let Some(schema) = &spec.schema {
        settings.schema = schema.clone();
    }
    if let Some(size) = spec.pool_size {
        settings.pool.size = size;
    }
    settings.pool.min_idle = 0;
    settings.pool.idle_timeout = IDLE_TIMEOUT;
    if let Some(slots) = spec.enqueue_slots {
        settings.enqueue_slots = slots;
    }
    if spec.application_name.is_some() {
        settings.application_name = spec.application_name.clone();
    }
    settings.migrate = spec.migrate;
    settings.retention = spec
        .retention
        .apply(base.retention.as_ref(), &base.retention_pace);
    settings
}

/// How long an idle pooled connection of a fleet database stays open.
pub const IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
