//! MCP as agents use it: the official MCP Python SDK (tests/mcp/client.py) connects to dbosd over
//! streamable HTTP at `/mcp` and over stdio (`dbosd mcp`), lists the tools and calls each one
//! against workflows a real DBOS Python worker ran. Scoping and authentication: `scope.rs`.

use std::{collections::BTreeSet, time::Duration};

use serde_json::{json, Value as Json};
use tokio::process::Command;

use dbosd::{mcp::McpSettings, pb};

use crate::harness::{
    assert_success, clients_bin, enqueue_req, repo_root, run_bounded, telemetry_sample,
    wait_terminal, Dbosd, TestDb, TestServer, Worker, WorkerLang, WorkerOptions, WAIT,
};

/// Where the client connects.
pub enum Target<'a> {
    /// `/mcp` of a server, with a bearer token or none.
    Http(&'a TestServer, Option<&'a str>),
    /// `/mcp` at an address, with a bearer token and a request id.
    HttpAt(std::net::SocketAddr, &'a str, &'a str),
    /// `dbosd mcp` with these arguments after `mcp`.
    Stdio(Vec<String>),
}

/// Runs the SDK client with `plan` against `target`; its JSON report.
pub async fn run_client(target: Target<'_>, plan: Json) -> Json {
    let mut cmd = Command::new(clients_bin().join("python"));
    cmd.arg(repo_root().join("tests/mcp/client.py"))
        .env("MCP_PLAN", plan.to_string());
    match target {
        Target::Http(srv, token) => {
            cmd.arg("--http").arg(format!("http://{}/mcp", srv.addr));
            if let Some(token) = token {
                cmd.arg("--token").arg(token);
            }
        }
        Target::HttpAt(addr, token, request_id) => {
            cmd.arg("--http").arg(format!("http://{addr}/mcp")).args([
                "--token",
                token,
                "--request-id",
                request_id,
            ]);
        }
        Target::Stdio(args) => {
            cmd.arg("--stdio")
                .arg(env!("CARGO_BIN_EXE_dbosd"))
                .arg("mcp")
                .args(args);
        }
    }
    let out = run_bounded(cmd, "tests/mcp/client.py").await;
    assert_success(&out, "tests/mcp/client.py");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "client output is not JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// A server serving `/mcp`, writes allowed or not, with `tweak` for the rest.
pub async fn mcp_server(
    allow_writes: bool,
    tweak: impl FnOnce(&mut dbosd::config::Settings),
) -> TestServer {
    TestServer::start_on(TestDb::new().await, |s| {
        s.mcp = Some(McpSettings {
            allow_writes,
            allowed_hosts: vec![],
        });
        tweak(s);
    })
    .await
}

/// The names of the tools the report lists.
pub fn tool_names(report: &Json) -> BTreeSet<String> {
    report["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools in {report}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

/// The `i`th call's result: its text parsed as JSON (asserting it succeeded).
pub fn ok(report: &Json, i: usize) -> Json {
    let r = &report["results"][i];
    assert_eq!(r["is_error"], false, "call {i} failed: {r}");
    let text = r["text"].as_str().unwrap();
    serde_json::from_str(text).unwrap_or_else(|e| panic!("call {i}: not JSON ({e}): {text}"))
}

/// The `i`th call's error text (asserting it failed).
pub fn err(report: &Json, i: usize) -> String {
    let r = &report["results"][i];
    assert_eq!(r["is_error"], true, "call {i} should fail: {r}");
    r["text"].as_str().unwrap().to_owned()
}

pub const READ_TOOLS: [&str; 10] = [
    "list_workflows",
    "get_workflow",
    "list_steps",
    "get_event",
    "read_stream",
    "list_messages",
    "list_stream_keys",
    "count_workflows",
    "list_queues",
    "list_schedules",
];
pub const WRITE_TOOLS: [&str; 4] = [
    "cancel_workflow",
    "resume_workflow",
    "fork_workflow",
    "delete_workflow",
];

async fn enqueue(srv: &TestServer, id: &str, name: &str, args: Vec<Json>) {
    let mut req = enqueue_req(name, "_dbos_internal_queue", args);
    req.workflow_id = Some(id.into());
    srv.client
        .clone()
        .enqueue_workflow(req)
        .await
        .expect("enqueue");
}

#[tokio::test]
async fn every_tool_over_http_against_workflows_a_worker_ran() {
    let srv = mcp_server(true, |_| {}).await;
    let worker = Worker::start(WorkerLang::Python, &srv.db.url, WorkerOptions::default()).await;
    let big = "x".repeat(100_000);
    enqueue(&srv, "mcp-add", "add", vec![json!(2), json!(40)]).await;
    enqueue(
        &srv,
        "mcp-ev",
        "set_event_wf",
        vec![json!("progress"), json!("half way")],
    )
    .await;
    enqueue(
        &srv,
        "mcp-stream",
        "write_stream_wf",
        vec![json!("s"), json!([1, 2, 3])],
    )
    .await;
    enqueue(&srv, "mcp-steps", "multi_step", vec![json!(3)]).await;
    enqueue(&srv, "mcp-big", "echo", vec![json!(big)]).await;
    enqueue(&srv, "mcp-fail", "fail", vec![json!("boom")]).await;
    for id in [
        "mcp-add",
        "mcp-ev",
        "mcp-stream",
        "mcp-steps",
        "mcp-big",
        "mcp-fail",
    ] {
        wait_terminal(&srv.client, id).await;
    }
    enqueue(&srv, "mcp-block", "blocker", vec![json!("never")]).await;
    let prefix = json!({"filter": {"workflow_id_prefixes": ["mcp-"]}});
    let report = run_client(
        Target::Http(&srv, None),
        json!({"calls": [
            {"tool": "list_workflows", "arguments": prefix},
            {"tool": "get_workflow", "arguments": {"workflow_id": "mcp-add"}},
            {"tool": "list_steps", "arguments": {"workflow_id": "mcp-steps"}},
            {"tool": "get_event", "arguments": {"workflow_id": "mcp-ev", "key": "progress"}},
            {"tool": "get_event", "arguments": {"workflow_id": "mcp-ev"}},
            {"tool": "read_stream", "arguments": {"workflow_id": "mcp-stream", "key": "s"}},
            {"tool": "count_workflows", "arguments": {"filter": {"workflow_id_prefixes": ["mcp-"], "statuses": ["success"]}}},
            {"tool": "list_queues", "arguments": {}},
            {"tool": "list_schedules", "arguments": {}},
            {"tool": "get_workflow", "arguments": {"workflow_id": "mcp-big"}},
            {"tool": "list_workflows", "arguments": {"filter": {"workflow_ids": ["mcp-fail"]}, "include_details": true, "include_payloads": true}},
            {"tool": "get_workflow", "arguments": {"workflow_id": "mcp-nope"}},
            {"tool": "list_workflows", "arguments": {"filter": {"statuses": ["DONE"]}}},
            {"tool": "cancel_workflow", "arguments": {"workflow_id": "mcp-block"}},
            {"tool": "resume_workflow", "arguments": {"workflow_id": "mcp-block"}},
            {"tool": "fork_workflow", "arguments": {"workflow_id": "mcp-add", "new_workflow_id": "mcp-add-fork"}},
            {"tool": "delete_workflow", "arguments": {"workflow_id": "mcp-fail"}},
            {"tool": "list_workflows", "arguments": {"filter": {"workflow_id_prefixes": ["mcp-"]}, "page_size": 2}},
        ], "resources": ["dbos://workflow/mcp-add", "dbos://workflow/mcp-nope"]}),
    )
    .await;
    assert_eq!(report["server"]["name"], "dbosd", "{report}");
    let names = tool_names(&report);
    let all: BTreeSet<String> = READ_TOOLS
        .iter()
        .chain(&WRITE_TOOLS)
        .map(|s| s.to_string())
        .collect();
    assert_eq!(names, all);
    for tool in report["tools"].as_array().unwrap() {
        assert!(
            tool["description"].as_str().unwrap().len() > 60,
            "a description written for a model: {tool}"
        );
        assert_eq!(tool["input_schema"]["type"], "object", "{tool}");
    }
    let list_schema = &report["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "list_workflows")
        .unwrap()["input_schema"];
    assert!(
        list_schema.to_string().contains("workflow_id_prefixes"),
        "the filter is in the schema: {list_schema}"
    );
    assert_eq!(
        report["resource_templates"],
        json!(["dbos://workflow/{workflow_id}"])
    );

    let listed = ok(&report, 0);
    let ids: BTreeSet<&str> = listed["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["workflow_id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains("mcp-add") && ids.contains("mcp-fail"),
        "{listed}"
    );
    assert!(
        listed["workflows"][0].get("input").is_none(),
        "summaries carry no payloads: {listed}"
    );

    let add = ok(&report, 1);
    assert_eq!(add["status"], "SUCCESS");
    assert_eq!(add["output"]["value"], 42, "{add}");
    assert_eq!(
        add["input"]["value"]["positionalArgs"],
        json!([2, 40]),
        "{add}"
    );

    let steps = ok(&report, 2);
    assert_eq!(steps["count"], 3, "{steps}");
    assert!(
        steps["steps"][0]["output"]["decoded_from"]
            .as_str()
            .unwrap()
            .contains("pickle"),
        "{steps}"
    );

    assert_eq!(
        ok(&report, 3),
        json!({"found": true, "value": {"serialization": "portable_json", "value": "half way"}})
    );
    assert_eq!(ok(&report, 4)["events"][0]["key"], "progress");
    let stream = ok(&report, 5);
    let values: Vec<&Json> = stream["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| &v["value"]["value"])
        .collect();
    assert_eq!(values, [&json!(1), &json!(2), &json!(3)], "{stream}");
    assert_eq!(stream["closed"], true, "{stream}");
    assert_eq!(stream["next_offset"], 3);

    let counts = ok(&report, 6);
    assert_eq!(counts["total"], 5, "{counts}");
    assert_eq!(counts["groups"], json!([{"status": "SUCCESS", "count": 5}]));
    assert!(ok(&report, 7)["queues"].is_array());
    assert!(ok(&report, 8)["schedules"].is_array());

    // The 100 kB output is cut at the payload bound with the marker; the result stays bounded.
    let text = report["results"][9]["text"].as_str().unwrap();
    assert!(text.len() <= dbosd::mcp::MAX_RESULT_BYTES, "{}", text.len());
    let big_wf = ok(&report, 9);
    let shown = big_wf["output"]["value_truncated"].as_str().unwrap();
    assert!(
        shown.ends_with("[cut by dbosd: 16384 of 100002 bytes shown]"),
        "{}",
        &shown[shown.len() - 60..]
    );

    let failed = ok(&report, 10)["workflows"][0].clone();
    assert_eq!(failed["status"], "ERROR");
    assert_eq!(failed["error"]["message"], "boom", "{failed}");

    let unknown = err(&report, 11);
    assert!(
        unknown.starts_with("NOT_FOUND: ") && unknown.contains("mcp-nope"),
        "{unknown}"
    );
    let bad = err(&report, 12);
    assert!(
        bad.starts_with("INVALID_ARGUMENT: statuses: \"DONE\""),
        "{bad}"
    );

    assert_eq!(ok(&report, 13)["outcome"], "CANCELLED");
    assert_eq!(ok(&report, 14)["outcome"], "RESUMED");
    assert_eq!(ok(&report, 15)["forked_workflow_id"], "mcp-add-fork");
    assert_eq!(ok(&report, 16)["outcome"], "DELETED");
    let forked = wait_terminal(&srv.client, "mcp-add-fork").await;
    assert_eq!(forked.status(), pb::WorkflowStatus::Success);
    let gone = srv
        .client
        .clone()
        .get_workflow(pb::GetWorkflowRequest {
            workflow_id: "mcp-fail".into(),
            ..Default::default()
        })
        .await;
    assert_eq!(
        gone.unwrap_err().code(),
        tonic::Code::NotFound,
        "delete_workflow deleted it"
    );

    let page = ok(&report, 17);
    assert_eq!(page["count"], 2);
    assert!(page["next_page_token"].is_string(), "{page}");

    let resource = &report["resources"][0];
    let wf: Json = serde_json::from_str(resource["text"].as_str().unwrap()).unwrap();
    assert_eq!(wf["output"]["value"], 42, "{resource}");
    assert!(
        report["resources"][1]["error"]
            .as_str()
            .unwrap()
            .contains("NOT_FOUND"),
        "{report}"
    );

    // The tools' calls went through the gRPC layers: counted like any gRPC call.
    let scrape = srv.scrape().await;
    let counted = telemetry_sample(&scrape, "dbosd_grpc_server_handled_total{grpc_service=\"dbosd.v1.WorkflowService\",grpc_method=\"GetWorkflowAggregates\",grpc_code=\"OK\",database=\"default\"}");
    assert_eq!(counted, Some(1.0), "{scrape}");
    worker.stop().await;
    srv.stop().await;
}

#[tokio::test]
async fn a_page_too_big_for_one_result_is_cut_to_the_workflows_that_fit() {
    let srv = mcp_server(false, |_| {}).await;
    // No worker: ENQUEUED workflows whose inputs are 30 kB each (2 KiB shown per payload with the
    // marker); 40 of them with details exceed 64 KiB, so the page shrinks and the token follows it.
    let long = "y".repeat(30_000);
    for i in 0..40 {
        let mut req = enqueue_req("echo", "q", vec![json!(format!("{long}{i}"))]);
        req.workflow_id = Some(format!("big-{i:02}"));
        srv.client.clone().enqueue_workflow(req).await.unwrap();
    }
    let report = run_client(
        Target::Http(&srv, None),
        json!({"calls": [{"tool": "list_workflows", "arguments": {
            "filter": {"workflow_id_prefixes": ["big-"]}, "page_size": 40,
            "include_payloads": true, "include_details": true, "newest_first": false}}]}),
    )
    .await;
    let text = report["results"][0]["text"].as_str().unwrap();
    assert!(text.len() <= dbosd::mcp::MAX_RESULT_BYTES, "{}", text.len());
    let page = ok(&report, 0);
    let n = page["count"].as_u64().unwrap();
    assert!((1..40).contains(&n), "{n} workflows fit");
    assert!(page["next_page_token"].is_string());
    let first = &page["workflows"][0];
    assert_eq!(first["workflow_id"], "big-00");
    assert!(
        first["input"]["value_truncated"]
            .as_str()
            .unwrap()
            .contains("[cut by dbosd: 2048 of"),
        "{first}"
    );
    srv.stop().await;
}

#[tokio::test]
async fn stdio_serves_the_tools_through_a_running_dbosd_writes_only_when_allowed() {
    let srv = mcp_server(false, |_| {}).await;
    enqueue(&srv, "stdio-1", "echo", vec![json!("hi")]).await;
    let address = srv.addr.to_string();
    let plan =
        json!({"calls": [{"tool": "get_workflow", "arguments": {"workflow_id": "stdio-1"}}]});
    let report = run_client(
        Target::Stdio(vec!["--address".into(), address.clone()]),
        plan.clone(),
    )
    .await;
    let names = tool_names(&report);
    assert_eq!(
        names,
        READ_TOOLS.iter().map(|s| s.to_string()).collect(),
        "no write tools without --allow-writes"
    );
    let wf = ok(&report, 0);
    assert_eq!(wf["status"], "ENQUEUED");
    assert_eq!(wf["input"]["value"]["positionalArgs"], json!(["hi"]));

    let plan =
        json!({"calls": [{"tool": "cancel_workflow", "arguments": {"workflow_id": "stdio-1"}}]});
    let report = run_client(
        Target::Stdio(vec!["--address".into(), address, "--allow-writes".into()]),
        plan,
    )
    .await;
    assert!(tool_names(&report).is_superset(&WRITE_TOOLS.iter().map(|s| s.to_string()).collect()));
    assert_eq!(ok(&report, 0)["outcome"], "CANCELLED");
    let wf = wait_terminal(&srv.client, "stdio-1").await;
    assert_eq!(wf.status(), pb::WorkflowStatus::Cancelled);
    srv.stop().await;
}

#[tokio::test]
async fn start_dev_serves_mcp_by_default_and_serve_only_when_asked() {
    // initdb on a 2-core machine can take a while.
    let args = ["start-dev", "--listen", "127.0.0.1:0"];
    let mut dbosd = Dbosd::spawn(&args, &[], Duration::from_secs(90)).await;
    let report = run_client(
        Target::HttpAt(dbosd.addr, "unused", "start-dev-1"),
        json!({}),
    )
    .await;
    let read: BTreeSet<String> = READ_TOOLS.iter().map(|s| s.to_string()).collect();
    assert_eq!(tool_names(&report), read, "{report}");
    dbosd.signal(libc::SIGTERM);
    assert!(dbosd.exited_within(WAIT).await.success());

    let srv = TestServer::start().await;
    let report = run_client(Target::Http(&srv, None), json!({})).await;
    assert!(
        report["connect_error"].is_string(),
        "no /mcp without --mcp: {report}"
    );
    srv.stop().await;
}
