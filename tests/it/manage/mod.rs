//! Workflow management (`src/api/manage/`, `src/repo/manage/`): cancel, resume and delete
//! (`control.rs`), forks, steps and in-flight changes against the tables, and every one of them
//! against real DBOS workers (`workers.rs`).

pub mod control;
mod fork;
mod steps;
mod workers;
