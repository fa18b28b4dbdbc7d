//! The gRPC handlers: convert and validate the request, call the repository, render the response.
//! No SQL here; each RPC family lives in its own file as an `impl WorkflowApi` block.

mod convert;
mod enqueue;
mod inspect;
pub mod json;
mod list;
mod messaging;
mod render;
mod stream;
mod waits;
mod watch;
mod watch_workflows;

use std::sync::Arc;

use tonic::{Request, Response, Status};

use self::stream::RpcStream;
use crate::{hub::Hub, pb, repo::Repo};

/// The `dbosd.v1.WorkflowService` implementation.
#[derive(Clone)]
pub struct WorkflowApi {
    repo: Repo,
    hub: Arc<Hub>,
    /// Stamped on enqueued rows that name no application, and the default list filter (as DBOS clients do).
    default_app: Option<String>,
}

impl WorkflowApi {
    /// A service over `repo`, waking waiters through `hub`.
    pub fn new(repo: Repo, hub: Arc<Hub>, default_app: Option<String>) -> Self {
        WorkflowApi {
            repo,
            hub,
            default_app,
        }
    }
}

type RpcResult<T> = Result<Response<T>, Status>;

/// Runs a handler and maps its [`crate::error::Error`] to a status.
fn respond<T>(result: crate::error::Result<T>) -> RpcResult<T> {
    result.map(Response::new).map_err(Status::from)
}

/// Streaming RPCs validate before the stream starts, so a bad request fails the call itself.
fn respond_stream<T>(result: crate::error::Result<RpcStream<T>>) -> RpcResult<RpcStream<T>> {
    respond(result)
}

#[tonic::async_trait]
impl pb::workflow_service_server::WorkflowService for WorkflowApi {
    async fn enqueue_workflow(
        &self,
        request: Request<pb::EnqueueWorkflowRequest>,
    ) -> RpcResult<pb::EnqueueWorkflowResponse> {
        respond(self.enqueue(request.get_ref()).await)
    }

    async fn get_workflow(
        &self,
        request: Request<pb::GetWorkflowRequest>,
    ) -> RpcResult<pb::GetWorkflowResponse> {
        respond(self.get(request.get_ref()).await)
    }

    async fn list_workflows(
        &self,
        request: Request<pb::ListWorkflowsRequest>,
    ) -> RpcResult<pb::ListWorkflowsResponse> {
        respond(self.list(request.get_ref()).await)
    }

    async fn send_message(
        &self,
        request: Request<pb::SendMessageRequest>,
    ) -> RpcResult<pb::SendMessageResponse> {
        respond(self.send(request.get_ref()).await)
    }

    async fn get_event(
        &self,
        request: Request<pb::GetEventRequest>,
    ) -> RpcResult<pb::GetEventResponse> {
        respond(self.event(request.get_ref()).await)
    }

    type AwaitWorkflowStream = RpcStream<pb::AwaitWorkflowResponse>;

    async fn await_workflow(
        &self,
        request: Request<pb::AwaitWorkflowRequest>,
    ) -> RpcResult<Self::AwaitWorkflowStream> {
        respond_stream(self.await_workflow(request.get_ref()))
    }

    type AwaitWorkflowsStream = RpcStream<pb::AwaitWorkflowsResponse>;

    async fn await_workflows(
        &self,
        request: Request<pb::AwaitWorkflowsRequest>,
    ) -> RpcResult<Self::AwaitWorkflowsStream> {
        respond_stream(self.await_workflows(request.get_ref()))
    }

    type WatchEventStream = RpcStream<pb::WatchEventResponse>;

    async fn watch_event(
        &self,
        request: Request<pb::WatchEventRequest>,
    ) -> RpcResult<Self::WatchEventStream> {
        respond_stream(self.watch_event(request.get_ref()))
    }

    type ReadStreamStream = RpcStream<pb::ReadStreamResponse>;

    async fn read_stream(
        &self,
        request: Request<pb::ReadStreamRequest>,
    ) -> RpcResult<Self::ReadStreamStream> {
        respond_stream(self.read_stream(request.get_ref()))
    }

    type WatchWorkflowsStream = RpcStream<pb::WatchWorkflowsResponse>;

    async fn watch_workflows(
        &self,
        request: Request<pb::WatchWorkflowsRequest>,
    ) -> RpcResult<Self::WatchWorkflowsStream> {
        respond_stream(self.watch_workflows(request.get_ref()))
    }
}
