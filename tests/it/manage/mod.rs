//! Workflow management (`src/api/manage/`, `src/repo/manage/`): cancel, resume and delete
//! (`control.rs`), bulk selections by filter, forks, steps and in-flight changes, and management on
//! an older schema, against the tables; and every one of them against real DBOS workers
//! (`workers.rs`, `workers_fork.rs`).

mod bulk;
mod control;
mod fork;
mod older_schema;
mod steps;
mod workers;
mod workers_fork;
