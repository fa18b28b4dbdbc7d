//! dbosd integration tests: one binary, one folder per concern, mirroring `src/` (see
//! ARCHITECTURE.md, "tests/it/"). Everything is real: a private PostgreSQL (or
//! `DBOS_TEST_DATABASE_URL`), gRPC over loopback, and real DBOS Python and TypeScript workers.

#[macro_use]
mod harness;

mod attack;
mod auth;
mod cli;
mod console;
mod conventions;
mod deploy;
mod docs;
mod export;
mod fleet;
mod http;
mod interop;
mod jobs;
mod manage;
mod mcp;
mod messaging;
mod otel;
mod overload;
mod registry;
mod reliability;
mod retention;
mod schedules;
mod schema;
mod server;
mod telemetry;
mod waits;
mod workflow_metrics;
mod workflows;
