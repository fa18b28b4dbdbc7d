//! The DBOS schema (`src/repo/db/schema.rs`, `migrate.rs`, `row.rs`): what `dbosd migrate` creates,
//! which schemas dbosd serves, and a schema surprise answered without a panic.

mod compat;
mod surprise;
