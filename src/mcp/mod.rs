//! The Model Context Protocol for AI agents (README, MCP): tools that list, inspect and (with
//! `--mcp-allow-writes`) manage workflows, served over streamable HTTP at `/mcp` on the gRPC port
//! (`http`) and over stdio by `dbosd mcp` (`crate::cli::mcp`). Every tool is one or two calls of the
//! WorkflowService gRPC API carrying the caller's bearer token (`channel`), so authentication, the
//! per-RPC policy, scopes, limits, audit records and metrics are gRPC's own. `server` is the MCP
//! handler, the `tools_*` files the tool families, `render` turns replies into bounded JSON
//! (`bounds`), `params` reads the tools' arguments.

/// The reply of a gRPC call, or (returning from the tool) its status as the tool's error result.
macro_rules! grpc {
    ($call:expr) => {
        match $call.await {
            Ok(reply) => reply.into_inner(),
            Err(status) => return Ok($crate::mcp::channel::status_result(&status)),
        }
    };
}

/// The value of an argument conversion, or (returning from the tool) its error as the result.
macro_rules! arg {
    ($conversion:expr) => {
        match $conversion {
            Ok(value) => value,
            Err(message) => return Ok($crate::mcp::channel::argument_error(message)),
        }
    };
}

mod bounds;
mod channel;
pub mod http;
mod params;
mod render;
mod server;
mod tools_inbox;
mod tools_manage;
mod tools_more;
mod tools_read;

pub use bounds::MAX_RESULT_BYTES;
pub use channel::{Api, ChannelError, GrpcChannel};
pub use server::DbosdMcp;

/// How dbosd serves MCP at `/mcp`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct McpSettings {
    /// List and accept the management tools (cancel, resume, fork, delete one workflow).
    pub allow_writes: bool,
    /// `Host` values accepted beyond the loopback names (DNS-rebinding protection).
    pub allowed_hosts: Vec<String>,
}
