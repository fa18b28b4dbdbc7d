//! `dbosd version list|set-latest`: application versions.

use std::process::ExitCode;

use serde_json::Value as Json;

use super::{
    args_more::{ApplicationFilter, SetLatestArgs},
    client::{rpc_error, Client},
    output::Printer,
    render, CliResult,
};
use crate::pb;

pub async fn list(client: &mut Client, p: Printer, a: ApplicationFilter) -> CliResult {
    let resp = client
        .list_application_versions(pb::ListApplicationVersionsRequest {
            application_names: a.applications,
        })
        .await
        .map_err(|e| rpc_error("ListApplicationVersions", e))?
        .into_inner();
    let rows: Vec<Json> = resp.versions.iter().map(render::version).collect();
    let mut out = p.list(&[
        ("VERSION", "versionName"),
        ("APPLICATION", "applicationName"),
        ("TIMESTAMP", "versionTimestamp"),
        ("CREATED", "createdAt"),
    ]);
    out.page(&rows);
    out.finish();
    Ok(ExitCode::SUCCESS)
}

pub async fn set_latest(client: &mut Client, p: Printer, a: SetLatestArgs) -> CliResult {
    let resp = client
        .set_latest_application_version(pb::SetLatestApplicationVersionRequest {
            version_name: a.version,
            application_name: a.application,
        })
        .await
        .map_err(|e| rpc_error("SetLatestApplicationVersion", e))?
        .into_inner();
    p.fields(&resp.version.as_ref().map_or(Json::Null, render::version));
    Ok(ExitCode::SUCCESS)
}
