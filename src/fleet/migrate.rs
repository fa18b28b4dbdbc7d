//! `dbosd migrate`: creates or upgrades the DBOS schema of each database given — the
//! `--database-url` one (named `default`) and every database of the config file, or only those
//! `--database` names — each in a session of its own, one after the other, saying what it did.

use tokio_postgres::NoTls;

use crate::{
    config::{redact_url, MigrateArgs},
    fleet_config::{parse_flag, DatabaseSpec, FleetConfig, DEFAULT_NAME},
    repo::db::migrate,
};

/// Migrates every database `args` selects.
pub async fn run(args: &MigrateArgs) -> Result<(), String> {
    let targets = targets(args)?;
    // The default database alone prints as dbosd always did; several are each named.
    let named = targets.len() > 1 || targets.iter().any(|t| t.name != DEFAULT_NAME);
    for t in &targets {
        let prefix = match named {
            true => format!("database {}: ", t.name),
            false => String::new(),
        };
        let url = t.direct_url.as_deref().unwrap_or(&t.url);
        let schema = t.schema.as_deref().unwrap_or(&args.database.schema);
        let line = one(url, schema).await.map_err(|e| format!("{prefix}{e}"))?;
        println!("{prefix}{line}");
    }
    Ok(())
}

/// The databases to migrate, in the order given.
fn targets(args: &MigrateArgs) -> Result<Vec<DatabaseSpec>, String> {
    let mut known = Vec::new();
    if let Some(url) = args.database.database_url.clone().filter(|u| !u.is_empty()) {
        let mut default = parse_flag(&format!("{DEFAULT_NAME}={url}"))?;
        default.direct_url = args
            .database
            .direct_database_url
            .clone()
            .filter(|u| !u.is_empty());
        known.push(default);
    }
    if let Some(path) = &args.config {
        known.extend(FleetConfig::load(path)?.databases);
    }
    if args.databases.is_empty() {
        if known.is_empty() {
            return Err(
                "no database: pass --database-url (or set DBOS_SYSTEM_DATABASE_URL), \
                        --config FILE or --database NAME=URL"
                    .to_owned(),
            );
        }
        return Ok(known);
    }
    args.databases
        .iter()
        .map(|given| match given.contains('=') {
            true => parse_flag(given),
            false => known
                .iter()
                .find(|d| d.name == *given)
                .cloned()
                .ok_or_else(|| {
                    format!("--database {given:?}: no such database in --config or --database-url")
                }),
        })
        .collect()
}

/// Migrates one database; the line saying what changed.
async fn one(url: &str, schema: &str) -> Result<String, String> {
    let (mut client, connection) = tokio_postgres::connect(url, NoTls).await.map_err(|e| {
        format!(
            "cannot connect to the system database at {}: {e}",
            redact_url(url)
        )
    })?;
    let driver = tokio::spawn(connection);
    let before = migrate::migrate(&mut client, schema)
        .await
        .map_err(|e| format!("migration failed: {e}"))?;
    drop(client);
    let _ = driver.await;
    let target = migrate::TARGET_VERSION;
    Ok(match before {
        Some(v) if v >= target => format!("schema {schema} is at version {v}; nothing to do"),
        Some(v) => format!("schema {schema} migrated from version {v} to {target}"),
        None => format!("schema {schema} created at version {target}"),
    })
}
