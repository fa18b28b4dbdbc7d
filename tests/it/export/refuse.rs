//! What import refuses, and how: an id that is taken (ALREADY_EXISTS, and the rename that avoids
//! it), a document of another version (INVALID_ARGUMENT naming it), a workflow outside the
//! caller's scope (PERMISSION_DENIED, nothing written), export of a workflow outside the scope
//! (NOT_FOUND, as for a missing one), and a document over the size limit.

use dbosd::pb;
use serde_json::json;
use tonic::Code;

use super::{enqueue, export, import};
use crate::auth::setup::{client_as, enqueue_as_ops, server, ALPHA};
use crate::harness::{assert_status, enqueue_req, get_workflow, TestDb, TestServer};

#[tokio::test]
async fn an_import_refuses_a_clash_another_version_and_an_oversized_document() {
    let mut srv = TestServer::start_on(TestDb::new().await, |s| s.max_payload_bytes = 4096).await;
    let mut req = enqueue_req("echo", "test_queue", vec![json!({"big": "x".repeat(1000)})]);
    req.deduplication_id = Some("dedup-1".into());
    enqueue(&mut srv.client, "orig", req).await;
    let doc = export(&mut srv.client, "orig", false).await.document;

    assert_status(
        import(&mut srv.client, &doc, None).await,
        Code::AlreadyExists,
        "as_workflow_id",
    );
    let copy = import(&mut srv.client, &doc, Some("copy"))
        .await
        .expect("import under a new id");
    assert_eq!(copy.workflow_id, "copy");
    let (a, b) = (
        get_workflow(&mut srv.client, "orig").await,
        get_workflow(&mut srv.client, "copy").await,
    );
    assert_eq!(
        (b.workflow_name.as_str(), b.queue_name.as_str(), b.status()),
        (a.workflow_name.as_str(), a.queue_name.as_str(), a.status())
    );
    let inputs = srv
        .db
        .texts("SELECT inputs FROM dbos.workflow_input WHERE workflow_uuid IN ('orig', 'copy')")
        .await;
    assert_eq!(inputs[0], inputs[1], "the input text is copied as stored");

    let mut v2: serde_json::Value = serde_json::from_str(&doc).unwrap();
    v2["version"] = json!(2);
    assert_status(
        import(&mut srv.client, &v2.to_string(), Some("v2")).await,
        Code::InvalidArgument,
        "version 2",
    );
    assert_status(
        import(&mut srv.client, "{}", None).await,
        Code::InvalidArgument,
        "format",
    );
    // Four payload limits of 4096 bytes: a bigger document is refused before it is parsed.
    let padded = format!("{doc}{}", " ".repeat(16_384));
    assert_status(
        import(&mut srv.client, &padded, Some("padded")).await,
        Code::InvalidArgument,
        "at most 16384",
    );
    assert_status(
        srv.client
            .export_workflow(pb::ExportWorkflowRequest {
                workflow_id: "nope".into(),
                include_children: false,
            })
            .await,
        Code::NotFound,
        "nope",
    );
    assert_eq!(srv.db.workflow_ids().await, ["copy", "orig"]);
    srv.stop().await;
}

#[tokio::test]
async fn a_scoped_token_exports_and_imports_only_inside_its_scope() {
    let (srv, _tokens) = server().await;
    enqueue_as_ops(&srv, "alpha-wf", "alpha").await;
    enqueue_as_ops(&srv, "beta-wf", "beta").await;
    let mut alpha = client_as(&srv.channel, ALPHA);
    let ask = |id: &str| pb::ExportWorkflowRequest {
        workflow_id: id.into(),
        include_children: false,
    };
    assert_status(
        alpha.export_workflow(ask("beta-wf")).await,
        Code::NotFound,
        "beta-wf",
    );
    let mine = alpha
        .export_workflow(ask("alpha-wf"))
        .await
        .expect("export inside the scope")
        .into_inner();
    let renamed = pb::ImportWorkflowRequest {
        document: mine.document.clone(),
        as_workflow_id: Some("alpha-copy".into()),
    };
    alpha
        .import_workflow(renamed)
        .await
        .expect("import inside the scope");

    // The same document moved to beta's application is refused, and nothing is written.
    let mut foreign: serde_json::Value = serde_json::from_str(&mine.document).unwrap();
    foreign["workflows"][0]["tables"]["workflow_status"][0]["application_name"] = json!("beta");
    let req = pb::ImportWorkflowRequest {
        document: foreign.to_string(),
        as_workflow_id: Some("smuggled".into()),
    };
    assert_status(
        alpha.import_workflow(req).await,
        Code::PermissionDenied,
        "application beta",
    );
    assert_eq!(
        srv.db.workflow_ids().await,
        ["alpha-copy", "alpha-wf", "beta-wf"]
    );
    srv.stop().await;
}
