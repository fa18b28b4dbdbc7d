//! The registry RPCs against the tables: queues (`src/api/queues.rs`) and application versions
//! with RenameApplication (`src/api/versions.rs`, `src/repo/versions/`). The worker-side tests are
//! in `interop/registry.rs`.

mod queues;
mod versions;
