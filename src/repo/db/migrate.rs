//! `dbosd migrate`: creates or upgrades a DBOS system schema to the end state of Python dbos 3.4.0
//! (migration 125), so DBOS workers started later find nothing to do; and creates dbosd's own
//! schema `dbosd` (its bulk-job table), which DBOS never touches.

use crate::repo::db::unnamed::Unnamed;
use tokio_postgres::Client;

use crate::error::Result;
use crate::repo::{db::classify::classify, db::schema::quote_ident};

/// The DBOS migration version the converge script produces.
pub const TARGET_VERSION: i64 = 125;

/// Idempotent DDL for the end state; `{{schema}}` stands for the quoted schema name.
const CONVERGE_SQL: &str = include_str!("schema/converge.sql");

/// dbosd's own tables, in schema `dbosd` (never inside DBOS's schema): idempotent DDL.
const DBOSD_SQL: &str = include_str!("schema/dbosd.sql");

/// The advisory lock DBOS migrators take, so dbosd and workers never migrate at the same time.
const MIGRATION_LOCK: i64 = 1_234_567_890;

/// Brings schema `schema` to [`TARGET_VERSION`] in one transaction. Returns the version found before.
/// A database already ahead of dbosd is left alone, as DBOS libraries do.
pub async fn migrate(client: &mut Client, schema: &str) -> Result<Option<i64>> {
    let ctx = "migrating the DBOS schema";
    let tx = client.transaction().await.map_err(|e| classify(ctx, e))?;
    tx.execute_unnamed("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(|e| classify(ctx, e))?;
    let before = crate::repo::db::schema::SchemaInfo::detect(&tx, schema)
        .await?
        .version;
    // dbosd's schema first: a DBOS schema already up to date still needs it.
    tx.batch_execute(DBOSD_SQL)
        .await
        .map_err(|e| classify(ctx, e))?;
    if before.is_some_and(|v| v >= TARGET_VERSION) {
        tx.commit().await.map_err(|e| classify(ctx, e))?;
        return Ok(before);
    }
    let quoted = quote_ident(schema);
    tx.batch_execute(&CONVERGE_SQL.replace("{{schema}}", &quoted))
        .await
        .map_err(|e| classify(ctx, e))?;
    let migrations = format!("{quoted}.dbos_migrations");
    let updated = tx
        .execute_unnamed(
            format!("UPDATE {migrations} SET version = $1 WHERE version < $1").as_str(),
            &[&TARGET_VERSION],
        )
        .await
        .map_err(|e| classify(ctx, e))?;
    if updated == 0 && before.is_none() {
        tx.execute_unnamed(
            format!("INSERT INTO {migrations} (version) VALUES ($1)").as_str(),
            &[&TARGET_VERSION],
        )
        .await
        .map_err(|e| classify(ctx, e))?;
    }
    tx.commit().await.map_err(|e| classify(ctx, e))?;
    Ok(before)
}
