//! The gRPC handlers: every RPC goes through [`serve!`] (policy from `policy`, permission and
//! audit in `authorize`), then converts and validates the request, calls the repository with the
//! caller's scope, and renders the response. No SQL here; each RPC family lives in its own file as
//! an `impl WorkflowApi` block.

mod aggregates;
mod batch;
pub mod convert;
mod debounce;
mod manage;
mod messaging;
mod queues;
mod schedules;
pub mod service;
mod versions;
mod waits;
mod workflows;

use std::sync::Arc;

use tonic::{Request, Response, Status};

pub use crate::api::service::stream::Streams;
use crate::api::{service::stream::RpcStream, service::trace_context::TraceContext};
use crate::{
    auth::Principal,
    hub::Hub,
    pb,
    repo::{workflows::coalescer::EnqueueCoalescer, Repo},
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
    /// Who is calling (from the auth layer); `None` when tokens are off. Set per call by `begin`.
    caller: Option<Arc<Principal>>,
    /// Largest payload a call may write (`Settings::payload_limit`).
    payload_limit: usize,
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
            payload_limit: usize::MAX,
            native: Arc::default(),
        }
    }

    /// Refuses payloads over `limit` bytes at write (see `convert::check_payload`).
    pub fn with_payload_limit(mut self, limit: usize) -> Self {
        self.payload_limit = limit;
        self
    }
}

type RpcResult<T> = Result<Response<T>, Status>;

/// Serves one RPC through the single authorization path: `begin` (the caller and the method's
/// policy), `permit` (may this token make this call), the handler, then `finish` (the answer and,
/// for writes, the audit record). `$call` is the handler's future, with `api` the API as the
/// caller may use it and `req` the request message.
macro_rules! serve {
    ($this:expr, $request:ident, |$api:ident, $req:ident| $call:expr) => {{
        let call = $this.begin(&$request)?;
        let $req = $request.get_ref();
        let result = match call.permit() {
            Ok(()) => {
                let $api = &call.api;
                $call.await
            }
            Err(e) => Err(e),
        };
        call.finish(result, $req)
    }};
}

#[tonic::async_trait]
impl pb::workflow_service_server::WorkflowService for WorkflowApi {
    async fn enqueue_workflow(
        &self,
        request: Request<pb::EnqueueWorkflowRequest>,
    ) -> RpcResult<pb::EnqueueWorkflowResponse> {
        // W3C trace context rides in metadata, like the DBOS clients' OTel carrier.
        let trace = TraceContext::from_metadata(request.metadata());
        serve!(self, request, |api, req| api.enqueue(req, trace.as_ref()))
    }

    async fn enqueue_workflows(
        &self,
        request: Request<pb::EnqueueWorkflowsRequest>,
    ) -> RpcResult<pb::EnqueueWorkflowsResponse> {
        let trace = TraceContext::from_metadata(request.metadata());
        serve!(self, request, |api, req| api
            .enqueue_many(req, trace.as_ref()))
    }

    async fn debounce_workflow(
        &self,
        request: Request<pb::DebounceWorkflowRequest>,
    ) -> RpcResult<pb::DebounceWorkflowResponse> {
        serve!(self, request, |api, req| api.debounce(req))
    }

    async fn get_workflow(
        &self,
        request: Request<pb::GetWorkflowRequest>,
    ) -> RpcResult<pb::GetWorkflowResponse> {
        serve!(self, request, |api, req| api.get(req))
    }

    async fn list_workflows(
        &self,
        request: Request<pb::ListWorkflowsRequest>,
    ) -> RpcResult<pb::ListWorkflowsResponse> {
        serve!(self, request, |api, req| api.list(req))
    }

    async fn send_message(
        &self,
        request: Request<pb::SendMessageRequest>,
    ) -> RpcResult<pb::SendMessageResponse> {
        serve!(self, request, |api, req| api.send(req))
    }

    async fn get_event(
        &self,
        request: Request<pb::GetEventRequest>,
    ) -> RpcResult<pb::GetEventResponse> {
        serve!(self, request, |api, req| api.event(req))
    }

    type AwaitWorkflowStream = RpcStream<pb::AwaitWorkflowResponse>;

    async fn await_workflow(
        &self,
        request: Request<pb::AwaitWorkflowRequest>,
    ) -> RpcResult<Self::AwaitWorkflowStream> {
        serve!(self, request, |api, req| async { api.await_workflow(req) })
    }

    type AwaitWorkflowsStream = RpcStream<pb::AwaitWorkflowsResponse>;

    async fn await_workflows(
        &self,
        request: Request<pb::AwaitWorkflowsRequest>,
    ) -> RpcResult<Self::AwaitWorkflowsStream> {
        serve!(self, request, |api, req| async { api.await_workflows(req) })
    }

    type WatchEventStream = RpcStream<pb::WatchEventResponse>;

