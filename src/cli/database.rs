//! `dbosd database list`: the system databases a dbosd serves that the caller's token may use,
//! with their health. Other commands pick one with `--database NAME` (or a profile's `database`).

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::{json, Value as Json};

use super::{
    client::{rpc_error, Client},
    output::Printer,
    CliResult, ClientArgs,
};
use crate::pb;

/// `dbosd database ...`.
#[derive(Debug, Args)]
pub struct FleetArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(subcommand)]
    pub command: FleetCommand,
}

/// The database commands.
#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// List the databases this dbosd serves (that your token may use), with their health.
    List,
}

const COLUMNS: &[(&str, &str)] = &[
    ("NAME", "name"),
    ("DEFAULT", "isDefault"),
    ("HEALTH", "health"),
    ("HEALTH SERVICE", "healthService"),
];

pub async fn list(client: &mut Client, p: Printer) -> CliResult {
    let resp = client
        .list_databases(pb::ListDatabasesRequest {})
        .await
        .map_err(|e| rpc_error("ListDatabases", e))?
        .into_inner();
    let rows: Vec<Json> = resp.databases.iter().map(row).collect();
    let mut out = p.list(COLUMNS);
    out.page(&rows);
    out.finish();
    Ok(ExitCode::SUCCESS)
}

fn row(d: &pb::DatabaseInfo) -> Json {
    let health = d.health().as_str_name();
    json!({
        "name": d.name,
        "isDefault": d.is_default,
        "health": health.trim_start_matches("DATABASE_HEALTH_"),
        "healthService": d.health_service,
    })
}
