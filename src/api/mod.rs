//! The gRPC handlers: convert and validate the request, check the caller's scope, call the
//! repository, render the response. No SQL here; each RPC family lives in its own file as an
//! `impl WorkflowApi` block.

mod authorize;
mod control;
mod convert;
mod debounce;
mod enqueue;
mod filter;
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
pub mod trace_context;
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

pub use self::stream::Streams;
use self::{stream::RpcStream, trace_context::TraceContext};
use crate::{
    auth::Principal,
    hub::Hub,
    pb,
    repo::{enqueue_coalescer::EnqueueCoalescer, Repo},
};

/// The `dbosd.v1.WorkflowService` implementation.
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
    /// Who is calling (from the auth layer); `None` when tokens are off. Set per call by `scoped`.
    caller: Option<Arc<Principal>>,
    /// Raw native payloads: the operator switch and the pickle allowlist (see `schedules`).
    native: Arc<crate::native::NativePolicy>,
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
            native: Arc::default(),
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
        // W3C trace context rides in metadata, like the DBOS clients' OTel carrier.
        let trace = TraceContext::from_metadata(request.metadata());
        let api = self.scoped(&request);
        respond(api.enqueue(request.get_ref(), trace.as_ref()).await)
    }

    async fn enqueue_workflows(
        &self,
        request: Request<pb::EnqueueWorkflowsRequest>,
    ) -> RpcResult<pb::EnqueueWorkflowsResponse> {
        let trace = TraceContext::from_metadata(request.metadata());
        let api = self.scoped(&request);
        respond(api.enqueue_many(request.get_ref(), trace.as_ref()).await)
    }

    async fn debounce_workflow(
        &self,
        request: Request<pb::DebounceWorkflowRequest>,
    ) -> RpcResult<pb::DebounceWorkflowResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.unrestricted(api.debounce(req)).await)
    }

    async fn get_workflow(
        &self,
        request: Request<pb::GetWorkflowRequest>,
    ) -> RpcResult<pb::GetWorkflowResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.owning([&req.workflow_id], api.get(req)).await)
    }

    async fn list_workflows(
        &self,
        request: Request<pb::ListWorkflowsRequest>,
    ) -> RpcResult<pb::ListWorkflowsResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.list(req).await)
    }

    async fn send_message(
        &self,
        request: Request<pb::SendMessageRequest>,
    ) -> RpcResult<pb::SendMessageResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.owning([&req.destination_id], api.send(req)).await)
    }

    async fn get_event(
        &self,
        request: Request<pb::GetEventRequest>,
    ) -> RpcResult<pb::GetEventResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.owning([&req.workflow_id], api.event(req)).await)
    }

    type AwaitWorkflowStream = RpcStream<pb::AwaitWorkflowResponse>;

    async fn await_workflow(
        &self,
        request: Request<pb::AwaitWorkflowRequest>,
    ) -> RpcResult<Self::AwaitWorkflowStream> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond_stream(
            api.owning([&req.workflow_id], async { api.await_workflow(req) })
                .await,
        )
    }

    type AwaitWorkflowsStream = RpcStream<pb::AwaitWorkflowsResponse>;

    async fn await_workflows(
        &self,
        request: Request<pb::AwaitWorkflowsRequest>,
    ) -> RpcResult<Self::AwaitWorkflowsStream> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond_stream(
            api.owning(&req.workflow_ids, async { api.await_workflows(req) })
                .await,
        )
    }

    type WatchEventStream = RpcStream<pb::WatchEventResponse>;

    async fn watch_event(
        &self,
        request: Request<pb::WatchEventRequest>,
    ) -> RpcResult<Self::WatchEventStream> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond_stream(
            api.owning([&req.workflow_id], async { api.watch_event(req) })
                .await,
        )
    }

    type ReadStreamStream = RpcStream<pb::ReadStreamResponse>;

    async fn read_stream(
        &self,
        request: Request<pb::ReadStreamRequest>,
    ) -> RpcResult<Self::ReadStreamStream> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond_stream(
            api.owning([&req.workflow_id], async { api.read_stream(req) })
                .await,
        )
    }

    type WatchWorkflowsStream = RpcStream<pb::WatchWorkflowsResponse>;

    async fn watch_workflows(
        &self,
        request: Request<pb::WatchWorkflowsRequest>,
    ) -> RpcResult<Self::WatchWorkflowsStream> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond_stream(api.watch_workflows(req))
    }

    async fn cancel_workflow(
        &self,
        request: Request<pb::CancelWorkflowRequest>,
    ) -> RpcResult<pb::CancelWorkflowResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.cancel_one(req).await)
    }

    async fn cancel_workflows(
        &self,
        request: Request<pb::CancelWorkflowsRequest>,
    ) -> RpcResult<pb::CancelWorkflowsResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.cancel_many(req).await)
    }

    async fn resume_workflow(
        &self,
        request: Request<pb::ResumeWorkflowRequest>,
    ) -> RpcResult<pb::ResumeWorkflowResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.resume_one(req).await)
    }

    async fn resume_workflows(
        &self,
        request: Request<pb::ResumeWorkflowsRequest>,
    ) -> RpcResult<pb::ResumeWorkflowsResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.resume_many(req).await)
    }

    async fn fork_workflow(
        &self,
        request: Request<pb::ForkWorkflowRequest>,
    ) -> RpcResult<pb::ForkWorkflowResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.fork_one(req).await)
    }

    async fn fork_workflows(
        &self,
        request: Request<pb::ForkWorkflowsRequest>,
    ) -> RpcResult<pb::ForkWorkflowsResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.fork_many(req).await)
    }

    async fn delete_workflow(
        &self,
        request: Request<pb::DeleteWorkflowRequest>,
    ) -> RpcResult<pb::DeleteWorkflowResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.delete_one(req).await)
    }

    async fn delete_workflows(
        &self,
        request: Request<pb::DeleteWorkflowsRequest>,
    ) -> RpcResult<pb::DeleteWorkflowsResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.delete_many(req).await)
    }

    async fn list_workflow_steps(
        &self,
        request: Request<pb::ListWorkflowStepsRequest>,
    ) -> RpcResult<pb::ListWorkflowStepsResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.owning([&req.workflow_id], api.list_steps(req)).await)
    }

    async fn list_queued_workflows(
        &self,
        request: Request<pb::ListQueuedWorkflowsRequest>,
    ) -> RpcResult<pb::ListQueuedWorkflowsResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.list_queued(req).await)
    }

    async fn set_workflow_delay(
        &self,
        request: Request<pb::SetWorkflowDelayRequest>,
    ) -> RpcResult<pb::SetWorkflowDelayResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.owning([&req.workflow_id], api.set_delay(req)).await)
    }

    async fn set_workflow_priority(
        &self,
        request: Request<pb::SetWorkflowPriorityRequest>,
    ) -> RpcResult<pb::SetWorkflowPriorityResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.owning([&req.workflow_id], api.set_priority(req)).await)
    }

    async fn update_workflow_attributes(
        &self,
        request: Request<pb::UpdateWorkflowAttributesRequest>,
    ) -> RpcResult<pb::UpdateWorkflowAttributesResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(
            api.owning([&req.workflow_id], api.update_attributes(req))
                .await,
        )
    }

    // --- Queues, versions, schedules and batch operations ---

    async fn register_queue(
        &self,
        request: Request<pb::RegisterQueueRequest>,
    ) -> RpcResult<pb::RegisterQueueResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.unrestricted(api.queue_register(req)).await)
    }

    async fn get_queue(
        &self,
        request: Request<pb::GetQueueRequest>,
    ) -> RpcResult<pb::GetQueueResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.unrestricted(api.queue_get(req)).await)
    }

    async fn list_queues(
        &self,
        request: Request<pb::ListQueuesRequest>,
    ) -> RpcResult<pb::ListQueuesResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.unrestricted(api.queue_list(req)).await)
    }

    async fn update_queue(
        &self,
        request: Request<pb::UpdateQueueRequest>,
    ) -> RpcResult<pb::UpdateQueueResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.unrestricted(api.queue_update(req)).await)
    }

    async fn delete_queue(
        &self,
        request: Request<pb::DeleteQueueRequest>,
    ) -> RpcResult<pb::DeleteQueueResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.unrestricted(api.queue_delete(req)).await)
    }

    async fn list_application_versions(
        &self,
        request: Request<pb::ListApplicationVersionsRequest>,
    ) -> RpcResult<pb::ListApplicationVersionsResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.unrestricted(api.list_versions(req)).await)
    }

    async fn get_latest_application_version(
        &self,
        request: Request<pb::GetLatestApplicationVersionRequest>,
    ) -> RpcResult<pb::GetLatestApplicationVersionResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.unrestricted(api.latest_version(req)).await)
    }

    async fn set_latest_application_version(
        &self,
        request: Request<pb::SetLatestApplicationVersionRequest>,
    ) -> RpcResult<pb::SetLatestApplicationVersionResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.unrestricted(api.set_latest_version(req)).await)
    }

    async fn rename_application(
        &self,
        request: Request<pb::RenameApplicationRequest>,
    ) -> RpcResult<pb::RenameApplicationResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.unrestricted(api.rename_app(req)).await)
    }

    async fn send_messages(
        &self,
        request: Request<pb::SendMessagesRequest>,
    ) -> RpcResult<pb::SendMessagesResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(
            api.owning(
                req.messages.iter().map(|m| &m.destination_id),
                api.send_many(req),
            )
            .await,
        )
    }

    async fn transact(
        &self,
        request: Request<pb::TransactRequest>,
    ) -> RpcResult<pb::TransactResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.unrestricted(api.run_transact(req)).await)
    }

    async fn get_workflow_events(
        &self,
        request: Request<pb::GetWorkflowEventsRequest>,
    ) -> RpcResult<pb::GetWorkflowEventsResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.owning([&req.workflow_id], api.events(req)).await)
    }

    async fn get_workflow_aggregates(
        &self,
        request: Request<pb::GetWorkflowAggregatesRequest>,
    ) -> RpcResult<pb::GetWorkflowAggregatesResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.workflow_aggregates(req).await)
    }

    async fn get_step_aggregates(
        &self,
        request: Request<pb::GetStepAggregatesRequest>,
    ) -> RpcResult<pb::GetStepAggregatesResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.unrestricted(api.step_aggregates(req)).await)
    }

    async fn create_schedule(
        &self,
        request: Request<pb::CreateScheduleRequest>,
    ) -> RpcResult<pb::CreateScheduleResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.unrestricted(api.schedule_create(req)).await)
    }

    async fn apply_schedules(
        &self,
        request: Request<pb::ApplySchedulesRequest>,
    ) -> RpcResult<pb::ApplySchedulesResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.unrestricted(api.schedule_apply(req)).await)
    }

    async fn update_schedule(
        &self,
        request: Request<pb::UpdateScheduleRequest>,
    ) -> RpcResult<pb::UpdateScheduleResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.unrestricted(api.schedule_update(req)).await)
    }

    async fn list_schedules(
        &self,
        request: Request<pb::ListSchedulesRequest>,
    ) -> RpcResult<pb::ListSchedulesResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.unrestricted(api.schedule_list(req)).await)
    }

    async fn get_schedule(
        &self,
        request: Request<pb::GetScheduleRequest>,
    ) -> RpcResult<pb::GetScheduleResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.unrestricted(api.schedule_get(req)).await)
    }

    async fn pause_schedule(
        &self,
        request: Request<pb::PauseScheduleRequest>,
    ) -> RpcResult<pb::PauseScheduleResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.unrestricted(api.schedule_pause(req)).await)
    }

    async fn resume_schedule(
        &self,
        request: Request<pb::ResumeScheduleRequest>,
    ) -> RpcResult<pb::ResumeScheduleResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.unrestricted(api.schedule_resume(req)).await)
    }

    async fn delete_schedule(
        &self,
        request: Request<pb::DeleteScheduleRequest>,
    ) -> RpcResult<pb::DeleteScheduleResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.unrestricted(api.schedule_delete(req)).await)
    }

    async fn trigger_schedule(
        &self,
        request: Request<pb::TriggerScheduleRequest>,
    ) -> RpcResult<pb::TriggerScheduleResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.unrestricted(api.schedule_trigger(req)).await)
    }

    async fn backfill_schedule(
        &self,
        request: Request<pb::BackfillScheduleRequest>,
    ) -> RpcResult<pb::BackfillScheduleResponse> {
        let (api, req) = (self.scoped(&request), request.get_ref());
        respond(api.unrestricted(api.schedule_backfill(req)).await)
    }
}