    async fn watch_event(
        &self,
        request: Request<pb::WatchEventRequest>,
    ) -> RpcResult<Self::WatchEventStream> {
        serve!(self, request, |api, req| async { api.watch_event(req) })
    }

    type ReadStreamStream = RpcStream<pb::ReadStreamResponse>;

    async fn read_stream(
        &self,
        request: Request<pb::ReadStreamRequest>,
    ) -> RpcResult<Self::ReadStreamStream> {
        serve!(self, request, |api, req| async { api.read_stream(req) })
    }

    type WatchWorkflowsStream = RpcStream<pb::WatchWorkflowsResponse>;

    async fn watch_workflows(
        &self,
        request: Request<pb::WatchWorkflowsRequest>,
    ) -> RpcResult<Self::WatchWorkflowsStream> {
        serve!(self, request, |api, req| async { api.watch_workflows(req) })
    }

    async fn cancel_workflow(
        &self,
        request: Request<pb::CancelWorkflowRequest>,
    ) -> RpcResult<pb::CancelWorkflowResponse> {
        serve!(self, request, |api, req| api.cancel_one(req))
    }

    async fn cancel_workflows(
        &self,
        request: Request<pb::CancelWorkflowsRequest>,
    ) -> RpcResult<pb::CancelWorkflowsResponse> {
        serve!(self, request, |api, req| api.cancel_many(req))
    }

    async fn resume_workflow(
        &self,
        request: Request<pb::ResumeWorkflowRequest>,
    ) -> RpcResult<pb::ResumeWorkflowResponse> {
        serve!(self, request, |api, req| api.resume_one(req))
    }

    async fn resume_workflows(
        &self,
        request: Request<pb::ResumeWorkflowsRequest>,
    ) -> RpcResult<pb::ResumeWorkflowsResponse> {
        serve!(self, request, |api, req| api.resume_many(req))
    }

    async fn fork_workflow(
        &self,
        request: Request<pb::ForkWorkflowRequest>,
    ) -> RpcResult<pb::ForkWorkflowResponse> {
        serve!(self, request, |api, req| api.fork_one(req))
    }

    async fn fork_workflows(
        &self,
        request: Request<pb::ForkWorkflowsRequest>,
    ) -> RpcResult<pb::ForkWorkflowsResponse> {
        serve!(self, request, |api, req| api.fork_many(req))
    }

    async fn delete_workflow(
        &self,
        request: Request<pb::DeleteWorkflowRequest>,
    ) -> RpcResult<pb::DeleteWorkflowResponse> {
        serve!(self, request, |api, req| api.delete_one(req))
    }

    async fn delete_workflows(
        &self,
        request: Request<pb::DeleteWorkflowsRequest>,
    ) -> RpcResult<pb::DeleteWorkflowsResponse> {
        serve!(self, request, |api, req| api.delete_many(req))
    }

    async fn list_workflow_steps(
        &self,
        request: Request<pb::ListWorkflowStepsRequest>,
    ) -> RpcResult<pb::ListWorkflowStepsResponse> {
        serve!(self, request, |api, req| api.list_steps(req))
    }

    async fn list_queued_workflows(
        &self,
        request: Request<pb::ListQueuedWorkflowsRequest>,
    ) -> RpcResult<pb::ListQueuedWorkflowsResponse> {
        serve!(self, request, |api, req| api.list_queued(req))
    }

    async fn set_workflow_delay(
        &self,
        request: Request<pb::SetWorkflowDelayRequest>,
    ) -> RpcResult<pb::SetWorkflowDelayResponse> {
        serve!(self, request, |api, req| api.set_delay(req))
    }

    async fn set_workflow_priority(
        &self,
        request: Request<pb::SetWorkflowPriorityRequest>,
    ) -> RpcResult<pb::SetWorkflowPriorityResponse> {
        serve!(self, request, |api, req| api.set_priority(req))
    }

    async fn update_workflow_attributes(
        &self,
        request: Request<pb::UpdateWorkflowAttributesRequest>,
    ) -> RpcResult<pb::UpdateWorkflowAttributesResponse> {
        serve!(self, request, |api, req| api.update_attributes(req))
    }

    // --- Queues, versions, schedules and batch operations ---

    async fn register_queue(
        &self,
        request: Request<pb::RegisterQueueRequest>,
    ) -> RpcResult<pb::RegisterQueueResponse> {
        serve!(self, request, |api, req| api.queue_register(req))
    }

    async fn get_queue(
        &self,
        request: Request<pb::GetQueueRequest>,
    ) -> RpcResult<pb::GetQueueResponse> {
        serve!(self, request, |api, req| api.queue_get(req))
    }

    async fn list_queues(
        &self,
        request: Request<pb::ListQueuesRequest>,
    ) -> RpcResult<pb::ListQueuesResponse> {
        serve!(self, request, |api, req| api.queue_list(req))
    }

    async fn update_queue(
        &self,
        request: Request<pb::UpdateQueueRequest>,
    ) -> RpcResult<pb::UpdateQueueResponse> {
        serve!(self, request, |api, req| api.queue_update(req))
    }

