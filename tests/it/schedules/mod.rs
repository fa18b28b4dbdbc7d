//! Schedules (`src/api/schedules/`, `src/repo/schedules.rs`, `src/native/`): the CRUD RPCs,
//! trigger and backfill, ApplySchedules, and raw native contexts. The worker-side test is in
//! `interop/schedules.rs`.

mod apply;
mod crud;
mod fire;
pub mod native_payloads;
