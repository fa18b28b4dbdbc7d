//! `dbosd workflow export ID > f.json` and `dbosd workflow import f.json [--as NEW_ID]`: a
//! workflow as a portable file (ExportWorkflow's document, written to stdout as is) and back
//! (ImportWorkflow), so a production workflow can be replayed on a dev database.

use std::process::ExitCode;

use clap::Args;
use serde_json::json;

use super::{
    client::{rpc_error, Client},
    output::Printer,
    CliError, CliResult,
};
use crate::pb;

/// `workflow export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The workflow id.
    pub workflow_id: String,
    /// Also export its child workflows, recursively.
    #[arg(long)]
    pub children: bool,
}

/// `workflow import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file `dbosd workflow export` wrote (`-` reads stdin).
    pub file: String,
    /// Import the workflow under this id (its children follow) instead of its own.
    #[arg(long = "as", value_name = "NEW_ID")]
    pub as_id: Option<String>,
}

pub async fn export(client: &mut Client, a: ExportArgs) -> CliResult {
    let resp = client
        .export_workflow(pb::ExportWorkflowRequest {
            workflow_id: a.workflow_id,
            include_children: a.children,
        })
        .await
        .map_err(|e| rpc_error("ExportWorkflow", e))?
        .into_inner();
    outln!("{}", resp.document);
    Ok(ExitCode::SUCCESS)
}

pub async fn import(client: &mut Client, p: Printer, a: ImportArgs) -> CliResult {
    let document = if a.file == "-" {
        std::io::read_to_string(std::io::stdin())
            .map_err(|e| CliError::from(format!("cannot read stdin: {e}")))?
    } else {
        std::fs::read_to_string(&a.file)
            .map_err(|e| CliError::usage(format!("cannot read {}: {e}", a.file)))?
    };
    let resp = client
        .import_workflow(pb::ImportWorkflowRequest {
            document,
            as_workflow_id: a.as_id,
        })
        .await
        .map_err(|e| rpc_error("ImportWorkflow", e))?
        .into_inner();
    p.fields(&json!({"workflowId": resp.workflow_id, "workflowIds": resp.workflow_ids}));
    Ok(ExitCode::SUCCESS)
}
