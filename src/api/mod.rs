//! The gRPC handlers: convert and validate the request, call the repository, render the response.
//! No SQL here; each RPC family lives in its own file as an `impl WorkflowApi` block.

mod control;
mod convert;
mod enqueue;
mod fork;
#[cfg(test)]
mod hostile_input;
mod in_flight;
mod inspect;
pub mod json;
mod list;
mod manage_convert;
mod messaging;
mod render;
mod steps;
mod stream;
mod waits;
mod watch;
mod watch_workflows;

mod aggregates;
mod batch;
mod queues;
mod schedule_fire;
mod schedules;
mod versions;

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

    async fn enqueue_workflows(
        &self,
        request: Request<pb::EnqueueWorkflowsRequest>,
    ) -> RpcResult<pb::EnqueueWorkflowsResponse> {
        respond(self.enqueue_many(request.get_ref()).await)
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

    // --- Workflow management ---

    async fn cancel_workflow(
        &self,
        request: Request<pb::CancelWorkflowRequest>,
    ) -> RpcResult<pb::CancelWorkflowResponse> {
        respond(self.cancel_one(request.get_ref()).await)
    }

    async fn cancel_workflows(
        &self,
        request: Request<pb::CancelWorkflowsRequest>,
    ) -> RpcResult<pb::CancelWorkflowsResponse> {
        respond(self.cancel_many(request.get_ref()).await)
    }

    async fn resume_workflow(
        &self,
        request: Request<pb::ResumeWorkflowRequest>,
    ) -> RpcResult<pb::ResumeWorkflowResponse> {
        respond(self.resume_one(request.get_ref()).await)
    }

    async fn resume_workflows(
        &self,
        request: Request<pb::ResumeWorkflowsRequest>,
    ) -> RpcResult<pb::ResumeWorkflowsResponse> {
        respond(self.resume_many(request.get_ref()).await)
    }

    async fn fork_workflow(
        &self,
        request: Request<pb::ForkWorkflowRequest>,
    ) -> RpcResult<pb::ForkWorkflowResponse> {
        respond(self.fork_one(request.get_ref()).await)
    }

    async fn fork_workflows(
        &self,
        request: Request<pb::ForkWorkflowsRequest>,
    ) -> RpcResult<pb::ForkWorkflowsResponse> {
        respond(self.fork_many(request.get_ref()).await)
    }

    async fn delete_workflow(
        &self,
        request: Request<pb::DeleteWorkflowRequest>,
    ) -> RpcResult<pb::DeleteWorkflowResponse> {
        respond(self.delete_one(request.get_ref()).await)
    }

    async fn delete_workflows(
        &self,
        request: Request<pb::DeleteWorkflowsRequest>,
    ) -> RpcResult<pb::DeleteWorkflowsResponse> {
        respond(self.delete_many(request.get_ref()).await)
    }

    async fn list_workflow_steps(
        &self,
        request: Request<pb::ListWorkflowStepsRequest>,
    ) -> RpcResult<pb::ListWorkflowStepsResponse> {
        respond(self.list_steps(request.get_ref()).await)
    }

    async fn list_queued_workflows(
        &self,
        request: Request<pb::ListQueuedWorkflowsRequest>,
    ) -> RpcResult<pb::ListQueuedWorkflowsResponse> {
        respond(self.list_queued(request.get_ref()).await)
    }

    async fn set_workflow_delay(
        &self,
        request: Request<pb::SetWorkflowDelayRequest>,
    ) -> RpcResult<pb::SetWorkflowDelayResponse> {
        respond(self.set_delay(request.get_ref()).await)
    }

    async fn set_workflow_priority(
        &self,
        request: Request<pb::SetWorkflowPriorityRequest>,
    ) -> RpcResult<pb::SetWorkflowPriorityResponse> {
        respond(self.set_priority(request.get_ref()).await)
    }

    async fn update_workflow_attributes(
        &self,
        request: Request<pb::UpdateWorkflowAttributesRequest>,
    ) -> RpcResult<pb::UpdateWorkflowAttributesResponse> {
        respond(self.update_attributes(request.get_ref()).await)
    }

    // --- Queues, versions, schedules and batch operations ---

    async fn register_queue(
        &self,
        request: Request<pb::RegisterQueueRequest>,
    ) -> RpcResult<pb::RegisterQueueResponse> {
        respond(self.queue_register(request.get_ref()).await)
    }

    async fn get_queue(
        &self,
        request: Request<pb::GetQueueRequest>,
    ) -> RpcResult<pb::GetQueueResponse> {
        respond(self.queue_get(request.get_ref()).await)
    }

    async fn list_queues(
        &self,
        request: Request<pb::ListQueuesRequest>,
    ) -> RpcResult<pb::ListQueuesResponse> {
        respond(self.queue_list(request.get_ref()).await)
    }

    async fn update_queue(
        &self,
        request: Request<pb::UpdateQueueRequest>,
    ) -> RpcResult<pb::UpdateQueueResponse> {
        respond(self.queue_update(request.get_ref()).await)
    }

    async fn delete_queue(
        &self,
        request: Request<pb::DeleteQueueRequest>,
    ) -> RpcResult<pb::DeleteQueueResponse> {
        respond(self.queue_delete(request.get_ref()).await)
    }

    async fn list_application_versions(
        &self,
        request: Request<pb::ListApplicationVersionsRequest>,
    ) -> RpcResult<pb::ListApplicationVersionsResponse> {
        respond(self.list_versions(request.get_ref()).await)
    }

    async fn get_latest_application_version(
        &self,
        request: Request<pb::GetLatestApplicationVersionRequest>,
    ) -> RpcResult<pb::GetLatestApplicationVersionResponse> {
        respond(self.latest_version(request.get_ref()).await)
    }

    async fn set_latest_application_version(
        &self,
        request: Request<pb::SetLatestApplicationVersionRequest>,
    ) -> RpcResult<pb::SetLatestApplicationVersionResponse> {
        respond(self.set_latest_version(request.get_ref()).await)
    }

    async fn rename_application(
        &self,
        request: Request<pb::RenameApplicationRequest>,
    ) -> RpcResult<pb::RenameApplicationResponse> {
        respond(self.rename_app(request.get_ref()).await)
    }

    async fn send_messages(
        &self,
        request: Request<pb::SendMessagesRequest>,
    ) -> RpcResult<pb::SendMessagesResponse> {
        respond(self.send_many(request.get_ref()).await)
    }

    async fn transact(
        &self,
        request: Request<pb::TransactRequest>,
    ) -> RpcResult<pb::TransactResponse> {
        respond(self.run_transact(request.get_ref()).await)
    }

    async fn get_workflow_events(
        &self,
        request: Request<pb::GetWorkflowEventsRequest>,
    ) -> RpcResult<pb::GetWorkflowEventsResponse> {
        respond(self.events(request.get_ref()).await)
    }

    async fn get_workflow_aggregates(
        &self,
        request: Request<pb::GetWorkflowAggregatesRequest>,
    ) -> RpcResult<pb::GetWorkflowAggregatesResponse> {
        respond(self.workflow_aggregates(request.get_ref()).await)
    }

    async fn get_step_aggregates(
        &self,
        request: Request<pb::GetStepAggregatesRequest>,
    ) -> RpcResult<pb::GetStepAggregatesResponse> {
        respond(self.step_aggregates(request.get_ref()).await)
    }

    async fn create_schedule(
        &self,
        request: Request<pb::CreateScheduleRequest>,
    ) -> RpcResult<pb::CreateScheduleResponse> {
        respond(self.schedule_create(request.get_ref()).await)
    }

    async fn list_schedules(
        &self,
        request: Request<pb::ListSchedulesRequest>,
    ) -> RpcResult<pb::ListSchedulesResponse> {
        respond(self.schedule_list(request.get_ref()).await)
    }

    async fn get_schedule(
        &self,
        request: Request<pb::GetScheduleRequest>,
    ) -> RpcResult<pb::GetScheduleResponse> {
        respond(self.schedule_get(request.get_ref()).await)
    }

    async fn pause_schedule(
        &self,
        request: Request<pb::PauseScheduleRequest>,
    ) -> RpcResult<pb::PauseScheduleResponse> {
        respond(self.schedule_pause(request.get_ref()).await)
    }

    async fn resume_schedule(
        &self,
        request: Request<pb::ResumeScheduleRequest>,
    ) -> RpcResult<pb::ResumeScheduleResponse> {
        respond(self.schedule_resume(request.get_ref()).await)
    }

    async fn delete_schedule(
        &self,
        request: Request<pb::DeleteScheduleRequest>,
    ) -> RpcResult<pb::DeleteScheduleResponse> {
        respond(self.schedule_delete(request.get_ref()).await)
    }

    async fn trigger_schedule(
        &self,
        request: Request<pb::TriggerScheduleRequest>,
    ) -> RpcResult<pb::TriggerScheduleResponse> {
        respond(self.schedule_trigger(request.get_ref()).await)
    }

    async fn backfill_schedule(
        &self,
        request: Request<pb::BackfillScheduleRequest>,
    ) -> RpcResult<pb::BackfillScheduleResponse> {
        respond(self.schedule_backfill(request.get_ref()).await)
    }
}
