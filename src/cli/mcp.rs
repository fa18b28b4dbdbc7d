//! `dbosd mcp`: MCP over stdio for editors and agents that spawn a command. It is a client of a
//! running dbosd (the CLI's connection: `--address`, `--token`, `--tls-ca`), so the tools' calls
//! are ordinary gRPC calls with that token.

use std::process::ExitCode;

use clap::Args;
use rmcp::ServiceExt;
use tower::{util::BoxCloneSyncService, ServiceExt as _};

use super::ClientArgs;
use crate::mcp::{Api, ChannelError, DbosdMcp};

/// `dbosd mcp` options.
#[derive(Debug, Args)]
pub struct McpArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Offer the management tools (cancel, resume, fork, delete one workflow); the token's scope
    /// still decides what they may touch.
    #[arg(long, env = "DBOSD_MCP_ALLOW_WRITES")]
    pub allow_writes: bool,
}

/// Serves MCP on stdin/stdout until the client closes it.
pub async fn run(args: McpArgs) -> Result<ExitCode, String> {
    let (channel, token) = super::channel(&args.client).await.map_err(|e| e.message)?;
    let grpc = BoxCloneSyncService::new(channel.map_err(|e| ChannelError(e.into())));
    let database = super::profile::resolve(&args.client)
        .map_err(|e| e.message)?
        .database;
    let api = Api::new(grpc, token.as_deref())?.with_database(database.as_deref())?;
    let running = DbosdMcp::new(api, args.allow_writes)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| format!("MCP over stdio: {e}"))?;
    running
        .waiting()
        .await
        .map_err(|e| format!("MCP over stdio: {e}"))?;
    Ok(ExitCode::SUCCESS)
}
