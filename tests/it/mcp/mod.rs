//! MCP (`src/mcp/`, `src/cli/mcp.rs`): the tools as agents call them over HTTP and stdio
//! (`tools.rs`), the messages and stream keys tools (`inbox.rs`), and under scoped tokens
//! (`scope.rs`).

mod inbox;
mod scope;
mod tools;
