//! `application_versions`: list, latest, and "set latest" (which decides who dequeues unpinned work).

use crate::repo::db::row::Columns;
use crate::repo::Unnamed;
use tokio_postgres::Row;

use crate::repo::{db::classify::classify, db::schema::SchemaInfo, Repo};
use crate::{
    error::{Error, Result},
    model::{resolve_owner, VersionRow},
};

const COLUMNS: &str = "version_id, version_name, version_timestamp, created_at, application_name";

/// The version statements, for a schema with owned versions (DBOS migrations 13 and 103).
#[derive(Debug, Clone)]
pub(crate) struct VersionSql {
    list: String,
    latest: String,
    lock: String,
    set_latest: String,
}

impl VersionSql {
    /// None when the schema lacks `application_versions.application_name`.
    pub fn build(s: &SchemaInfo) -> Option<Self> {
        if !s.has_column("application_versions", "application_name") {
            return None;
        }
        let av = s.table("application_versions");
        Some(VersionSql {
            list: format!(
                "SELECT {COLUMNS} FROM {av} WHERE cardinality($1::text[]) = 0 \
                 OR application_name = ANY($1) OR application_name IS NULL \
                 ORDER BY version_timestamp DESC, version_name"
            ),
            // An application sees its own versions and the unclaimed ones (DBOS's latest rule).
            latest: format!(
                "SELECT {COLUMNS} FROM {av} WHERE $1::text IS NULL OR application_name = $1 \
                 OR application_name IS NULL ORDER BY version_timestamp DESC LIMIT 1"
            ),
            lock: format!("SELECT application_name FROM {av} WHERE version_name = $1 FOR UPDATE"),
            // Newer than every version, even one stamped by a clock ahead of the database's.
            set_latest: format!(
                "UPDATE {av} SET version_timestamp = GREATEST((EXTRACT(epoch FROM now()) * 1000)::bigint, \
                 (SELECT COALESCE(MAX(version_timestamp), 0) + 1 FROM {av})), application_name = $2 \
                 WHERE version_name = $1 RETURNING {COLUMNS}"
            ),
        })
    }
}

impl Repo {
    fn version_sql(&self) -> Result<&VersionSql> {
        self.sql().versions.as_ref().ok_or_else(|| {
            Error::FailedPrecondition(
                "this DBOS schema has no owned application versions (DBOS migrations 13 and 103)"
                    .to_owned(),
            )
        })
    }

    /// Versions of `owners` plus unclaimed ones (all when `owners` is empty), newest first.
    pub async fn list_versions(&self, owners: &[String]) -> Result<Vec<VersionRow>> {
        let sql = self.version_sql()?;
        let conn = self.conn().await?;
        let rows = conn
            .query_unnamed(sql.list.as_str(), &[&owners])
            .await
            .map_err(|e| classify("listing application versions", e))?;
        rows.iter().map(decode).collect()
    }

    /// The latest version `owner` sees (any application's when None).
    pub async fn latest_version(&self, owner: Option<&str>) -> Result<Option<VersionRow>> {
        let sql = self.version_sql()?;
        let conn = self.conn().await?;
        let row = conn
            .query_opt_unnamed(sql.latest.as_str(), &[&owner])
            .await
            .map_err(|e| classify("reading the latest application version", e))?;
        row.as_ref().map(decode).transpose()
    }

    /// Makes `version` the latest, acting as `owner`: an unclaimed version becomes the owner's; a
    /// version of another application is refused (FAILED_PRECONDITION).
    pub async fn set_latest_version(
        &self,
        version: &str,
        owner: Option<&str>,
    ) -> Result<VersionRow> {
        let ctx = "setting the latest application version";
        let sql = self.version_sql()?;
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(|e| classify(ctx, e))?;
        let existing = tx
            .query_opt_unnamed(sql.lock.as_str(), &[&version])
            .await
            .map_err(|e| classify(ctx, e))?
            .ok_or_else(|| {
                Error::NotFound(format!("application version {version} is not registered"))
            })?;
        let current: Option<String> = existing.col(0)?;
        let owner = resolve_owner(current.as_deref(), true, owner).map_err(|current| {
            Error::FailedPrecondition(format!(
                "application version {version} belongs to application {current}"
            ))
        })?;
        let row = tx
            .query_one_unnamed(sql.set_latest.as_str(), &[&version, &owner])
            .await
            .map_err(|e| classify(ctx, e))?;
        let row = decode(&row)?;
        tx.commit().await.map_err(|e| classify(ctx, e))?;
        Ok(row)
    }
}

fn decode(row: &Row) -> Result<VersionRow> {
    let decode = || -> Result<VersionRow, tokio_postgres::Error> {
        Ok(VersionRow {
            version_id: row.try_get("version_id")?,
            version_name: row.try_get("version_name")?,
            version_timestamp: row.try_get("version_timestamp")?,
            created_at: row.try_get("created_at")?,
            application_name: row.try_get("application_name")?,
        })
    };
    decode().map_err(|e| Error::internal("decoding an application_versions row", e))
}
