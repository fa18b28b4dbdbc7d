//! MCP under tokens: `/mcp` refuses a request without a known bearer token with HTTP 401, and a
//! token scoped to application alpha sees through every tool exactly what a gRPC caller with it
//! sees: beta's workflows are answered as unknown ids, and lists and counts leave them out.

use serde_json::{json, Value as Json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{
    auth::setup::{enqueue_as_ops, stored_status, tokens_file, ALPHA, OPS},
    harness::{enqueue_req, Dbosd, TestDb, TestServer, WAIT},
    mcp::tools::{err, mcp_server, ok, run_client, tool_names, Target, WRITE_TOOLS},
};

/// One raw HTTP/1.1 POST of an MCP initialize to `/mcp`: the status line and headers.
async fn post_initialize(srv: &TestServer, authorization: Option<&str>) -> String {
    post_initialize_to(srv, "127.0.0.1", authorization).await
}

/// [`post_initialize`] with `host` as the Host header.
async fn post_initialize_to(srv: &TestServer, host: &str, authorization: Option<&str>) -> String {
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#;
    let auth = authorization
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "POST /mcp HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\n{auth}Content-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let mut conn = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    conn.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(WAIT, conn.read_to_string(&mut response))
        .await
        .expect("an answer in time")
        .unwrap();
    response
}

#[tokio::test]
async fn requests_without_a_known_token_get_401() {
    let file = tokens_file();
    let path = file.path().to_owned();
    let srv = mcp_server(false, |s| s.tokens_file = Some(path)).await;
    for auth in [None, Some("Bearer not-a-token"), Some("Basic abc")] {
        let response = post_initialize(&srv, auth).await;
        assert!(response.starts_with("HTTP/1.1 401"), "{auth:?}: {response}");
        assert!(
            response
                .to_ascii_lowercase()
                .contains("www-authenticate: bearer"),
            "{response}"
        );
    }
    let response = post_initialize(&srv, Some(&format!("Bearer {ALPHA}"))).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    // The SDK, with no token, cannot even initialize.
    let report = run_client(Target::Http(&srv, None), json!({})).await;
    assert!(report["connect_error"].is_string(), "{report}");
    assert!(report.get("tools").is_none(), "{report}");
    srv.stop().await;
}

#[tokio::test]
async fn an_alpha_token_sees_nothing_of_beta_through_any_tool() {
    let file = tokens_file();
    let path = file.path().to_owned();
    let srv = mcp_server(true, |s| s.tokens_file = Some(path)).await;
    enqueue_as_ops(&srv, "a-1", "alpha").await;
    enqueue_as_ops(&srv, "b-1", "beta").await;
    let by_id = |tool: &str, id: &str| json!({"tool": tool, "arguments": {"workflow_id": id}});
    let mut calls = vec![
        json!({"tool": "list_workflows", "arguments": {}}),
        json!({"tool": "count_workflows", "arguments": {"group_by": ["application_name"]}}),
        json!({"tool": "list_queues", "arguments": {}}),
        json!({"tool": "list_schedules", "arguments": {}}),
    ];
    // Each per-id tool on beta's workflow, then on an id that does not exist.
    for id in ["b-1", "nobody"] {
        calls.push(by_id("get_workflow", id));
        calls.push(by_id("list_steps", id));
        calls.push(json!({"tool": "get_event", "arguments": {"workflow_id": id, "key": "k"}}));
        calls.push(json!({"tool": "get_event", "arguments": {"workflow_id": id}}));
        calls.push(json!({"tool": "read_stream", "arguments": {"workflow_id": id, "key": "s", "wait_seconds": 0}}));
        calls.push(by_id("list_messages", id));
        calls.push(by_id("list_stream_keys", id));
        calls.push(by_id("cancel_workflow", id));
        calls.push(by_id("resume_workflow", id));
        calls.push(by_id("fork_workflow", id));
        calls.push(by_id("delete_workflow", id));
    }
    calls.push(by_id("get_workflow", "a-1"));
    let report = run_client(
        Target::Http(&srv, Some(ALPHA)),
        json!({"calls": calls, "resources": ["dbos://workflow/b-1", "dbos://workflow/a-1"]}),
    )
    .await;
    let listed = ok(&report, 0);
    let ids: Vec<&str> = listed["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["workflow_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a-1"], "{listed}");
    assert_eq!(
        ok(&report, 1)["groups"],
        json!([{"application_name": "alpha", "count": 1}])
    );
    for i in [2, 3] {
        assert!(
            err(&report, i).starts_with("PERMISSION_DENIED: "),
            "{}",
            report["results"][i]
        );
    }
    // Beta's workflow is answered exactly as the unknown id (results 4.. and 15..).
    for k in 0..11 {
        let (beta, unknown) = (&report["results"][4 + k], &report["results"][15 + k]);
        assert_eq!(beta["is_error"], unknown["is_error"], "{beta} vs {unknown}");
        assert_eq!(
            beta["text"].as_str().unwrap().replace("b-1", "<id>"),
            unknown["text"].as_str().unwrap().replace("nobody", "<id>"),
            "tool {} tells beta's workflow from a missing one",
            beta["tool"]
        );
    }
    assert!(
        err(&report, 4).starts_with("NOT_FOUND: "),
        "{}",
        report["results"][4]
    );
    assert_eq!(ok(&report, 6), json!({"found": false, "value": null}));
    for i in [9, 10] {
        assert!(
            err(&report, i).starts_with("NOT_FOUND: "),
            "{}",
            report["results"][i]
        );
    }
    assert_eq!(ok(&report, 26)["workflow_id"], "a-1");
    assert!(
        report["resources"][0]["error"]
            .as_str()
            .unwrap()
            .contains("NOT_FOUND"),
        "{report}"
    );
    assert!(report["resources"][1]["text"]
        .as_str()
        .unwrap()
        .contains("\"a-1\""));
    assert_eq!(
        stored_status(&srv.db, "b-1").await.as_deref(),
        Some("ENQUEUED"),
        "untouched"
    );

    // The ops token sees both.
    let report = run_client(
        Target::Http(&srv, Some(OPS)),
        json!({"calls": [{"tool": "list_workflows", "arguments": {"newest_first": false}}]}),
    )
    .await;
    let all: Vec<Json> = ok(&report, 0)["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["workflow_id"].clone())
        .collect();
    assert_eq!(all, [json!("a-1"), json!("b-1")]);
    srv.stop().await;
}

#[tokio::test]
async fn write_tools_are_absent_unless_the_server_allows_them() {
    let srv = mcp_server(false, |_| {}).await;
    enqueue_as_ops(&srv, "w-1", "alpha").await;
    let report = run_client(
        Target::Http(&srv, None),
        json!({"calls": [{"tool": "cancel_workflow", "arguments": {"workflow_id": "w-1"}}]}),
    )
    .await;
    let names = tool_names(&report);
    for tool in WRITE_TOOLS {
        assert!(
            !names.contains(tool),
            "{tool} listed without --mcp-allow-writes"
        );
    }
    assert_eq!(report["results"][0]["is_error"], true, "{report}");
    assert_eq!(
        stored_status(&srv.db, "w-1").await.as_deref(),
        Some("ENQUEUED")
    );
    srv.stop().await;
}

#[tokio::test]
async fn only_loopback_hosts_unless_allowed() {
    let srv = mcp_server(false, |_| {}).await;
    let response = post_initialize_to(&srv, "evil.example", None).await;
    assert!(response.starts_with("HTTP/1.1 403"), "{response}");
    srv.stop().await;
    let srv = mcp_server(false, |s| {
        s.mcp.as_mut().unwrap().allowed_hosts = vec!["dbosd.internal".into()];
    })
    .await;
    let response = post_initialize_to(&srv, "dbosd.internal:50051", None).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let response = post_initialize_to(&srv, "evil.example", None).await;
    assert!(response.starts_with("HTTP/1.1 403"), "{response}");
    srv.stop().await;
}

#[tokio::test]
async fn an_mcp_write_is_audited_as_the_grpc_write_it_is() {
    let db = TestDb::new().await;
    let tokens = tokens_file();
    let path = tokens.path().to_str().unwrap().to_owned();
    let args = [
        "serve",
        "--database-url",
        &db.url,
        "--listen",
        "127.0.0.1:0",
        "--tokens-file",
        &path,
        "--log-format",
        "json",
        "--mcp",
        "--mcp-allow-writes",
    ];
    let dbosd = Dbosd::spawn(&args, &[("DBOSD_LOG", "dbosd=debug")], Dbosd::READY).await;
    let mut ops = crate::auth::setup::client_as(&dbosd.channel, OPS);
    let mut req = enqueue_req("wf", "q", vec![]);
    req.workflow_id = Some("audited-1".into());
    req.application_name = Some("alpha".into());
    ops.enqueue_workflow(req).await.unwrap();
    let report = run_client(
        Target::HttpAt(dbosd.addr, ALPHA, "mcp-audit-1"),
        json!({"calls": [{"tool": "cancel_workflow", "arguments": {"workflow_id": "audited-1"}}]}),
    )
    .await;
    assert_eq!(ok(&report, 0)["outcome"], "CANCELLED");
    let line = dbosd.logged_with(&["dbosd::audit", "mcp-audit-1"]).await;
    let record: Json = serde_json::from_str(&line).expect("a JSON log line");
    let fields = &record["fields"];
    assert_eq!(fields["principal"], "alpha", "{line}");
    assert_eq!(fields["rpc"], "CancelWorkflow", "{line}");
    assert_eq!(fields["targets"], r#"["audited-1"]"#, "{line}");
    let peer = fields["peer"].as_str().unwrap_or_default();
    assert!(
        peer.starts_with("127.0.0.1:"),
        "the MCP caller's address: {line}"
    );
    assert_eq!(
        stored_status(&db, "audited-1").await.as_deref(),
        Some("CANCELLED")
    );
}
