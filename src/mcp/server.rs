//! The MCP handler: the tools of the families in `tools_*` (the management ones only when writes
//! are allowed, so they are absent from `tools/list` otherwise), and each workflow as the resource
//! `dbos://workflow/<id>`.

use rmcp::{
    handler::server::router::tool::ToolRouter,
    model::{
        Implementation, ListResourceTemplatesResult, PaginatedRequestParams,
        ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, ResourceContents,
        ResourceTemplate, ServerCapabilities, ServerConfig,
    },
    service::RequestContext,
    tool_handler, ErrorData, RoleServer, ServerHandler,
};

use super::{bounds, channel::code_name, Api};

/// The URI prefix of a workflow resource.
const WORKFLOW_URI: &str = "dbos://workflow/";

const INSTRUCTIONS: &str =
    "dbosd serves a DBOS system database: the workflows DBOS applications run, \
their steps, events, streams, queues and schedules. Start with count_workflows or list_workflows \
(filter by status ERROR to find failures), then get_workflow and list_steps on one id. Results are \
bounded (64 KiB; payloads cut with a marker). You see only what your token's applications own.";

/// dbosd's MCP server for one caller (HTTP) or one session (stdio).
#[derive(Clone)]
pub struct DbosdMcp {
    pub(super) api: Api,
    tool_router: ToolRouter<DbosdMcp>,
}

impl DbosdMcp {
    /// The server over `api`; the management tools exist only when `allow_writes`.
    pub fn new(api: Api, allow_writes: bool) -> DbosdMcp {
        let mut tool_router = Self::read_tools() + Self::more_tools() + Self::inbox_tools();
        if allow_writes {
            tool_router += Self::manage_tools();
        }
        DbosdMcp { api, tool_router }
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for DbosdMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
        .with_server_info(Implementation::new("dbosd", env!("CARGO_PKG_VERSION")))
        .with_instructions(INSTRUCTIONS)
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let template = ResourceTemplate::new(format!("{WORKFLOW_URI}{{workflow_id}}"), "workflow")
            .with_description(
                "A DBOS workflow by id, as get_workflow returns it (JSON, payloads cut at 16 KiB)",
            )
            .with_mime_type("application/json");
        Ok(ListResourceTemplatesResult::with_all_items(vec![template]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let id = request
            .uri
            .strip_prefix(WORKFLOW_URI)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| {
                ErrorData::resource_not_found(
                    format!("{} is not a dbos://workflow/<id> resource", request.uri),
                    None,
                )
            })?;
        let value = self.workflow(&ctx, id).await.map_err(|status| {
            let message = format!("{}: {}", code_name(status.code()), status.message());
            match status.code() {
                tonic::Code::NotFound => ErrorData::resource_not_found(message, None),
                tonic::Code::InvalidArgument => ErrorData::invalid_params(message, None),
                _ => ErrorData::internal_error(message, None),
            }
        })?;
        let contents = ResourceContents::TextResourceContents {
            uri: request.uri.clone(),
            mime_type: Some("application/json".into()),
            text: bounds::text(&value),
            meta: None,
        };
        Ok(ReadResourceResult::new(vec![contents]).into())
    }
}
