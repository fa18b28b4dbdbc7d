//! Bearer tokens scoped to applications (and queues): a missing or unknown token is UNAUTHENTICATED;
//! a token for application A cannot enqueue into application B (PERMISSION_DENIED), and B's
//! workflows are to it as if they did not exist (NOT_FOUND, waits that time out, left out of
//! lists); health stays open. `authz_*` compare those answers with an unknown id's in detail.

use std::io::Write;

use dbosd::cli::Bearer;
use dbosd::pb::{
    workflow_service_client::WorkflowServiceClient, AwaitWorkflowRequest, AwaitWorkflowsRequest,
    CancelWorkflowRequest, CancelWorkflowsRequest, DeleteWorkflowRequest, EnqueueWorkflowsRequest,
    ForkWorkflowRequest, GetEventRequest, GetWorkflowAggregatesRequest, GetWorkflowEventsRequest,
    GetWorkflowRequest, ListQueuedWorkflowsRequest, ListQueuesRequest, ListWorkflowStepsRequest,
    ListWorkflowsRequest, ReadStreamRequest, RenameApplicationRequest, ResumeWorkflowRequest,
    SendMessageRequest, SendMessagesRequest, SetWorkflowPriorityRequest,
    UpdateWorkflowAttributesRequest, WatchEventRequest, WatchWorkflowsRequest, WorkflowFilter,
};
use tokio_stream::StreamExt;
use tonic::{service::interceptor::InterceptedService, transport::Channel, Code};
use tonic_health::pb::{health_client::HealthClient, HealthCheckRequest};

use crate::harness::{
    assert_status, enqueue_req, pv, run_bounded, watching, TestDb, TestServer, WAIT,
};

const TOKENS: &str = r#"{"tokens": [
    {"name": "billing", "token": "tok-billing-9f2", "applications": ["billing"]},
    {"name": "billing-invoices", "token": "tok-invoices-4c1", "applications": ["billing"], "queues": ["invoices"]},
    {"name": "ops", "token": "tok-ops-77a", "applications": ["*"]}
]}"#;

type Client = WorkflowServiceClient<InterceptedService<Channel, Bearer>>;

fn client_as(channel: &Channel, token: Option<&str>) -> Client {
    let bearer = Bearer::new(token).expect("an ASCII token");
    WorkflowServiceClient::with_interceptor(channel.clone(), bearer)
}

/// A server with the tokens above, and workflows of two applications and of none:
/// `b1` (billing, invoices), `b2` (billing, other), `s1` (shipping, invoices), `u1` (no application).
async fn server_with_workflows() -> (TestServer, tempfile::NamedTempFile) {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(TOKENS.as_bytes()).unwrap();
    let path = file.path().to_owned();
    let srv = TestServer::start_on(TestDb::new().await, |s| s.tokens_file = Some(path)).await;
    let mut ops = client_as(&srv.channel, Some("tok-ops-77a"));
    for (id, app, queue) in [
        ("b1", Some("billing"), "invoices"),
        ("b2", Some("billing"), "other"),
        ("s1", Some("shipping"), "invoices"),
        ("u1", None, "invoices"),
    ] {
        let mut req = enqueue_req("wf", queue, vec![]);
        req.workflow_id = Some(id.into());
        req.application_name = app.map(str::to_owned);
        ops.enqueue_workflow(req)
            .await
            .expect("ops may enqueue anywhere");
    }
    (srv, file)
}

fn ids(workflows: &[dbosd::pb::WorkflowInfo]) -> Vec<&str> {
    let mut ids: Vec<&str> = workflows.iter().map(|w| w.workflow_id.as_str()).collect();
    ids.sort();
    ids
}

const DENIED: &str = "may not touch";

#[tokio::test]
async fn calls_need_a_known_token_except_for_health() {
    let (srv, _tokens) = server_with_workflows().await;
    let list = || ListWorkflowsRequest::default();
    let none = client_as(&srv.channel, None).list_workflows(list()).await;
    assert_status(none, Code::Unauthenticated, "Bearer");
    let wrong = client_as(&srv.channel, Some("tok-ops-77b"))
        .list_workflows(list())
        .await;
    assert_status(wrong, Code::Unauthenticated, "unknown bearer token");
    let health = HealthClient::new(srv.channel.clone())
        .check(HealthCheckRequest::default())
        .await;
    assert!(health.is_ok(), "health is exempt: {health:?}");
    let scrape = srv.scrape().await;
    assert!(
        scrape.contains(
            r#"grpc_method="ListWorkflows",grpc_code="Unauthenticated",database="default"} 2"#
        ),
        "{scrape}"
    );
    srv.stop().await;
}

