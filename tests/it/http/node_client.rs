//! A Connect client from the npm registry (`@connectrpc/connect` + `@connectrpc/connect-node`,
//! installed into tests/http/node_modules by scripts/setup-clients.sh), unmodified, against dbosd: a
//! unary call, a server-streaming call and an error, then both calls again with gzip-compressed
//! requests (tests/http/connect_client.mjs).

use std::io::Write;

use serde_json::{json, Value};
use tokio::process::Command;

use crate::harness::{
    assert_success, enqueue_req, repo_file, run_bounded, TestServer, Worker, WorkerLang,
    WorkerOptions,
};

#[tokio::test]
async fn the_npm_connect_client_works_unmodified() {
    let dir = repo_file("tests/http");
    assert!(
        dir.join("node_modules/@connectrpc/connect-node").is_dir(),
        "tests/http/node_modules is missing: run scripts/setup-clients.sh"
    );
    let srv = TestServer::start().await;
    let worker = Worker::start(WorkerLang::Python, &srv.db.url, WorkerOptions::default()).await;
    let mut req = enqueue_req("add", "_dbos_internal_queue", vec![json!(2), json!(40)]);
    req.workflow_id = Some("npm-1".into());
    srv.client
        .clone()
        .enqueue_workflow(req)
        .await
        .expect("enqueue");

    // The descriptor set dbosd serves by reflection, as the client's only knowledge of the service.
    let mut descriptors = tempfile::NamedTempFile::new().unwrap();
    descriptors
        .write_all(dbosd::pb::FILE_DESCRIPTOR_SET)
        .unwrap();
    let mut cmd = Command::new("node");
    cmd.current_dir(&dir)
        .arg("connect_client.mjs")
        .arg(descriptors.path())
        .arg(format!("http://{}", srv.addr))
        .arg("npm-1");
    let out = run_bounded(cmd, "node connect_client.mjs").await;
    assert_success(&out, "node connect_client.mjs");
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 4, "{lines:?}");

    assert_eq!(
        lines[0]["response"]["workflow"]["workflowId"], "npm-1",
        "{}",
        lines[0]
    );
    let messages = lines[1]["messages"].as_array().expect("stream messages");
    let outcome = &messages.last().expect("an outcome")["outcome"];
    assert_eq!(outcome["status"], "WORKFLOW_STATUS_SUCCESS", "{messages:?}");
    assert_eq!(outcome["output"]["json"], 42);

    let grpc = srv
        .client
        .clone()
        .get_workflow(dbosd::pb::GetWorkflowRequest {
            workflow_id: "no-such-workflow".into(),
            ..Default::default()
        })
        .await
        .expect_err("missing");
    assert_eq!(
        lines[2]["error"],
        json!({"code": "NotFound", "message": grpc.message()})
    );

    let gzip = &lines[3];
    assert_eq!(
        gzip["response"]["workflow"]["workflowId"], "npm-1",
        "{gzip}"
    );
    assert_eq!(
        gzip["messages"].as_array().and_then(|m| m.last()),
        messages.last()
    );
    worker.stop().await;
    srv.stop().await;
}
