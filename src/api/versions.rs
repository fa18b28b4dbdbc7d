//! ListApplicationVersions, GetLatestApplicationVersion, SetLatestApplicationVersion and
//! RenameApplication: who an application is, and which of its versions takes unpinned work.

use crate::api::{
    convert::{ms_to_timestamp, required, text},
    WorkflowApi,
};
use crate::{
    error::{Error, Result},
    model::{Rename, VersionRow},
    pb,
};

/// Terminal workflows moved per transaction when the request names no batch size (DBOS's default).
const DEFAULT_RENAME_BATCH: i64 = 10_000;

impl WorkflowApi {
    pub(super) async fn list_versions(
        &self,
        req: &pb::ListApplicationVersionsRequest,
    ) -> Result<pb::ListApplicationVersionsResponse> {
        let owners = self.owner_filter(&req.application_names)?;
        let rows = self.repo.list_versions(&owners).await?;
        Ok(pb::ListApplicationVersionsResponse {
            versions: rows.iter().map(render).collect(),
        })
    }

    pub(super) async fn latest_version(
        &self,
        req: &pb::GetLatestApplicationVersionRequest,
    ) -> Result<pb::GetLatestApplicationVersionResponse> {
        let owner = self.acting_app(req.application_name.as_ref())?;
        let row = self
            .repo
            .latest_version(owner.as_deref())
            .await?
            .ok_or_else(|| Error::NotFound("no application version is registered".to_owned()))?;
        Ok(pb::GetLatestApplicationVersionResponse {
            version: Some(render(&row)),
        })
    }

    pub(super) async fn set_latest_version(
        &self,
        req: &pb::SetLatestApplicationVersionRequest,
    ) -> Result<pb::SetLatestApplicationVersionResponse> {
        let version = required("version_name", &req.version_name)?;
        let owner = self.acting_app(req.application_name.as_ref())?;
        let row = self
            .repo
            .set_latest_version(&version, owner.as_deref())
            .await?;
        Ok(pb::SetLatestApplicationVersionResponse {
            version: Some(render(&row)),
        })
    }

    pub(super) async fn rename_app(
        &self,
        req: &pb::RenameApplicationRequest,
    ) -> Result<pb::RenameApplicationResponse> {
        let rename = rename(req)?;
        let counts = self.repo.rename_application(&rename).await?;
        let n = |v: u64| v as i64;
        Ok(pb::RenameApplicationResponse {
            queues: n(counts.queues),
            schedules: n(counts.schedules),
            versions: n(counts.versions),
            workflows: n(counts.workflows),
            steps: n(counts.steps),
        })
    }

    /// The application a call acts as: the request's (empty: none), else dbosd's configured one.
    pub(super) fn acting_app(&self, requested: Option<&String>) -> Result<Option<String>> {
        match requested.map(String::as_str) {
            None => Ok(self.default_app.clone()),
            Some("") => Ok(None),
            Some(app) => text("application_name", app).map(Some),
        }
    }
}

fn rename(req: &pb::RenameApplicationRequest) -> Result<Rename> {
    let old_name = match &req.old_name {
        Some(old) if old.is_empty() => {
            return Err(Error::invalid("old_name", "must not be empty when given"))
        }
        old => old.as_deref().map(|o| text("old_name", o)).transpose()?,
    };
    if old_name.is_none() && !req.adopt_unclaimed_rows {
        return Err(Error::invalid(
            "old_name",
            "is required unless adopt_unclaimed_rows is set (nothing to move otherwise)",
        ));
    }
    let new_name = &req.new_name;
    let valid = (3..=256).contains(&new_name.len())
        && new_name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !valid {
        return Err(Error::invalid(
            "new_name",
            "must be 3 to 256 characters of lowercase letters, digits, '-' and '_' (a DBOS application name)",
        ));
    }
    if old_name.as_deref() == Some(new_name.as_str()) {
        return Err(Error::invalid(
            "new_name",
            "equals old_name; nothing to rename",
        ));
    }
    let batch_size = match (req.single_transaction, req.batch_size) {
        (_, Some(n)) if n < 1 => return Err(Error::invalid("batch_size", "must be at least 1")),
        (true, Some(_)) => {
            return Err(Error::invalid(
                "batch_size",
                "cannot be combined with single_transaction",
            ))
        }
        (true, None) => None,
        (false, n) => Some(n.map_or(DEFAULT_RENAME_BATCH, i64::from)),
    };
    Ok(Rename {
        old_name,
        new_name: new_name.clone(),
        batch_size,
        adopt_unclaimed: req.adopt_unclaimed_rows,
    })
}

fn render(row: &VersionRow) -> pb::ApplicationVersion {
    pb::ApplicationVersion {
        version_id: row.version_id.clone(),
        version_name: row.version_name.clone(),
        version_timestamp: Some(ms_to_timestamp(row.version_timestamp)),
        created_at: Some(ms_to_timestamp(row.created_at)),
        application_name: row.application_name.clone().unwrap_or_default(),
    }
}
