//! How a tool reaches the gRPC API: a boxed tonic channel (over the network for `dbosd mcp`, or
//! in-process over the server's own layered service stack for `/mcp`), and the caller's
//! credentials put on each call: the MCP HTTP request's `authorization` and `x-request-id` headers
//! and its peer address, or for stdio the `--token` given to `dbosd mcp`.

use http::request::Parts;
use rmcp::{
    model::{CallToolResult, ContentBlock},
    service::RequestContext,
    RoleServer,
};
use tonic::{
    metadata::{Ascii, MetadataValue},
    transport::server::TcpConnectInfo,
    Code, Status,
};
use tower::util::BoxCloneSyncService;

use crate::pb::workflow_service_client::WorkflowServiceClient;

/// Any gRPC transport, boxed so the tools need not be generic over it.
pub type GrpcChannel = BoxCloneSyncService<
    http::Request<tonic::body::Body>,
    http::Response<tonic::body::Body>,
    ChannelError,
>;

/// A transport failure (a concrete type: tonic's client bounds cannot be proven `Send` for a bare
/// boxed error inside the tools' futures).
#[derive(Debug)]
pub struct ChannelError(pub tower::BoxError);

impl std::fmt::Display for ChannelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for ChannelError {}

/// The gRPC API as the tools call it.
#[derive(Clone)]
pub struct Api {
    channel: GrpcChannel,
    /// Sent when the MCP request brings no `authorization` of its own (stdio's `--token`).
    token: Option<MetadataValue<Ascii>>,
    /// Sent when the MCP request names no `dbos-database` of its own (stdio's `--database`).
    database: Option<MetadataValue<Ascii>>,
}

impl Api {
    /// Calls over `channel`; `token` is sent on calls that carry no HTTP `authorization` header.
    pub fn new(channel: GrpcChannel, token: Option<&str>) -> Result<Api, String> {
        let token = token
            .map(|t| format!("Bearer {t}").parse())
            .transpose()
            .map_err(|_| "--token must be printable ASCII".to_owned())?;
        Ok(Api {
            channel,
            token,
            database: None,
        })
    }

    /// Names the database of calls whose MCP request names none.
    pub fn with_database(mut self, database: Option<&str>) -> Result<Api, String> {
        self.database = database
            .map(str::parse)
            .transpose()
            .map_err(|_| "--database must be printable ASCII".to_owned())?;
        Ok(self)
    }

    /// A client for one call. The server bounds its replies (`--max-message-bytes`); the tools bound
    /// what they return, so the client takes whatever the server sends.
    pub fn client(&self) -> WorkflowServiceClient<GrpcChannel> {
        WorkflowServiceClient::new(self.channel.clone()).max_decoding_message_size(usize::MAX)
    }

    /// `message` as a gRPC request carrying the MCP caller's credentials and request id.
    pub fn request<T>(&self, ctx: &RequestContext<RoleServer>, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        let parts = ctx.extensions.get::<Parts>();
        let header = |name: &str| {
            parts
                .and_then(|p| p.headers.get(name))
                .and_then(|v| v.to_str().ok())
                .and_then(|v| MetadataValue::try_from(v).ok())
        };
        if let Some(auth) = header("authorization").or_else(|| self.token.clone()) {
            request.metadata_mut().insert("authorization", auth);
        }
        // The MCP request's database is the tools' calls' database (one resolver for every surface).
        let database = crate::api::service::databases::DATABASE_HEADER;
        if let Some(name) = header(database).or_else(|| self.database.clone()) {
            request.metadata_mut().insert(database, name);
        }
        if let Some(id) = header(crate::telemetry::layer::REQUEST_ID) {
            request
                .metadata_mut()
                .insert(crate::telemetry::layer::REQUEST_ID, id);
        }
        // The audit record's peer is the MCP caller's address, as for a gRPC caller.
        if let Some(peer) = parts.and_then(|p| p.extensions.get::<TcpConnectInfo>()) {
            request.extensions_mut().insert(peer.clone());
        }
        request
    }
}

/// A failed call as the tool's error result: the gRPC code and message, as a gRPC caller sees them.
pub fn status_result(status: &Status) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(format!(
        "{}: {}",
        code_name(status.code()),
        status.message()
    ))])
}

/// A tool argument the tool itself rejects (before any call).
pub fn argument_error(message: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(format!(
        "INVALID_ARGUMENT: {}",
        message.into()
    ))])
}

/// gRPC's canonical name of a code (`NOT_FOUND`).
pub fn code_name(code: Code) -> String {
    let camel = format!("{code:?}");
    let mut out = String::with_capacity(camel.len() + 4);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_named_as_grpc_names_them() {
        assert_eq!(code_name(Code::NotFound), "NOT_FOUND");
        assert_eq!(code_name(Code::Ok), "OK");
        assert_eq!(code_name(Code::PermissionDenied), "PERMISSION_DENIED");
        assert_eq!(code_name(Code::InvalidArgument), "INVALID_ARGUMENT");
    }
}
