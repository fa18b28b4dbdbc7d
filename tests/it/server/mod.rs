//! The server process (`src/server.rs`, `src/main.rs`, `src/shutdown.rs`, `src/health.rs`,
//! `src/tls.rs`, `src/connections.rs`): startup errors and `start-dev`, graceful drain, health and
//! reflection, TLS (with the test certificates of `certs.rs`), connection limits and keepalive.

pub mod certs;
mod connections;
mod drain;
mod health_reflection;
mod startup;
mod tls;
