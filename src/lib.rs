//! dbosd: the DBOS Client API over gRPC, served directly on a DBOS system database.

pub mod api;
pub mod audit;
pub mod auth;
pub mod backoff;
pub mod cli;
pub mod codec;
pub mod config;
pub mod deadline;
pub mod error;
pub mod health;
pub mod http;
pub mod hub;
pub mod mcp;
pub mod model;
pub mod native;
pub mod overload;
pub mod pb;
pub mod pgcluster;
pub mod repo;
pub mod retention;
pub mod server;
pub mod shutdown;
pub mod sync;
pub mod telemetry;
pub mod tls;
pub mod waiting;
