//! Connect over curl: unary JSON and protobuf, server streaming, errors with gRPC's codes and
//! messages, `Connect-Timeout-Ms` as the deadline, and bearer tokens and scopes through the same
//! auth layer as gRPC.

use std::io::Write;

use prost::Message;
use serde_json::json;
use tonic::Code;

use super::{connect_json, connect_stream, post};
use crate::harness::{
    enqueue_req, telemetry_sample, TestDb, TestServer, Worker, WorkerLang, WorkerOptions,
};

#[tokio::test]
async fn connect_calls_answer_as_grpc_does() {
    let srv = TestServer::start().await;
    let worker = Worker::start(WorkerLang::Python, &srv.db.url, WorkerOptions::default()).await;
    let addr = srv.addr;

    let enqueued = connect_json(
        addr,
        "EnqueueWorkflow",
        &["X-Request-Id: connect-req-1"],
        json!({
            "workflowName": "add", "queueName": "_dbos_internal_queue",
            "positionalArgs": [2], "namedArgs": {"b": 40}, "workflowId": "c-1"
        }),
    )
    .await;
    assert_eq!(enqueued.status, 200, "{enqueued:?}");
    assert_eq!(enqueued.header("content-type"), Some("application/json"));
    assert_eq!(
        enqueued.header("x-request-id"),
        Some("connect-req-1"),
        "the request id passes through"
    );
    let body = enqueued.json();
    assert_eq!(body["workflowId"], "c-1");
    assert_eq!(
        body["outcome"], "ENQUEUE_OUTCOME_CREATED",
        "enums are strings: {body}"
    );

    // Server streaming: status updates, then the outcome, then a clean end of stream.
    let awaited = connect_stream(
        addr,
        "AwaitWorkflow",
        &[],
        json!({"workflowId": "c-1", "timeout": "60s"}),
    )
    .await;
    assert_eq!(awaited.status, 200);
    assert_eq!(
        awaited.header("content-type"),
        Some("application/connect+json")
    );
    let (messages, end) = awaited.stream();
    let outcome = &messages.last().expect("messages")["outcome"];
    assert_eq!(outcome["status"], "WORKFLOW_STATUS_SUCCESS", "{messages:?}");
    assert_eq!(outcome["output"]["json"], 42);
    assert!(end.get("error").is_none(), "{end}");

    // application/proto carries the same message gRPC returns.
    let request = dbosd::pb::GetWorkflowRequest {
        workflow_id: "c-1".into(),
        ..Default::default()
    };
    let proto = post(
        addr,
        "/dbosd.v1.WorkflowService/GetWorkflow",
        &["Content-Type: application/proto"],
        &request.encode_to_vec(),
    )
    .await;
    assert_eq!(proto.status, 200);
    assert_eq!(proto.header("content-type"), Some("application/proto"));
    let via_connect =
        dbosd::pb::GetWorkflowResponse::decode(&proto.body[..]).expect("protobuf body");
    let via_grpc = srv
        .client
        .clone()
        .get_workflow(request)
        .await
        .expect("gRPC")
        .into_inner();
    assert_eq!(via_connect, via_grpc);

    let listed = connect_json(
        addr,
        "ListWorkflows",
        &[],
        json!({"filter": {"workflowIds": ["c-1"]}}),
    )
    .await;
    assert_eq!(
        listed.json()["workflows"][0]["status"],
        "WORKFLOW_STATUS_SUCCESS",
        "{listed:?}"
    );

    // Errors: the Connect code and HTTP status of gRPC's code, and gRPC's message.
    let grpc = srv
        .client
        .clone()
        .get_workflow(dbosd::pb::GetWorkflowRequest {
            workflow_id: "nope".into(),
            ..Default::default()
        })
        .await
        .expect_err("no such workflow");
    assert_eq!(grpc.code(), Code::NotFound);
    let missing = connect_json(addr, "GetWorkflow", &[], json!({"workflowId": "nope"})).await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.json(),
        json!({"code": "not_found", "message": grpc.message()})
    );

    let grpc = srv
        .client
        .clone()
        .await_workflow(dbosd::pb::AwaitWorkflowRequest::default())
        .await
        .expect_err("a workflow id is required");
    let (messages, end) = connect_stream(addr, "AwaitWorkflow", &[], json!({}))
        .await
        .stream();
    assert!(messages.is_empty());
    assert_eq!(
        end["error"],
        json!({"code": "invalid_argument", "message": grpc.message()})
    );

    // A body that is not the request message is refused in JSON terms, before any handler runs.
    let typo = connect_json(addr, "GetWorkflow", &[], json!({"workflow_idd": "c-1"})).await;
    assert_eq!(typo.status, 400);
    assert_eq!(typo.json()["code"], "invalid_argument");
    assert!(
        typo.json()["message"]
            .as_str()
            .unwrap()
            .contains("workflow_idd"),
        "{typo:?}"
    );
    let unknown = connect_json(addr, "NoSuchMethod", &[], json!({})).await;
    assert_eq!(
        (unknown.status, unknown.json()["code"].as_str()),
        (501, Some("unimplemented"))
    );
    let wrong_type = post(
        addr,
        "/dbosd.v1.WorkflowService/GetWorkflow",
        &["Content-Type: text/plain"],
        b"{}",
    )
    .await;
    assert_eq!(wrong_type.status, 415);

    // The calls went through the RPC layer: counted like gRPC calls, under their gRPC codes.
    let scrape = srv.scrape().await;
    let counted = |method: &str, code: &str| {
        telemetry_sample(
            &scrape,
            &format!(
                r#"dbosd_grpc_server_handled_total{{grpc_service="dbosd.v1.WorkflowService",grpc_method="{method}",grpc_code="{code}",database="default"}}"#
            ),
        )
    };
    assert_eq!(counted("EnqueueWorkflow", "OK"), Some(1.0), "{scrape}");
    assert_eq!(counted("GetWorkflow", "NotFound"), Some(2.0), "{scrape}");
    worker.stop().await;
    srv.stop().await;
}