#[tokio::test]
async fn a_token_enqueues_only_into_its_applications_and_queues() {
    let (srv, _tokens) = server_with_workflows().await;
    let mut billing = client_as(&srv.channel, Some("tok-billing-9f2"));
    let enqueue = |id: &str, app: Option<&str>, queue: &str| {
        let mut req = enqueue_req("wf", queue, vec![]);
        req.workflow_id = Some(id.into());
        req.application_name = app.map(str::to_owned);
        req
    };
    let own = billing
        .enqueue_workflow(enqueue("b3", Some("billing"), "any"))
        .await;
    assert!(own.is_ok(), "{own:?}");
    for (id, app) in [("x1", Some("shipping")), ("x2", None)] {
        let other = billing.enqueue_workflow(enqueue(id, app, "any")).await;
        assert_status(other, Code::PermissionDenied, DENIED);
    }
    // Shipping's id is taken: said so, with nothing else about it.
    let taken = billing
        .enqueue_workflow(enqueue("s1", Some("billing"), "any"))
        .await;
    assert_status(taken, Code::AlreadyExists, "already taken");
    let mut invoices = client_as(&srv.channel, Some("tok-invoices-4c1"));
    let off_queue = invoices
        .enqueue_workflow(enqueue("b4", Some("billing"), "other"))
        .await;
    assert_status(off_queue, Code::PermissionDenied, "queue other");
    srv.stop().await;
}

#[tokio::test]
async fn reads_lists_and_messages_stay_inside_the_scope() {
    let (srv, _tokens) = server_with_workflows().await;
    let mut billing = client_as(&srv.channel, Some("tok-billing-9f2"));
    let get = |id: &str| GetWorkflowRequest {
        workflow_id: id.into(),
        ..Default::default()
    };
    assert!(billing.get_workflow(get("b1")).await.is_ok());
    assert_status(
        billing.get_workflow(get("s1")).await,
        Code::NotFound,
        "workflow s1 does not exist",
    );
    assert_status(
        billing.get_workflow(get("u1")).await,
        Code::NotFound,
        "workflow u1 does not exist",
    );

    // Lists leave out what the token may not see, whatever the filter asks for.
    let all = billing
        .list_workflows(ListWorkflowsRequest::default())
        .await
        .unwrap();
    assert_eq!(ids(&all.into_inner().workflows), ["b1", "b2"]);
    let asked = ListWorkflowsRequest {
        filter: Some(WorkflowFilter {
            application_names: vec!["shipping".into()],
            ..Default::default()
        }),
        ..Default::default()
    };
    assert!(billing
        .list_workflows(asked)
        .await
        .unwrap()
        .into_inner()
        .workflows
        .is_empty());
    let queued = billing
        .list_queued_workflows(ListQueuedWorkflowsRequest::default())
        .await
        .unwrap();
    assert_eq!(ids(&queued.into_inner().workflows), ["b1", "b2"]);
    let mut invoices = client_as(&srv.channel, Some("tok-invoices-4c1"));
    let listed = invoices
        .list_workflows(ListWorkflowsRequest::default())
        .await
        .unwrap();
    assert_eq!(ids(&listed.into_inner().workflows), ["b1"]);
    assert_status(
        invoices.get_workflow(get("b2")).await,
        Code::NotFound,
        "workflow b2 does not exist",
    );

    let steps = ListWorkflowStepsRequest {
        workflow_id: "s1".into(),
        ..Default::default()
    };
    assert_status(
        billing.list_workflow_steps(steps).await,
        Code::NotFound,
        "does not exist",
    );
    let event = GetEventRequest {
        workflow_id: "s1".into(),
        key: "k".into(),
        timeout: Some(prost_types::Duration {
            seconds: 0,
            nanos: 100_000_000,
        }),
    };
    let event = billing.get_event(event).await.unwrap().into_inner();
    assert!(!event.found, "{event:?}");
    let message = SendMessageRequest {
        destination_id: "s1".into(),
        message: Some(pv(serde_json::json!(1))),
        ..Default::default()
    };
    assert_status(
        billing.send_message(message).await,
        Code::NotFound,
        "destination workflow s1 does not exist",
    );
    srv.stop().await;
}

