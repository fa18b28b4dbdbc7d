//! Every enum field of every WorkflowService request refuses a number it does not know with
//! INVALID_ARGUMENT `<field>: unknown value 99`, through real gRPC. The fields are found by walking
//! the served descriptor set, so a new enum field fails this test until the table below covers it.

use std::{
    collections::{BTreeSet, HashMap},
    future::Future,
    pin::Pin,
};

use dbosd::pb::{self, workflow_service_client::WorkflowServiceClient};
use futures::StreamExt;
use prost::Message;
use prost_types::{field_descriptor_proto::Type, DescriptorProto, FileDescriptorSet};
use serde_json::json;
use tonic::{transport::Channel, Code, Status};

use crate::harness::{enqueue_req, TestServer};

const UNKNOWN: i32 = 99;

type Client = WorkflowServiceClient<Channel>;
type Call = Pin<Box<dyn Future<Output = Result<(), Status>> + Send>>;
/// A field (`Method:path`) and the call that sends it [`UNKNOWN`].
type Case = (&'static str, fn(Client) -> Call);

/// `Method:field.path` of every enum field reachable from each WorkflowService request.
fn request_enum_fields() -> BTreeSet<String> {
    let set = FileDescriptorSet::decode(pb::FILE_DESCRIPTOR_SET).expect("descriptor set");
    let mut messages: HashMap<String, DescriptorProto> = HashMap::new();
    fn collect(prefix: &str, m: &DescriptorProto, into: &mut HashMap<String, DescriptorProto>) {
        let name = format!("{prefix}.{}", m.name());
        for nested in &m.nested_type {
            collect(&name, nested, into);
        }
        into.insert(name, m.clone());
    }
    for file in &set.file {
        for m in &file.message_type {
            collect(&format!(".{}", file.package()), m, &mut messages);
        }
    }
    fn walk(
        messages: &HashMap<String, DescriptorProto>,
        type_name: &str,
        path: &str,
        seen: &mut Vec<String>,
        out: &mut BTreeSet<String>,
    ) {
        // google.protobuf.Value's NullValue is JSON null whatever its number (the JSON mapping
        // cannot even spell another); the well-known types are not dbosd's enums.
        if type_name.starts_with(".google.protobuf.") {
            return;
        }
        let Some(message) = messages.get(type_name) else {
            return;
        };
        if seen.iter().any(|t| t == type_name) {
            return;
        }
        seen.push(type_name.to_owned());
        for field in &message.field {
            let at = format!("{path}{}", field.name());
            match field.r#type() {
                // NullValue has one value and means null whatever its number (as in Value).
                Type::Enum if field.type_name() == ".google.protobuf.NullValue" => {}
                Type::Enum => {
                    out.insert(at);
                }
                Type::Message => walk(messages, field.type_name(), &format!("{at}."), seen, out),
                _ => {}
            }
        }
        seen.pop();
    }
    let mut out = BTreeSet::new();
    for file in &set.file {
        for service in file
            .service
            .iter()
            .filter(|s| s.name() == "WorkflowService")
        {
            for method in &service.method {
                let mut fields = BTreeSet::new();
                walk(
                    &messages,
                    method.input_type(),
                    "",
                    &mut Vec::new(),
                    &mut fields,
                );
                out.extend(fields.into_iter().map(|f| format!("{}:{f}", method.name())));
            }
        }
    }
    out
}

fn statuses_filter() -> Option<pb::WorkflowFilter> {
    Some(pb::WorkflowFilter {
        statuses: vec![UNKNOWN],
        ..Default::default()
    })
}

fn bad_enqueue() -> pb::EnqueueWorkflowRequest {
    let mut req = enqueue_req("wf", "q", vec![json!(1)]);
    req.deduplication_policy = UNKNOWN;
    req
}

fn bad_schedule() -> pb::CreateScheduleRequest {
    pb::CreateScheduleRequest {
        schedule_name: "s".into(),
        workflow_name: "wf".into(),
        cron: "* * * * *".into(),
        language: UNKNOWN,
        ..Default::default()
    }
}

