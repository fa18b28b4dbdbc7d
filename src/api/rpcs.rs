//! The one table of the service: every `dbosd.v1.WorkflowService` RPC with its request and response
//! types, its authorization policy and the handler that serves it. `rpc_table!` turns the rows into
//! the tonic trait impl (each call through `begin` / `permit` / handler / `finish`, see
//! `service::authorize`) and into [`POLICIES`], which the auth layer reads by request path. Adding an
//! RPC is one row here plus its handler in the concern's folder (ARCHITECTURE.md, "Add an RPC").

use tonic::{Request, Response, Status};

use std::sync::Arc;

use crate::api::{
    service::{stream::RpcStream, trace_context::TraceContext},
    FleetApi,
};
use crate::auth::policy::{
    Access::{self, Read, Write},
    CalledMethod, Policy,
    ScopeKind::{self, Filter, NewWorkflows, WholeDatabase, WorkflowIds},
    SERVICE,
};
use crate::auth::Principal;
use crate::pb;

const fn p(scope: ScopeKind, access: Access, polling: bool) -> Policy {
    Policy {
        scope,
        access,
        polling,
    }
}

/// Expands the rows below. A row is `Method: trait_fn(Request) -> Response [as StreamType],
/// policy, |api, req, metadata| handler_future;` (streams name the trait's associated type).
macro_rules! rpc_table {
    ($(
        $method:ident: $fn:ident($req_ty:ident) -> $resp:ty $(as $stream:ident)?,
            $policy:expr, |$api:ident, $req:ident, $meta:pat_param| $call:expr;
    )*) => {
        /// Every RPC of the service, by method name.
        pub const POLICIES: &[(&str, Policy)] = &[
            $((stringify!($method), $policy),)*
            ("ListDatabases", LIST_DATABASES),
        ];

        #[tonic::async_trait]
        impl pb::workflow_service_server::WorkflowService for FleetApi {
            $(
                $(type $stream = $resp;)?

                async fn $fn(
                    &self,
                    request: Request<pb::$req_ty>,
                ) -> Result<Response<$resp>, Status> {
                    // The call's database, resolved once: every handler below runs on its service.
                    let api = self.databases.resolve(request.metadata(), caller(&request))?;
                    let call = api.begin(&request)?;
                    let $meta = request.metadata();
                    let $req = request.get_ref();
                    let result = match call.permit() {
                        Ok(()) => {
                            let $api = &call.api;
                            $call.await
                        }
                        Err(e) => Err(e),
                    };
                    call.finish(result, $req)
                }
            )*

            /// Reads no database: the routing table, filtered by the caller's token.
            async fn list_databases(
                &self,
                request: Request<pb::ListDatabasesRequest>,
            ) -> Result<Response<pb::ListDatabasesResponse>, Status> {
                if request.extensions().get::<CalledMethod>().is_none() {
                    return Err(Status::internal(
                        "the call reached the service without its policy; this is a dbosd bug",
                    ));
                }
                let databases = self.databases.list(caller(&request));
                Ok(Response::new(pb::ListDatabasesResponse { databases }))
            }
        }
    };
}

/// ListDatabases' policy: any token may call it, and sees only the databases it may use (the
/// filter is the token's database binding, applied in `service::databases`).
const LIST_DATABASES: Policy = p(Filter, Read, false);

/// Who is calling (the auth layer's principal); `None` when tokens are off.
fn caller<T>(request: &Request<T>) -> Option<&Principal> {
    request.extensions().get::<Arc<Principal>>().map(|p| &**p)
}