    async fn delete_queue(
        &self,
        request: Request<pb::DeleteQueueRequest>,
    ) -> RpcResult<pb::DeleteQueueResponse> {
        serve!(self, request, |api, req| api.queue_delete(req))
    }

    async fn list_application_versions(
        &self,
        request: Request<pb::ListApplicationVersionsRequest>,
    ) -> RpcResult<pb::ListApplicationVersionsResponse> {
        serve!(self, request, |api, req| api.list_versions(req))
    }

    async fn get_latest_application_version(
        &self,
        request: Request<pb::GetLatestApplicationVersionRequest>,
    ) -> RpcResult<pb::GetLatestApplicationVersionResponse> {
        serve!(self, request, |api, req| api.latest_version(req))
    }

    async fn set_latest_application_version(
        &self,
        request: Request<pb::SetLatestApplicationVersionRequest>,
    ) -> RpcResult<pb::SetLatestApplicationVersionResponse> {
        serve!(self, request, |api, req| api.set_latest_version(req))
    }

    async fn rename_application(
        &self,
        request: Request<pb::RenameApplicationRequest>,
    ) -> RpcResult<pb::RenameApplicationResponse> {
        serve!(self, request, |api, req| api.rename_app(req))
    }

    async fn send_messages(
        &self,
        request: Request<pb::SendMessagesRequest>,
    ) -> RpcResult<pb::SendMessagesResponse> {
        serve!(self, request, |api, req| api.send_many(req))
    }

    async fn transact(
        &self,
        request: Request<pb::TransactRequest>,
    ) -> RpcResult<pb::TransactResponse> {
        serve!(self, request, |api, req| api.run_transact(req))
    }

    async fn get_workflow_events(
        &self,
        request: Request<pb::GetWorkflowEventsRequest>,
    ) -> RpcResult<pb::GetWorkflowEventsResponse> {
        serve!(self, request, |api, req| api.events(req))
    }

    async fn get_workflow_aggregates(
        &self,
        request: Request<pb::GetWorkflowAggregatesRequest>,
    ) -> RpcResult<pb::GetWorkflowAggregatesResponse> {
        serve!(self, request, |api, req| api.workflow_aggregates(req))
    }

    async fn get_step_aggregates(
        &self,
        request: Request<pb::GetStepAggregatesRequest>,
    ) -> RpcResult<pb::GetStepAggregatesResponse> {
        serve!(self, request, |api, req| api.step_aggregates(req))
    }

    async fn create_schedule(
        &self,
        request: Request<pb::CreateScheduleRequest>,
    ) -> RpcResult<pb::CreateScheduleResponse> {
        serve!(self, request, |api, req| api.schedule_create(req))
    }

    async fn apply_schedules(
        &self,
        request: Request<pb::ApplySchedulesRequest>,
    ) -> RpcResult<pb::ApplySchedulesResponse> {
        serve!(self, request, |api, req| api.schedule_apply(req))
    }

    async fn update_schedule(
        &self,
        request: Request<pb::UpdateScheduleRequest>,
    ) -> RpcResult<pb::UpdateScheduleResponse> {
        serve!(self, request, |api, req| api.schedule_update(req))
    }

    async fn list_schedules(
        &self,
        request: Request<pb::ListSchedulesRequest>,
    ) -> RpcResult<pb::ListSchedulesResponse> {
        serve!(self, request, |api, req| api.schedule_list(req))
    }

    async fn get_schedule(
        &self,
        request: Request<pb::GetScheduleRequest>,
    ) -> RpcResult<pb::GetScheduleResponse> {
        serve!(self, request, |api, req| api.schedule_get(req))
    }

    async fn pause_schedule(
        &self,
        request: Request<pb::PauseScheduleRequest>,
    ) -> RpcResult<pb::PauseScheduleResponse> {
        serve!(self, request, |api, req| api.schedule_pause(req))
    }

    async fn resume_schedule(
        &self,
        request: Request<pb::ResumeScheduleRequest>,
    ) -> RpcResult<pb::ResumeScheduleResponse> {
        serve!(self, request, |api, req| api.schedule_resume(req))
    }

    async fn delete_schedule(
        &self,
        request: Request<pb::DeleteScheduleRequest>,
    ) -> RpcResult<pb::DeleteScheduleResponse> {
        serve!(self, request, |api, req| api.schedule_delete(req))
    }

    async fn trigger_schedule(
        &self,
        request: Request<pb::TriggerScheduleRequest>,
    ) -> RpcResult<pb::TriggerScheduleResponse> {
        serve!(self, request, |api, req| api.schedule_trigger(req))
    }

    async fn backfill_schedule(
        &self,
        request: Request<pb::BackfillScheduleRequest>,
    ) -> RpcResult<pb::BackfillScheduleResponse> {
        serve!(self, request, |api, req| api.schedule_backfill(req))
    }
}
