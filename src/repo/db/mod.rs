//! The database plumbing under every concern: the pool's connections, unnamed statements, the one
//! statement-execution path, error classification, the schema probe and migration, and the scope predicate.

pub mod classify;
pub(crate) mod connect_failures;
pub mod migrate;
pub mod pooled;
pub mod row;
pub mod schema;
pub(crate) mod scope;
pub(crate) mod statement;
pub(crate) mod unnamed;