rpc_table! {
    // Workflows: enqueue, read, list (api::workflows)
    EnqueueWorkflow: enqueue_workflow(EnqueueWorkflowRequest) -> pb::EnqueueWorkflowResponse,
        p(NewWorkflows, Write, false), |api, req, meta| api.enqueue(req, TraceContext::from_metadata(meta).as_ref());
    EnqueueWorkflows: enqueue_workflows(EnqueueWorkflowsRequest) -> pb::EnqueueWorkflowsResponse,
        p(NewWorkflows, Write, false), |api, req, meta| api.enqueue_many(req, TraceContext::from_metadata(meta).as_ref());
    DebounceWorkflow: debounce_workflow(DebounceWorkflowRequest) -> pb::DebounceWorkflowResponse,
        p(WholeDatabase, Write, false), |api, req, _| api.debounce(req);
    GetWorkflow: get_workflow(GetWorkflowRequest) -> pb::GetWorkflowResponse,
        p(WorkflowIds, Read, false), |api, req, _| api.get(req);
    ListWorkflows: list_workflows(ListWorkflowsRequest) -> pb::ListWorkflowsResponse,
        p(Filter, Read, false), |api, req, _| api.list(req);

    // Messaging: messages and events (api::messaging), listed messages and streams (api::inbox)
    SendMessage: send_message(SendMessageRequest) -> pb::SendMessageResponse,
        p(WorkflowIds, Write, false), |api, req, _| api.send(req);
    GetEvent: get_event(GetEventRequest) -> pb::GetEventResponse,
        p(WorkflowIds, Read, true), |api, req, _| api.event(req);
    ListWorkflowMessages: list_workflow_messages(ListWorkflowMessagesRequest) -> pb::ListWorkflowMessagesResponse,
        p(WorkflowIds, Read, false), |api, req, _| api.list_messages(req);
    ListStreamKeys: list_stream_keys(ListStreamKeysRequest) -> pb::ListStreamKeysResponse,
        p(WorkflowIds, Read, false), |api, req, _| api.list_stream_keys(req);

    // Waits: streams over the hub (api::waits)
    AwaitWorkflow: await_workflow(AwaitWorkflowRequest) -> RpcStream<pb::AwaitWorkflowResponse> as AwaitWorkflowStream,
        p(WorkflowIds, Read, true), |api, req, _| async { api.await_workflow(req) };
    AwaitWorkflows: await_workflows(AwaitWorkflowsRequest) -> RpcStream<pb::AwaitWorkflowsResponse> as AwaitWorkflowsStream,
        p(WorkflowIds, Read, true), |api, req, _| async { api.await_workflows(req) };
    WatchEvent: watch_event(WatchEventRequest) -> RpcStream<pb::WatchEventResponse> as WatchEventStream,
        p(WorkflowIds, Read, true), |api, req, _| async { api.watch_event(req) };
    ReadStream: read_stream(ReadStreamRequest) -> RpcStream<pb::ReadStreamResponse> as ReadStreamStream,
        p(WorkflowIds, Read, true), |api, req, _| async { api.read_stream(req) };
    WatchWorkflows: watch_workflows(WatchWorkflowsRequest) -> RpcStream<pb::WatchWorkflowsResponse> as WatchWorkflowsStream,
        p(Filter, Read, true), |api, req, _| async { api.watch_workflows(req) };

    // Manage: cancel, resume, fork, delete, steps, in-flight edits (api::manage)
    CancelWorkflow: cancel_workflow(CancelWorkflowRequest) -> pb::CancelWorkflowResponse,
        p(WorkflowIds, Write, false), |api, req, _| api.cancel_one(req);
    CancelWorkflows: cancel_workflows(CancelWorkflowsRequest) -> pb::CancelWorkflowsResponse,
        p(Filter, Write, false), |api, req, _| api.cancel_many(req);
    ResumeWorkflow: resume_workflow(ResumeWorkflowRequest) -> pb::ResumeWorkflowResponse,
        p(WorkflowIds, Write, false), |api, req, _| api.resume_one(req);
    ResumeWorkflows: resume_workflows(ResumeWorkflowsRequest) -> pb::ResumeWorkflowsResponse,
        p(Filter, Write, false), |api, req, _| api.resume_many(req);
    ForkWorkflow: fork_workflow(ForkWorkflowRequest) -> pb::ForkWorkflowResponse,
        p(WorkflowIds, Write, false), |api, req, _| api.fork_one(req);
    ForkWorkflows: fork_workflows(ForkWorkflowsRequest) -> pb::ForkWorkflowsResponse,
        p(Filter, Write, false), |api, req, _| api.fork_many(req);
    DeleteWorkflow: delete_workflow(DeleteWorkflowRequest) -> pb::DeleteWorkflowResponse,
        p(WorkflowIds, Write, false), |api, req, _| api.delete_one(req);
    DeleteWorkflows: delete_workflows(DeleteWorkflowsRequest) -> pb::DeleteWorkflowsResponse,
        p(Filter, Write, false), |api, req, _| api.delete_many(req);
    ListWorkflowSteps: list_workflow_steps(ListWorkflowStepsRequest) -> pb::ListWorkflowStepsResponse,
        p(WorkflowIds, Read, false), |api, req, _| api.list_steps(req);
    ListQueuedWorkflows: list_queued_workflows(ListQueuedWorkflowsRequest) -> pb::ListQueuedWorkflowsResponse,
        p(Filter, Read, false), |api, req, _| api.list_queued(req);
    SetWorkflowDelay: set_workflow_delay(SetWorkflowDelayRequest) -> pb::SetWorkflowDelayResponse,
        p(WorkflowIds, Write, false), |api, req, _| api.set_delay(req);
    SetWorkflowPriority: set_workflow_priority(SetWorkflowPriorityRequest) -> pb::SetWorkflowPriorityResponse,
        p(WorkflowIds, Write, false), |api, req, _| api.set_priority(req);
    UpdateWorkflowAttributes: update_workflow_attributes(UpdateWorkflowAttributesRequest) -> pb::UpdateWorkflowAttributesResponse,
        p(WorkflowIds, Write, false), |api, req, _| api.update_attributes(req);

    // Bulk jobs: filter-wide management in the background (api::jobs)
    StartBulkJob: start_bulk_job(StartBulkJobRequest) -> pb::StartBulkJobResponse,
        p(Filter, Write, false), |api, req, _| api.job_start(req);
    GetBulkJob: get_bulk_job(GetBulkJobRequest) -> pb::GetBulkJobResponse,
        p(Filter, Read, false), |api, req, _| api.job_get(req);
    ListBulkJobs: list_bulk_jobs(ListBulkJobsRequest) -> pb::ListBulkJobsResponse,
        p(Filter, Read, false), |api, req, _| api.job_list(req);
    AbortBulkJob: abort_bulk_job(AbortBulkJobRequest) -> pb::AbortBulkJobResponse,
        p(Filter, Write, false), |api, req, _| api.job_abort(req);
    WatchBulkJob: watch_bulk_job(WatchBulkJobRequest) -> RpcStream<pb::WatchBulkJobResponse> as WatchBulkJobStream,
        p(Filter, Read, true), |api, req, _| api.job_watch(req);

    // Queues (api::queues)
    RegisterQueue: register_queue(RegisterQueueRequest) -> pb::RegisterQueueResponse,
        p(WholeDatabase, Write, false), |api, req, _| api.queue_register(req);
    GetQueue: get_queue(GetQueueRequest) -> pb::GetQueueResponse,
        p(WholeDatabase, Read, false), |api, req, _| api.queue_get(req);
    ListQueues: list_queues(ListQueuesRequest) -> pb::ListQueuesResponse,
        p(WholeDatabase, Read, false), |api, req, _| api.queue_list(req);
    UpdateQueue: update_queue(UpdateQueueRequest) -> pb::UpdateQueueResponse,
        p(WholeDatabase, Write, false), |api, req, _| api.queue_update(req);
    DeleteQueue: delete_queue(DeleteQueueRequest) -> pb::DeleteQueueResponse,
        p(WholeDatabase, Write, false), |api, req, _| api.queue_delete(req);

    // Versions (api::versions)
    ListApplicationVersions: list_application_versions(ListApplicationVersionsRequest) -> pb::ListApplicationVersionsResponse,
        p(WholeDatabase, Read, false), |api, req, _| api.list_versions(req);
    GetLatestApplicationVersion: get_latest_application_version(GetLatestApplicationVersionRequest) -> pb::GetLatestApplicationVersionResponse,
        p(WholeDatabase, Read, false), |api, req, _| api.latest_version(req);
    SetLatestApplicationVersion: set_latest_application_version(SetLatestApplicationVersionRequest) -> pb::SetLatestApplicationVersionResponse,
        p(WholeDatabase, Write, false), |api, req, _| api.set_latest_version(req);
    RenameApplication: rename_application(RenameApplicationRequest) -> pb::RenameApplicationResponse,
        p(WholeDatabase, Write, false), |api, req, _| api.rename_app(req);

    // Batch (api::batch), events history (api::batch) and aggregates (api::aggregates)
    SendMessages: send_messages(SendMessagesRequest) -> pb::SendMessagesResponse,
        p(WorkflowIds, Write, false), |api, req, _| api.send_many(req);
    Transact: transact(TransactRequest) -> pb::TransactResponse,
        p(WholeDatabase, Write, false), |api, req, _| api.run_transact(req);
    GetWorkflowEvents: get_workflow_events(GetWorkflowEventsRequest) -> pb::GetWorkflowEventsResponse,
        p(WorkflowIds, Read, false), |api, req, _| api.events(req);
    GetWorkflowAggregates: get_workflow_aggregates(GetWorkflowAggregatesRequest) -> pb::GetWorkflowAggregatesResponse,
        p(Filter, Read, false), |api, req, _| api.workflow_aggregates(req);
    GetStepAggregates: get_step_aggregates(GetStepAggregatesRequest) -> pb::GetStepAggregatesResponse,
        p(WholeDatabase, Read, false), |api, req, _| api.step_aggregates(req);

    // Export and import (api::export)
    ExportWorkflow: export_workflow(ExportWorkflowRequest) -> pb::ExportWorkflowResponse,
        p(WorkflowIds, Read, false), |api, req, _| api.export_workflow(req);
    ImportWorkflow: import_workflow(ImportWorkflowRequest) -> pb::ImportWorkflowResponse,
        p(NewWorkflows, Write, false), |api, req, _| api.import_workflow(req);

    // Schedules (api::schedules)
    CreateSchedule: create_schedule(CreateScheduleRequest) -> pb::CreateScheduleResponse,
        p(WholeDatabase, Write, false), |api, req, _| api.schedule_create(req);
    ApplySchedules: apply_schedules(ApplySchedulesRequest) -> pb::ApplySchedulesResponse,
        p(WholeDatabase, Write, false), |api, req, _| api.schedule_apply(req);
    UpdateSchedule: update_schedule(UpdateScheduleRequest) -> pb::UpdateScheduleResponse,
        p(WholeDatabase, Write, false), |api, req, _| api.schedule_update(req);
    ListSchedules: list_schedules(ListSchedulesRequest) -> pb::ListSchedulesResponse,
        p(WholeDatabase, Read, false), |api, req, _| api.schedule_list(req);
    GetSchedule: get_schedule(GetScheduleRequest) -> pb::GetScheduleResponse,
        p(WholeDatabase, Read, false), |api, req, _| api.schedule_get(req);
    PauseSchedule: pause_schedule(PauseScheduleRequest) -> pb::PauseScheduleResponse,
        p(WholeDatabase, Write, false), |api, req, _| api.schedule_pause(req);
    ResumeSchedule: resume_schedule(ResumeScheduleRequest) -> pb::ResumeScheduleResponse,
        p(WholeDatabase, Write, false), |api, req, _| api.schedule_resume(req);
    DeleteSchedule: delete_schedule(DeleteScheduleRequest) -> pb::DeleteScheduleResponse,
        p(WholeDatabase, Write, false), |api, req, _| api.schedule_delete(req);
    TriggerSchedule: trigger_schedule(TriggerScheduleRequest) -> pb::TriggerScheduleResponse,
        p(WholeDatabase, Write, false), |api, req, _| api.schedule_trigger(req);
    BackfillSchedule: backfill_schedule(BackfillScheduleRequest) -> pb::BackfillScheduleResponse,
        p(WholeDatabase, Write, false), |api, req, _| api.schedule_backfill(req);
}