/// One call per enum field, with that field (only) set to [`UNKNOWN`].
fn calls() -> Vec<Case> {
    vec![
        ("EnqueueWorkflow:deduplication_policy", |mut c| {
            Box::pin(async move { c.enqueue_workflow(bad_enqueue()).await.map(drop) })
        }),
        (
            "EnqueueWorkflows:workflows.deduplication_policy",
            |mut c| {
                Box::pin(async move {
                    let req = pb::EnqueueWorkflowsRequest {
                        workflows: vec![bad_enqueue()],
                    };
                    c.enqueue_workflows(req).await.map(drop)
                })
            },
        ),
        ("DebounceWorkflow:workflow.deduplication_policy", |mut c| {
            Box::pin(async move {
                let req = pb::DebounceWorkflowRequest {
                    workflow: Some(bad_enqueue()),
                    debounce_key: "k".into(),
                    debounce_period: Some(prost_types::Duration {
                        seconds: 1,
                        nanos: 0,
                    }),
                    ..Default::default()
                };
                c.debounce_workflow(req).await.map(drop)
            })
        }),
        (
            "Transact:operations.enqueue.deduplication_policy",
            |mut c| {
                Box::pin(async move {
                    let req = pb::TransactRequest {
                        operations: vec![pb::TransactOperation {
                            operation: Some(pb::transact_operation::Operation::Enqueue(
                                bad_enqueue(),
                            )),
                        }],
                    };
                    c.transact(req).await.map(drop)
                })
            },
        ),
        ("ListWorkflows:filter.statuses", |mut c| {
            Box::pin(async move {
                let req = pb::ListWorkflowsRequest {
                    filter: statuses_filter(),
                    ..Default::default()
                };
                c.list_workflows(req).await.map(drop)
            })
        }),
        ("ListQueuedWorkflows:filter.statuses", |mut c| {
            Box::pin(async move {
                let req = pb::ListQueuedWorkflowsRequest {
                    filter: statuses_filter(),
                    ..Default::default()
                };
                c.list_queued_workflows(req).await.map(drop)
            })
        }),
        ("CancelWorkflows:filter.statuses", |mut c| {
            Box::pin(async move {
                let req = pb::CancelWorkflowsRequest {
                    filter: statuses_filter(),
                    ..Default::default()
                };
                c.cancel_workflows(req).await.map(drop)
            })
        }),
        ("ResumeWorkflows:filter.statuses", |mut c| {
            Box::pin(async move {
                let req = pb::ResumeWorkflowsRequest {
                    filter: statuses_filter(),
                    ..Default::default()
                };
                c.resume_workflows(req).await.map(drop)
            })
        }),
        ("DeleteWorkflows:filter.statuses", |mut c| {
            Box::pin(async move {
                let req = pb::DeleteWorkflowsRequest {
                    filter: statuses_filter(),
                    ..Default::default()
                };
                c.delete_workflows(req).await.map(drop)
            })
        }),
        ("ForkWorkflow:step_numbering", |mut c| {
            Box::pin(async move {
                let req = pb::ForkWorkflowRequest {
                    workflow_id: "wf".into(),
                    step_numbering: UNKNOWN,
                    ..Default::default()
                };
                c.fork_workflow(req).await.map(drop)
            })
        }),
        ("ForkWorkflows:step_numbering", |mut c| {
            Box::pin(async move {
                let req = pb::ForkWorkflowsRequest {
                    workflow_ids: vec!["wf".into()],
                    step_numbering: UNKNOWN,
                    ..Default::default()
                };
                c.fork_workflows(req).await.map(drop)
            })
        }),
        ("ForkWorkflows:filter.statuses", |mut c| {
            Box::pin(async move {
                let req = pb::ForkWorkflowsRequest {
                    filter: statuses_filter(),
                    ..Default::default()
                };
                c.fork_workflows(req).await.map(drop)
            })
        }),
        ("AwaitWorkflows:mode", |mut c| {
            Box::pin(async move {
                let req = pb::AwaitWorkflowsRequest {
                    workflow_ids: vec!["wf".into()],
                    mode: UNKNOWN,
                    ..Default::default()
                };
                c.await_workflows(req).await.map(drop)
            })
        }),
        ("WatchWorkflows:statuses", |mut c| {
            Box::pin(async move {
                let req = pb::WatchWorkflowsRequest {
                    statuses: vec![UNKNOWN],
                    ..Default::default()
                };
                // A stream may fail at the call or as its first item.
                let mut stream = c.watch_workflows(req).await?.into_inner();
                match stream.next().await {
                    Some(Err(status)) => Err(status),
                    _ => Ok(()),
                }
            })
        }),
        ("RegisterQueue:on_conflict", |mut c| {
            Box::pin(async move {
                let req = pb::RegisterQueueRequest {
                    queue: Some(pb::Queue {
                        name: "q-enum".into(),
                        ..Default::default()
                    }),
                    on_conflict: UNKNOWN,
                };
                c.register_queue(req).await.map(drop)
            })
        }),
        ("GetWorkflowAggregates:group_by", |mut c| {
            Box::pin(async move {
                let req = pb::GetWorkflowAggregatesRequest {
                    group_by: vec![UNKNOWN],
                    ..Default::default()
                };
                c.get_workflow_aggregates(req).await.map(drop)
            })
        }),
        ("GetWorkflowAggregates:filter.statuses", |mut c| {
            Box::pin(async move {
                let req = pb::GetWorkflowAggregatesRequest {
                    filter: statuses_filter(),
                    group_by: vec![pb::WorkflowGroupBy::Status as i32],
                    ..Default::default()
                };
                c.get_workflow_aggregates(req).await.map(drop)
            })
        }),
        ("GetStepAggregates:group_by", |mut c| {
            Box::pin(async move {
                let req = pb::GetStepAggregatesRequest {
                    group_by: vec![UNKNOWN],
                    ..Default::default()
                };
                c.get_step_aggregates(req).await.map(drop)
            })
        }),
        ("GetStepAggregates:statuses", |mut c| {
            Box::pin(async move {
                let req = pb::GetStepAggregatesRequest {
                    group_by: vec![pb::StepGroupBy::Status as i32],
                    statuses: vec![UNKNOWN],
                    ..Default::default()
                };
                c.get_step_aggregates(req).await.map(drop)
            })
        }),
        ("CreateSchedule:language", |mut c| {
            Box::pin(async move { c.create_schedule(bad_schedule()).await.map(drop) })
        }),
        ("ApplySchedules:schedules.language", |mut c| {
            Box::pin(async move {
                let req = pb::ApplySchedulesRequest {
                    schedules: vec![bad_schedule()],
                };
                c.apply_schedules(req).await.map(drop)
            })
        }),
        ("ListSchedules:statuses", |mut c| {
            Box::pin(async move {
                let req = pb::ListSchedulesRequest {
                    statuses: vec![UNKNOWN],
                    ..Default::default()
                };
                c.list_schedules(req).await.map(drop)
            })
        }),
        ("StartBulkJob:cancel.filter.statuses", |c| {
            bulk_job(
                Op::Cancel(pb::CancelWorkflowsRequest {
                    filter: statuses_filter(),
                    ..Default::default()
                }),
                c,
            )
        }),
        ("StartBulkJob:resume.filter.statuses", |c| {
            bulk_job(
                Op::Resume(pb::ResumeWorkflowsRequest {
                    filter: statuses_filter(),
                    ..Default::default()
                }),
                c,
            )
        }),
        ("StartBulkJob:fork.filter.statuses", |c| {
            bulk_job(
                Op::Fork(pb::ForkWorkflowsRequest {
                    filter: statuses_filter(),
                    ..Default::default()
                }),
                c,
            )
        }),
        ("StartBulkJob:fork.step_numbering", |c| {
            bulk_job(
                Op::Fork(pb::ForkWorkflowsRequest {
                    filter: Some(pb::WorkflowFilter {
                        workflow_id_prefixes: vec!["enum-".into()],
                        ..Default::default()
                    }),
                    step_numbering: UNKNOWN,
                    ..Default::default()
                }),
                c,
            )
        }),
        ("StartBulkJob:delete.filter.statuses", |c| {
            bulk_job(
                Op::Delete(pb::DeleteWorkflowsRequest {
                    filter: statuses_filter(),
                    ..Default::default()
                }),
                c,
            )
        }),
        ("ListBulkJobs:states", |mut c| {
            Box::pin(async move {
                let req = pb::ListBulkJobsRequest {
                    states: vec![UNKNOWN],
                    ..Default::default()
                };
                c.list_bulk_jobs(req).await.map(drop)
            })
        }),
    ]
}

use pb::start_bulk_job_request::Operation as Op;

/// StartBulkJob with this operation.
fn bulk_job(op: Op, mut c: Client) -> Call {
    Box::pin(async move {
        let req = pb::StartBulkJobRequest {
            operation: Some(op),
            ..Default::default()
        };
        c.start_bulk_job(req).await.map(drop)
    })
}

#[tokio::test]
async fn every_request_enum_refuses_unknown_values() {
    let covered: BTreeSet<String> = calls().iter().map(|(k, _)| k.to_string()).collect();
    let found = request_enum_fields();
    let missing: Vec<_> = found.difference(&covered).collect();
    let stale: Vec<_> = covered.difference(&found).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "enum fields without a case here: {missing:?}; cases for no field: {stale:?}"
    );

    let srv = TestServer::start().await;
    let mut failures = Vec::new();
    for (field, call) in calls() {
        match call(srv.client.clone()).await {
            Err(s)
                if s.code() == Code::InvalidArgument
                    && s.message().contains("unknown value 99") => {}
            other => failures.push(format!("{field}: {other:?}")),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