#[tokio::test]
async fn waits_and_watches_stay_inside_the_scope() {
    let (srv, _tokens) = server_with_workflows().await;
    let mut billing = client_as(&srv.channel, Some("tok-billing-9f2"));
    let second = Some(prost_types::Duration {
        seconds: 1,
        nanos: 0,
    });
    // Shipping's workflow is never there for billing: waits end at their deadline with nothing.
    let await_one = AwaitWorkflowRequest {
        workflow_id: "s1".into(),
        timeout: second,
        ..Default::default()
    };
    let stream = billing.await_workflow(await_one).await.unwrap();
    assert_ends_with_deadline(stream.into_inner()).await;
    let await_many = AwaitWorkflowsRequest {
        workflow_ids: vec!["b1".into(), "s1".into()],
        mode: dbosd::pb::AwaitMode::All as i32,
        timeout: second,
        ..Default::default()
    };
    let stream = billing.await_workflows(await_many).await.unwrap();
    assert_ends_with_deadline(stream.into_inner()).await;
    let watch_event = WatchEventRequest {
        workflow_id: "s1".into(),
        key: "k".into(),
        timeout: second,
        ..Default::default()
    };
    let stream = billing.watch_event(watch_event).await.unwrap();
    assert_ends_with_deadline(stream.into_inner()).await;
    let read = ReadStreamRequest {
        workflow_id: "s1".into(),
        key: "k".into(),
        ..Default::default()
    };
    let mut stream = billing.read_stream(read).await.unwrap().into_inner();
    let first = tokio::time::timeout(WAIT, stream.next()).await.unwrap();
    assert_status(
        first.expect("an answer"),
        Code::NotFound,
        "workflow s1 does not exist",
    );

    // A watch over everything sees shipping's transition only if it may: it must not.
    let mut watch = billing
        .watch_workflows(WatchWorkflowsRequest::default())
        .await
        .unwrap()
        .into_inner();
    watching(&srv.hub).await;
    let mut ops = client_as(&srv.channel, Some("tok-ops-77a"));
    for id in ["s1", "u1", "b1"] {
        let cancel = CancelWorkflowRequest {
            workflow_id: id.into(),
            cancel_children: false,
        };
        ops.cancel_workflow(cancel).await.expect("ops cancels");
    }
    let first = tokio::time::timeout(WAIT, watch.next())
        .await
        .expect("a transition");
    let first = first.unwrap().unwrap().workflow.unwrap();
    assert_eq!(
        first.workflow_id, "b1",
        "the first transition the token may see"
    );
    srv.stop().await;
}

/// Reads a wait's stream to its end: no message, then DEADLINE_EXCEEDED.
async fn assert_ends_with_deadline<T: std::fmt::Debug>(mut stream: tonic::Streaming<T>) {
    let next = tokio::time::timeout(WAIT, stream.next()).await.unwrap();
    assert_status(
        next.expect("an answer"),
        Code::DeadlineExceeded,
        "timed out",
    );
}

#[tokio::test]
async fn management_stays_inside_the_scope() {
    let (srv, _tokens) = server_with_workflows().await;
    let mut billing = client_as(&srv.channel, Some("tok-billing-9f2"));
    let id = || "s1".to_owned();
    let cancel = CancelWorkflowRequest {
        workflow_id: id(),
        cancel_children: false,
    };
    assert_status(
        billing.cancel_workflow(cancel).await,
        Code::NotFound,
        "workflow s1 does not exist",
    );
    let resume = ResumeWorkflowRequest {
        workflow_id: id(),
        queue_name: None,
    };
    assert_status(
        billing.resume_workflow(resume).await,
        Code::NotFound,
        "workflow s1 does not exist",
    );
    let fork = ForkWorkflowRequest {
        workflow_id: id(),
        ..Default::default()
    };
    assert_status(
        billing.fork_workflow(fork).await,
        Code::NotFound,
        "workflow s1 does not exist",
    );
    let delete = DeleteWorkflowRequest {
        workflow_id: id(),
        delete_children: false,
    };
    assert_status(
        billing.delete_workflow(delete).await,
        Code::NotFound,
        "workflow s1 does not exist",
    );
    let priority = SetWorkflowPriorityRequest {
        workflow_id: id(),
        priority: 1,
    };
    assert_status(
        billing.set_workflow_priority(priority).await,
        Code::NotFound,
        "workflow s1 does not exist",
    );
    let attributes = UpdateWorkflowAttributesRequest {
        workflow_id: id(),
        ..Default::default()
    };
    let updated = billing.update_workflow_attributes(attributes).await;
    assert_status(updated, Code::NotFound, "workflow s1 does not exist");

    // Bulk: a foreign id is reported as an unknown one; a filter is narrowed to the scope.
    let by_ids = CancelWorkflowsRequest {
        workflow_ids: vec!["b1".into(), "s1".into()],
        ..Default::default()
    };
    let results = billing
        .cancel_workflows(by_ids)
        .await
        .unwrap()
        .into_inner()
        .results;
    let outcomes: Vec<_> = results.iter().map(|r| r.outcome()).collect();
    use dbosd::pb::WorkflowActionOutcome as O;
    assert_eq!(outcomes, [O::Cancelled, O::NotFound], "{results:?}");
    let by_filter = CancelWorkflowsRequest {
        filter: Some(WorkflowFilter {
            workflow_ids: vec!["b1".into(), "b2".into(), "s1".into(), "u1".into()],
            ..Default::default()
        }),
        dry_run: true,
        ..Default::default()
    };
    let selected = billing
        .cancel_workflows(by_filter)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        selected.selected_count, 2,
        "b1 and b2, whatever their status"
    );
    // A token kept to one queue cannot move work onto another.
    let mut invoices = client_as(&srv.channel, Some("tok-invoices-4c1"));
    let elsewhere = ResumeWorkflowRequest {
        workflow_id: "b1".into(),
        queue_name: Some("other".into()),
    };
    assert_status(
        invoices.resume_workflow(elsewhere).await,
        Code::PermissionDenied,
        "queue other",
    );
    srv.stop().await;
}