/// The method a request path (`/dbosd.v1.WorkflowService/<Method>`) calls, with its policy; `None`
/// for another service or a method the table does not know (tonic answers UNIMPLEMENTED). The
/// server hands this to the auth layer, which tags every call with it.
pub fn called_method(path: &str) -> Option<CalledMethod> {
    for_path(path).map(|(name, policy)| CalledMethod { name, policy })
}

/// [`called_method`] as (name, policy).
pub fn for_path(path: &str) -> Option<(&'static str, &'static Policy)> {
    let (service, method) = path.trim_start_matches('/').split_once('/')?;
    if service != SERVICE {
        return None;
    }
    POLICIES
        .iter()
        .find(|(name, _)| *name == method)
        .map(|(name, policy)| (*name, policy))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use prost::Message;

    use super::*;
    use crate::pb;

    /// The service's methods from the descriptor set dbosd registers for reflection.
    fn service_methods() -> Vec<prost_types::MethodDescriptorProto> {
        let set = prost_types::FileDescriptorSet::decode(pb::FILE_DESCRIPTOR_SET).unwrap();
        set.file
            .iter()
            .filter(|f| f.package() == "dbosd.v1")
            .flat_map(|f| f.service.iter())
            .filter(|s| format!("dbosd.v1.{}", s.name()) == SERVICE)
            .flat_map(|s| s.method.clone())
            .collect()
    }

    #[test]
    fn every_rpc_has_exactly_one_policy_and_every_policy_an_rpc() {
        let methods = service_methods();
        assert!(methods.len() > 40, "the descriptor lists the service");
        let rpcs: BTreeSet<&str> = methods.iter().map(|m| m.name()).collect();
        let mut named = BTreeSet::new();
        for (name, _) in POLICIES {
            assert!(named.insert(*name), "{name} has two policies");
        }
        let missing: Vec<_> = rpcs.difference(&named).collect();
        assert!(missing.is_empty(), "RPCs without a policy: {missing:?}");
        let stray: Vec<_> = named.difference(&rpcs).collect();
        assert!(stray.is_empty(), "policies naming no RPC: {stray:?}");
        // `polling` says what the descriptor says: streams wait, and so does GetEvent.
        for m in &methods {
            let (_, policy) = for_path(&format!("/{SERVICE}/{}", m.name())).unwrap();
            let waits = m.server_streaming() || m.name() == "GetEvent";
            assert_eq!(policy.polling, waits, "{}", m.name());
        }
        // Calls over state shared by every application, spelled out so that a table edit that
        // opens one to scoped tokens fails here.
        let whole: BTreeSet<&str> = POLICIES
            .iter()
            .filter(|(_, p)| p.scope == WholeDatabase)
            .map(|(name, _)| *name)
            .collect();
        let expected: BTreeSet<&str> = [
            "DebounceWorkflow",
            "RegisterQueue",
            "GetQueue",
            "ListQueues",
            "UpdateQueue",
            "DeleteQueue",
            "ListApplicationVersions",
            "GetLatestApplicationVersion",
            "SetLatestApplicationVersion",
            "RenameApplication",
            "Transact",
            "GetStepAggregates",
            "CreateSchedule",
            "ApplySchedules",
            "UpdateSchedule",
            "ListSchedules",
            "GetSchedule",
            "PauseSchedule",
            "ResumeSchedule",
            "DeleteSchedule",
            "TriggerSchedule",
            "BackfillSchedule",
        ]
        .into();
        assert_eq!(whole, expected);
        // Every RPC whose name says it changes something is a write.
        for (name, policy) in POLICIES {
            let verb = ["Get", "List", "Await", "Watch", "Read", "Export"];
            let reads = verb.iter().any(|v| name.starts_with(v));
            assert_eq!(policy.access == Read, reads, "{name}");
        }
        assert!(for_path("/grpc.health.v1.Health/Check").is_none());
        assert!(for_path(&format!("/{SERVICE}/NoSuchMethod")).is_none());
    }
}
