//! `dbosd workflow export ID > f.json` then `dbosd workflow import f.json --as NEW_ID`, through the
//! real binary: the file is the document, and the import prints the new id.

use serde_json::json;

use super::enqueue;
use crate::cli::{assert_code, dbosd, json_out, text};
use crate::harness::{enqueue_req, TestServer};

#[tokio::test]
async fn the_cli_exports_to_a_file_and_imports_it_under_a_new_id() {
    let mut srv = TestServer::start().await;
    enqueue(
        &mut srv.client,
        "cli-wf",
        enqueue_req("echo", "test_queue", vec![json!([1, 2])]),
    )
    .await;
    let out = dbosd(&srv, &["workflow", "export", "cli-wf"]).await;
    assert_code(&out, 0);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &out.stdout).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the export is JSON");
    assert_eq!(doc["workflow_id"], "cli-wf");

    let path = file.path().to_str().unwrap();
    let out = dbosd(
        &srv,
        &["workflow", "import", path, "--as", "cli-copy", "-o", "json"],
    )
    .await;
    assert_eq!(
        json_out(&out, 0),
        json!({"workflowId": "cli-copy", "workflowIds": ["cli-copy"]})
    );
    let again = dbosd(&srv, &["workflow", "import", path]).await;
    assert_code(&again, 1);
    assert!(
        text(&again.stderr).contains("already exists"),
        "{}",
        text(&again.stderr)
    );
    let missing = dbosd(&srv, &["workflow", "import", "/nonexistent/export.json"]).await;
    assert_code(&missing, 2);
    srv.stop().await;
}
