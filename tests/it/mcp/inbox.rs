//! The `list_messages` and `list_stream_keys` tools through the official MCP Python SDK, against a
//! workflow a real DBOS Python worker ran: one message received by its `recv` (with the step), one
//! pending; a stream it wrote and closed; paging, a missing workflow and a bad argument.

use serde_json::json;

use super::tools::{err, mcp_server, ok, run_client, Target};
use crate::harness::{enqueue_req, pv, wait_terminal, Worker, WorkerLang, WorkerOptions};
use dbosd::pb;

#[tokio::test]
async fn messages_and_stream_keys_of_a_workflow_a_worker_ran() {
    let srv = mcp_server(false, |_| {}).await;
    let worker = Worker::start(WorkerLang::Python, &srv.db.url, WorkerOptions::default()).await;
    let mut client = srv.client.clone();
    let mut recv = enqueue_req("wait_recv", "test_queue", vec![json!("go")]);
    recv.workflow_id = Some("mcp-recv".into());
    client.enqueue_workflow(recv).await.expect("enqueue");
    for (topic, value) in [("other", json!("left alone")), ("go", json!({"ok": 1}))] {
        client
            .send_message(pb::SendMessageRequest {
                destination_id: "mcp-recv".into(),
                topic: Some(topic.into()),
                message: Some(pv(value)),
                ..Default::default()
            })
            .await
            .expect("send");
    }
    let mut writer = enqueue_req(
        "write_stream_wf",
        "test_queue",
        vec![json!("s"), json!([1, 2])],
    );
    writer.workflow_id = Some("mcp-writer".into());
    client.enqueue_workflow(writer).await.expect("enqueue");
    wait_terminal(&srv.client, "mcp-recv").await;
    wait_terminal(&srv.client, "mcp-writer").await;

    let report = run_client(
        Target::Http(&srv, None),
        json!({"calls": [
            {"tool": "list_messages", "arguments": {"workflow_id": "mcp-recv"}},
            {"tool": "list_messages", "arguments": {"workflow_id": "mcp-recv", "consumed": false}},
            {"tool": "list_messages", "arguments": {"workflow_id": "mcp-recv", "page_size": 1}},
            {"tool": "list_stream_keys", "arguments": {"workflow_id": "mcp-writer"}},
            {"tool": "list_messages", "arguments": {"workflow_id": "mcp-nope"}},
            {"tool": "list_messages", "arguments": {"workflow_id": "mcp-recv", "page_size": 0}},
        ]}),
    )
    .await;
    let all = ok(&report, 0);
    assert_eq!(all["count"], 2, "{all}");
    let go = all["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["topic"] == "go")
        .unwrap_or_else(|| panic!("{all}"));
    assert_eq!(go["consumed"], true, "{go}");
    assert!(go["consumed_by_step"].is_i64(), "the receiving step: {go}");
    assert_eq!(go["message"]["value"], json!({"ok": 1}), "{go}");
    assert!(go["sent_at"].is_string(), "{go}");
    let pending = ok(&report, 1);
    assert_eq!(pending["count"], 1, "{pending}");
    assert_eq!(pending["messages"][0]["topic"], "other");
    assert_eq!(pending["messages"][0]["consumed"], false);
    let page = ok(&report, 2);
    assert_eq!(page["count"], 1, "{page}");
    assert!(page["next_page_token"].is_string(), "{page}");
    assert_eq!(
        ok(&report, 3),
        json!({"keys": [{"key": "s", "values": 2, "last_offset": 2, "closed": true}], "truncated": false})
    );
    let missing = err(&report, 4);
    assert!(
        missing.starts_with("NOT_FOUND: ") && missing.contains("mcp-nope"),
        "{missing}"
    );
    let bad = err(&report, 5);
    assert!(bad.contains("page_size must be at least 1"), "{bad}");
    worker.stop().await;
    srv.stop().await;
}