#[tokio::test]
async fn batch_calls_are_checked_and_database_wide_calls_need_an_unrestricted_token() {
    let (srv, _tokens) = server_with_workflows().await;
    let mut billing = client_as(&srv.channel, Some("tok-billing-9f2"));
    let item = |app: &str| {
        let mut req = enqueue_req("wf", "q", vec![]);
        req.application_name = Some(app.into());
        req
    };
    let batch = EnqueueWorkflowsRequest {
        workflows: vec![item("billing"), item("shipping")],
    };
    let mixed = billing.enqueue_workflows(batch).await;
    assert_status(mixed, Code::PermissionDenied, DENIED);
    let messages = SendMessagesRequest {
        messages: vec![SendMessageRequest {
            destination_id: "s1".into(),
            message: Some(pv(serde_json::json!(1))),
            ..Default::default()
        }],
    };
    assert_status(
        billing.send_messages(messages).await,
        Code::NotFound,
        "destination workflow s1 does not exist",
    );
    let events = GetWorkflowEventsRequest {
        workflow_id: "s1".into(),
    };
    assert_status(
        billing.get_workflow_events(events).await,
        Code::NotFound,
        "workflow s1 does not exist",
    );

    // Aggregates count only what the token may see.
    let counted = billing
        .get_workflow_aggregates(GetWorkflowAggregatesRequest {
            group_by: vec![dbosd::pb::WorkflowGroupBy::ApplicationName as i32],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let counts: Vec<i64> = counted.aggregates.iter().map(|a| a.count).collect();
    assert_eq!(counts, [2], "billing's b1 and b2 only: {counted:?}");

    // Queues, application names and the like act on the whole database.
    let queues = billing.list_queues(ListQueuesRequest::default()).await;
    assert_status(
        queues,
        Code::PermissionDenied,
        "needs a token for all of them",
    );
    let rename = RenameApplicationRequest {
        old_name: Some("shipping".into()),
        new_name: "billing".into(),
        ..Default::default()
    };
    assert_status(
        billing.rename_application(rename).await,
        Code::PermissionDenied,
        "for all",
    );
    let mut ops = client_as(&srv.channel, Some("tok-ops-77a"));
    assert!(ops.list_queues(ListQueuesRequest::default()).await.is_ok());
    srv.stop().await;
}

#[tokio::test]
async fn the_cli_sends_its_token() {
    let (srv, _tokens) = server_with_workflows().await;
    let list = |token: Option<&str>| {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_dbosd"));
        cmd.args(["workflow", "list", "-o", "json"])
            .env("DBOSD_ADDRESS", srv.addr.to_string())
            .env_remove("DBOSD_TOKEN");
        if let Some(token) = token {
            cmd.env("DBOSD_TOKEN", token);
        }
        run_bounded(cmd, "dbosd workflow list")
    };
    let refused = list(None).await;
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("Unauthenticated"), "{stderr}");
    let listed = list(Some("tok-billing-9f2")).await;
    let stdout = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.status.success(), "{stdout}");
    assert!(
        stdout.contains("\"b1\"") && !stdout.contains("\"s1\""),
        "{stdout}"
    );
    srv.stop().await;
}
