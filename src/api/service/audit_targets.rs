//! What an audit record names for each request: the workflow ids it targets, or the filter it
//! selects by, or the shared object it changes (`queue:<name>`, `schedule:<name>`,
//! `application:<name>`). Reads are never audited and name nothing.

use crate::pb;

/// A request's audit targets and filter.
pub(in crate::api) trait Audited {
    fn audit_targets(&self) -> (Vec<String>, Option<String>) {
        (Vec::new(), None)
    }
}

/// Reads: no record is written for them.
macro_rules! reads {
    ($($request:ident),+ $(,)?) => {
        $(impl Audited for pb::$request {})+
    };
}

reads!(
    GetWorkflowRequest,
    ListWorkflowsRequest,
    GetEventRequest,
    ListWorkflowMessagesRequest,
    ListStreamKeysRequest,
    AwaitWorkflowRequest,
    AwaitWorkflowsRequest,
    WatchEventRequest,
    ReadStreamRequest,
    WatchWorkflowsRequest,
    ListWorkflowStepsRequest,
    ListQueuedWorkflowsRequest,
    GetQueueRequest,
    ListQueuesRequest,
    ListApplicationVersionsRequest,
    GetLatestApplicationVersionRequest,
    GetWorkflowEventsRequest,
    GetWorkflowAggregatesRequest,
    GetStepAggregatesRequest,
    ListSchedulesRequest,
    GetScheduleRequest,
    ExportWorkflowRequest,
);

/// An import: the id it was asked to write under, else the document's own (the text parsed once
/// more for the record; "import" when it is not even JSON, and then nothing was written).
impl Audited for pb::ImportWorkflowRequest {
    fn audit_targets(&self) -> (Vec<String>, Option<String>) {
        let named = self.as_workflow_id.clone().or_else(|| {
            serde_json::from_str::<serde_json::Value>(&self.document)
                .ok()?
                .get("workflow_id")?
                .as_str()
                .map(str::to_owned)
        });
        (vec![named.unwrap_or_else(|| "import".to_owned())], None)
    }
}

/// Writes naming one workflow in a field.
macro_rules! one_workflow {
    ($($request:ident . $field:ident),+ $(,)?) => {
        $(impl Audited for pb::$request {
            fn audit_targets(&self) -> (Vec<String>, Option<String>) {
                (vec![self.$field.clone()], None)
            }
        })+
    };
}

one_workflow!(
    SendMessageRequest.destination_id,
    CancelWorkflowRequest.workflow_id,
    ResumeWorkflowRequest.workflow_id,
    ForkWorkflowRequest.workflow_id,
    DeleteWorkflowRequest.workflow_id,
    SetWorkflowDelayRequest.workflow_id,
    SetWorkflowPriorityRequest.workflow_id,
    UpdateWorkflowAttributesRequest.workflow_id,
);

/// Bulk writes: the ids, or the filter.
macro_rules! bulk {
    ($($request:ident),+ $(,)?) => {
        $(impl Audited for pb::$request {
            fn audit_targets(&self) -> (Vec<String>, Option<String>) {
                (self.workflow_ids.clone(), self.filter.as_ref().map(|f| format!("{f:?}")))
            }
        })+
    };
}

bulk!(
    CancelWorkflowsRequest,
    ResumeWorkflowsRequest,
    ForkWorkflowsRequest,
    DeleteWorkflowsRequest,
);

/// Writes naming a shared object by one field.
macro_rules! shared {
    ($($request:ident . $field:ident => $kind:literal),+ $(,)?) => {
        $(impl Audited for pb::$request {
            fn audit_targets(&self) -> (Vec<String>, Option<String>) {
                (vec![format!("{}:{}", $kind, self.$field)], None)
            }
        })+
    };
}

shared!(
    DeleteQueueRequest.name => "queue",
    CreateScheduleRequest.schedule_name => "schedule",
    UpdateScheduleRequest.schedule_name => "schedule",
    PauseScheduleRequest.schedule_name => "schedule",
    ResumeScheduleRequest.schedule_name => "schedule",
    DeleteScheduleRequest.schedule_name => "schedule",
    TriggerScheduleRequest.schedule_name => "schedule",
    BackfillScheduleRequest.schedule_name => "schedule",
    RenameApplicationRequest.new_name => "application",
);

/// A new workflow: its id, or the queue it goes to when dbosd picks the id.
fn new_workflow(req: &pb::EnqueueWorkflowRequest) -> String {
    match &req.workflow_id {
        Some(id) => id.clone(),
        None => format!("queue:{}", req.queue_name),
    }
}

impl Audited for pb::EnqueueWorkflowRequest {
    fn audit_targets(&self) -> (Vec<String>, Option<String>) {
        (vec![new_workflow(self)], None)
    }
}

impl Audited for pb::EnqueueWorkflowsRequest {
    fn audit_targets(&self) -> (Vec<String>, Option<String>) {
        (self.workflows.iter().map(new_workflow).collect(), None)
    }
}

impl Audited for pb::DebounceWorkflowRequest {
    fn audit_targets(&self) -> (Vec<String>, Option<String>) {
        let mut targets: Vec<String> = self.workflow.iter().map(new_workflow).collect();
        targets.push(format!("debounce:{}", self.debounce_key));
        (targets, None)
    }
}

impl Audited for pb::SendMessagesRequest {
    fn audit_targets(&self) -> (Vec<String>, Option<String>) {
        let ids = self.messages.iter().map(|m| m.destination_id.clone());
        (ids.collect(), None)
    }
}

impl Audited for pb::TransactRequest {
    fn audit_targets(&self) -> (Vec<String>, Option<String>) {
        use pb::transact_operation::Operation;
        let ids = self.operations.iter().filter_map(|op| match &op.operation {
            Some(Operation::Enqueue(e)) => Some(new_workflow(e)),
            Some(Operation::Send(s)) => Some(s.destination_id.clone()),
            None => None,
        });
        (ids.collect(), None)
    }
}

impl Audited for pb::RegisterQueueRequest {
    fn audit_targets(&self) -> (Vec<String>, Option<String>) {
        let name = self.queue.as_ref().map(|q| q.name.as_str()).unwrap_or("");
        (vec![format!("queue:{name}")], None)
    }
}

impl Audited for pb::UpdateQueueRequest {
    fn audit_targets(&self) -> (Vec<String>, Option<String>) {
        let name = self.queue.as_ref().map(|q| q.name.as_str()).unwrap_or("");
        (vec![format!("queue:{name}")], None)
    }
}

impl Audited for pb::SetLatestApplicationVersionRequest {
    fn audit_targets(&self) -> (Vec<String>, Option<String>) {
        let app = self.application_name.as_deref().unwrap_or("");
        (
            vec![
                format!("application:{app}"),
                format!("version:{}", self.version_name),
            ],
            None,
        )
    }
}

impl Audited for pb::ApplySchedulesRequest {
    fn audit_targets(&self) -> (Vec<String>, Option<String>) {
        let names = self.schedules.iter();
        (
            names
                .map(|s| format!("schedule:{}", s.schedule_name))
                .collect(),
            None,
        )
    }
}
