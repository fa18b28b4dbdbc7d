//! The server process (`src/server.rs`, `src/main.rs`, `src/shutdown.rs`, `src/health.rs`,
//! `src/tls.rs`): startup errors and `start-dev`, graceful drain, health and reflection, TLS
//! (with the test certificates of `certs.rs`).

pub mod certs;
mod drain;
mod health_reflection;
mod startup;
mod tls;
