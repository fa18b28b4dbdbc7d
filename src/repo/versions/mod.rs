//! Application versions and renames.

pub mod app_versions;
pub mod rename;