#[tokio::test]
async fn connect_timeout_is_the_calls_deadline() {
    let srv = TestServer::start().await;
    let mut req = enqueue_req("never_runs", "nobody_polls_this", vec![]);
    req.workflow_id = Some("waits-forever".into());
    srv.client
        .clone()
        .enqueue_workflow(req)
        .await
        .expect("enqueue");

    // A unary wait (GetEvent would wait 60 s) cut at 1 ms.
    let started = std::time::Instant::now();
    let unary = connect_json(
        srv.addr,
        "GetEvent",
        &["Connect-Timeout-Ms: 1"],
        json!({"workflowId": "waits-forever", "key": "k", "timeout": "60s"}),
    )
    .await;
    assert_eq!(unary.status, 504, "{unary:?}");
    assert_eq!(unary.json()["code"], "deadline_exceeded");

    // A stream (WatchEvent would wait for ever) ends with deadline_exceeded in its end message.
    let stream = connect_stream(
        srv.addr,
        "WatchEvent",
        &["Connect-Timeout-Ms: 200"],
        json!({"workflowId": "waits-forever", "key": "k"}),
    )
    .await;
    assert_eq!(stream.status, 200);
    let (messages, end) = stream.stream();
    assert!(messages.is_empty(), "{messages:?}");
    assert_eq!(end["error"]["code"], "deadline_exceeded", "{end}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "the deadlines ended the waits"
    );

    let bad = connect_json(
        srv.addr,
        "GetWorkflow",
        &["Connect-Timeout-Ms: soon"],
        json!({}),
    )
    .await;
    assert_eq!(
        (bad.status, bad.json()["code"].as_str()),
        (400, Some("invalid_argument"))
    );
    srv.stop().await;
}

const TOKENS: &str = r#"{"tokens": [
    {"name": "billing", "token": "tok-billing", "applications": ["billing"]},
    {"name": "ops", "token": "tok-ops", "applications": ["*"]}
]}"#;

#[tokio::test]
async fn connect_calls_pass_the_same_auth_and_scopes() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(TOKENS.as_bytes()).unwrap();
    let path = file.path().to_owned();
    let srv = TestServer::start_on(TestDb::new().await, |s| s.tokens_file = Some(path)).await;
    let ops = "Authorization: Bearer tok-ops";
    let enqueue = json!({"workflowName": "wf", "queueName": "q", "workflowId": "s1", "applicationName": "shipping"});
    let created = connect_json(srv.addr, "EnqueueWorkflow", &[ops], enqueue).await;
    assert_eq!(created.status, 200, "{created:?}");

    let anonymous = connect_json(srv.addr, "ListWorkflows", &[], json!({})).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.json()["code"], "unauthenticated");
    assert!(
        anonymous.json()["message"]
            .as_str()
            .unwrap()
            .contains("Bearer"),
        "{anonymous:?}"
    );

    // The billing token cannot see shipping's workflow: NOT_FOUND, word for word as for an unknown id.
    let billing = "Authorization: Bearer tok-billing";
    let foreign = connect_json(
        srv.addr,
        "GetWorkflow",
        &[billing],
        json!({"workflowId": "s1"}),
    )
    .await;
    let unknown = connect_json(
        srv.addr,
        "GetWorkflow",
        &[billing],
        json!({"workflowId": "s-unknown"}),
    )
    .await;
    assert_eq!(foreign.status, 404, "{foreign:?}");
    let unknown_message = unknown.json()["message"]
        .as_str()
        .unwrap()
        .replace("s-unknown", "s1");
    assert_eq!(
        foreign.json()["message"].as_str(),
        Some(unknown_message.as_str())
    );
    let ops_sees = connect_json(srv.addr, "GetWorkflow", &[ops], json!({"workflowId": "s1"})).await;
    assert_eq!(
        ops_sees.json()["workflow"]["applicationName"],
        "shipping",
        "{ops_sees:?}"
    );

    // Health stays exempt over Connect too.
    let health = post(
        srv.addr,
        "/grpc.health.v1.Health/Check",
        &["Content-Type: application/json"],
        b"{}",
    )
    .await;
    assert_eq!(health.status, 200, "{health:?}");
    assert!(health.json()["status"].is_string(), "{health:?}");
    srv.stop().await;
}
