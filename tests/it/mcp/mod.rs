//! MCP (`src/mcp/`, `src/cli/mcp.rs`): the tools as agents call them over HTTP and stdio
//! (`tools.rs`), and under scoped tokens (`scope.rs`).

mod scope;
mod tools;
