//! Authentication and authorization (`src/auth/`, `src/api/service/authorize.rs`,
//! `src/repo/db/scope.rs`, `src/audit.rs`): tokens scoped to applications, the policy table, the
//! audit record of every write, and another application's workflows looking missing everywhere.
//! `setup.rs` is the shared two-application setup other test folders use too.

mod audit;
mod bulk;
mod foreign;
mod policy;
pub mod setup;
mod tokens;
mod waits;
