//! dbosd integration tests: one binary, one module per RPC family. Everything is real: a private
//! PostgreSQL (or `DBOS_TEST_DATABASE_URL`), gRPC over loopback, and real DBOS Python and TypeScript workers.

#[macro_use]
mod harness;

mod auth;
mod authz_audit;
mod authz_bulk;
mod authz_foreign;
mod authz_policy;
mod authz_setup;
mod authz_waits;
mod batch;
mod cli;
mod debounce;
mod deploy;
mod drain;
mod enqueue;
mod enqueue_batch;
mod enqueue_shared;
mod events_messages;
mod examples;
mod failures;
mod grpcurl;
mod health_reflection;
mod http;
mod interop;
mod layout;
mod limits;
mod list;
mod management;
mod management_fork;
mod management_steps;
mod management_workers;
mod native_payloads;
mod pgbouncer;
mod proto_lint;
mod registry;
mod registry_versions;
mod reliability;
mod reliability_clients;
mod reliability_input;
mod reliability_memory;
mod reliability_restart;
mod reliability_soak;
mod reliability_startup;
mod replicas;
mod schedules;
mod schedules_apply;
mod schema;
mod startup;
mod telemetry;
mod tls;
mod waits;
mod watch;
