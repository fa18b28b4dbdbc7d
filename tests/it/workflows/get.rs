//! GetWorkflow: what it decodes (portable JSON) and passes through untouched (native serializations).

use dbosd::pb::{self, WorkflowStatus};
use serde_json::json;
use tonic::Code;

use crate::harness::{assert_status, get_workflow, pv, TestServer};

/// Inserts a finished workflow the way a worker leaves it (for decoding tests without a worker).
async fn insert_finished(
    db: &tokio_postgres::Client,
    id: &str,
    status: &str,
    serialization: &str,
    output: Option<&str>,
    error: Option<&str>,
) {
    db.execute(
        "INSERT INTO dbos.workflow_status (workflow_uuid, status, name, queue_name, serialization, completed_at)
         VALUES ($1, $2, 'echo', 'test_queue', $3, 1700000000000)",
        &[&id, &status, &serialization],
    )
    .await
    .unwrap();
    db.execute(
        "INSERT INTO dbos.workflow_output (workflow_uuid, output, error) VALUES ($1, $2, $3)",
        &[&id, &output, &error],
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn get_workflow_decodes_portable_and_passes_native_through() {
    let mut srv = TestServer::start().await;
    let db = srv.db.client().await;
    insert_finished(
        &db,
        "ok",
        "SUCCESS",
        "portable_json",
        Some(r#"{"n":12345678901234567890}"#),
        Some(""),
    )
    .await;
    insert_finished(
        &db,
        "bad",
        "ERROR",
        "portable_json",
        Some("null"),
        Some(r#"{"name":"InteropError","message":"boom","code":"E1","data":{"x":1}}"#),
    )
    .await;
    insert_finished(
        &db,
        "native",
        "SUCCESS",
        "py_pickle",
        Some("gASVBQAAAAAAAACMAWGULg=="),
        None,
    )
    .await;
    insert_finished(&db, "legacy", "SUCCESS", "portable_json", None, None).await;

    let ok = get_workflow(&mut srv.client, "ok").await;
    assert_eq!(ok.status(), WorkflowStatus::Success);
    let out = ok.output.expect("output");
    assert_eq!(
        out.text, r#"{"n":12345678901234567890}"#,
        "exact text is kept"
    );
    assert!(out.json.is_some());
    assert!(
        ok.error.is_none(),
        "outcome is decided by status, not by a filled error column"
    );
    assert_eq!(ok.completed_at.unwrap().seconds, 1_700_000_000);

    let bad = get_workflow(&mut srv.client, "bad").await;
    assert_eq!(bad.status(), WorkflowStatus::Error);
    assert!(bad.output.is_none());
    let err = bad.error.expect("error");
    assert_eq!(
        (err.name.as_str(), err.message.as_str()),
        ("InteropError", "boom")
    );
    assert_eq!(err.code, Some(pv(json!("E1"))));
    assert_eq!(err.data, Some(pv(json!({"x": 1}))));

    let native = get_workflow(&mut srv.client, "native").await;
    let out = native.output.expect("output");
    assert_eq!(out.serialization, "py_pickle");
    assert_eq!(out.text, "gASVBQAAAAAAAACMAWGULg==");
    assert!(out.json.is_none(), "native formats are never guessed at");

    let legacy = get_workflow(&mut srv.client, "legacy").await;
    assert!(legacy.output.is_none());

    assert_status(
        srv.client
            .get_workflow(pb::GetWorkflowRequest {
                workflow_id: "nope".into(),
                ..Default::default()
            })
            .await,
        Code::NotFound,
        "nope",
    );
    assert_status(
        srv.client
            .get_workflow(pb::GetWorkflowRequest {
                workflow_id: String::new(),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "workflow_id",
    );
    srv.stop().await;
}
