//! The gRPC handlers, one folder or file per concern (`workflows/`, `waits/`, `messaging.rs`,
//! `manage/`, `queues.rs`, `schedules/`, `versions.rs`, `batch.rs`, `debounce.rs`,
//! `aggregates.rs`), each an `impl WorkflowApi` block that converts and validates the request, calls
//! the repository with the caller's scope, and renders the response. No SQL here. Every RPC is one
//! row of [`rpcs`] (its policy and its handler); `service/` is the plumbing every call shares and
//! `convert/` the proto <-> model conversions.

mod aggregates;
mod batch;
pub mod convert;
mod debounce;
mod export;
mod inbox;
pub mod jobs;
mod manage;
mod messaging;
mod queues;
pub mod rpcs;
mod schedules;
pub mod service;
mod versions;
mod waits;
mod workflows;

/// The JSON <-> protobuf `Value` codec, at the path the CLI and the tests use.
pub use self::convert::json;

use std::sync::Arc;

use tonic::{Response, Status};

pub use self::service::databases::{Databases, HealthCell};
pub use crate::overload::Streams;
use crate::{
    auth::Principal,
    hub::Hub,
    repo::{workflows::coalescer::EnqueueCoalescer, Repo},
};

/// The `dbosd.v1.WorkflowService` implementation: resolves each call's database in the routing
/// table (`service::databases`), then serves it on that database's [`WorkflowApi`].
#[derive(Clone)]
pub struct FleetApi {
    databases: Databases,
}

impl FleetApi {
    /// The service over the databases of `databases` (which the fleet keeps up to date).
    pub fn new(databases: Databases) -> Self {
        FleetApi { databases }
    }
}

/// One database's service: its repository, enqueue coalescer, hub and stream slots.
#[derive(Clone)]
pub struct WorkflowApi {
    repo: Repo,
    /// Single enqueues, grouped into shared statements under load.
    enqueues: EnqueueCoalescer,
    hub: Arc<Hub>,
    /// Stamped on enqueued rows that name no application, and the default list filter (as DBOS clients do).
    default_app: Option<String>,
    /// Drain token and open-stream cap shared by every wait.
    streams: Streams,
    /// Who is calling (from the auth layer); `None` when tokens are off. Set per call by `begin`.
    caller: Option<Arc<Principal>>,
    /// Largest payload a call may write (`Settings::payload_limit`).
    payload_limit: usize,
    /// Largest response message (`--max-message-bytes`): list pages end before it.
    response_limit: usize,
    /// Raw native payloads: the operator switch and the pickle allowlist (see `schedules`).
    native: Arc<crate::native::NativePolicy>,
    /// The bulk jobs this replica's WatchBulkJob streams watch (`jobs::watch`).
    job_board: Arc<jobs::watch::Board>,
}

impl WorkflowApi {
    /// A service over `repo` (single enqueues through `enqueues`), waking waiters through `hub`; its waits end when `streams` drains.
    pub fn new(
        repo: Repo,
        enqueues: EnqueueCoalescer,
        hub: Arc<Hub>,
        default_app: Option<String>,
        streams: Streams,
    ) -> Self {
        WorkflowApi {
            enqueues,
            repo,
            hub,
            default_app,
            streams,
            caller: None,
            payload_limit: usize::MAX,
            response_limit: usize::MAX,
            native: Arc::default(),
            job_board: Arc::default(),
        }
    }

    /// The enqueue coalescer's counters (the metrics endpoint reads the default database's).
    pub fn enqueue_stats(&self) -> Arc<crate::repo::workflows::coalescer::EnqueueStats> {
        self.enqueues.stats()
    }

    /// Refuses payloads over `limit` bytes at write (see `convert::check_payload`).
    pub fn with_payload_limit(mut self, limit: usize) -> Self {
        self.payload_limit = limit;
        self
    }

    /// Ends list pages before they pass `limit` bytes (see `workflows::page`).
    pub fn with_response_limit(mut self, limit: usize) -> Self {
        self.response_limit = limit;
        self
    }
}

type RpcResult<T> = Result<Response<T>, Status>;
