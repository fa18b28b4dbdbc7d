//! Reloading the config file adds and removes databases while the others keep serving: streams
//! open on the default database and on `b` stay open across the addition of `c`, and deliver; then
//! removing `b` ends its open stream (UNAVAILABLE) and makes it NOT_FOUND, while `c` goes on.

use std::time::Duration;

use dbosd::pb::{await_workflow_response::Kind, AwaitWorkflowRequest, WorkflowStatus};
use serde_json::json;
use tokio_stream::StreamExt;
use tonic::{Code, Streaming};

use super::{client_on, listed, DbClient, Two};
use crate::harness::{enqueue_req, eventually, finish_as_worker, TestDb, WAIT};

/// The config file listing `databases` as (name, url).
fn config(databases: &[(&str, &str)]) -> String {
    databases
        .iter()
        .map(|(name, url)| format!("[databases.{name}]\nurl = \"{url}\"\nmigrate = true\n"))
        .collect()
}

/// Enqueues `id` (no worker runs it) and opens an await on it.
async fn open_wait(client: &mut DbClient, id: &str) -> Streaming<dbosd::pb::AwaitWorkflowResponse> {
    let mut req = enqueue_req("echo", "test_queue", vec![json!(id)]);
    req.workflow_id = Some(id.to_owned());
    client.enqueue_workflow(req).await.expect("enqueue");
    let req = AwaitWorkflowRequest {
        workflow_id: id.to_owned(),
        ..Default::default()
    };
    client
        .await_workflow(req)
        .await
        .expect("await")
        .into_inner()
}

/// The status the open await ends with (or its error).
async fn ends(
    stream: &mut Streaming<dbosd::pb::AwaitWorkflowResponse>,
) -> Result<WorkflowStatus, Code> {
    loop {
        let msg = tokio::time::timeout(WAIT, stream.next())
            .await
            .expect("the await ends in time")
            .expect("an outcome or an error");
        match msg {
            Ok(msg) => {
                if let Some(Kind::Outcome(o)) = msg.kind {
                    return Ok(o.status());
                }
            }
            Err(status) => return Err(status.code()),
        }
    }
}

#[tokio::test]
async fn a_reload_adds_and_removes_databases_without_touching_the_others() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let path = file.path().to_owned();
    let c_db = TestDb::new().await;
    let two = Two::start(
        |s| {
            s.config_file = Some(path.clone());
            s.config_poll = Duration::from_millis(100);
        },
        None,
    )
    .await;
    let b_url = two.b_db.url.clone();
    std::fs::write(&path, config(&[("b", &b_url)])).unwrap();
    let mut a = client_on(&two.srv, None, None);
    let mut b = client_on(&two.srv, Some("b"), None);
    let mut on_a = open_wait(&mut a, "on-a").await;
    let mut on_b = open_wait(&mut b, "on-b").await;

    // Add c: it opens; the streams on a and b are still open and deliver.
    std::fs::write(&path, config(&[("b", &b_url), ("c", &c_db.url)])).unwrap();
    two.wait_open("c", None).await;
    assert_eq!(listed(&mut a).await, ["b", "c", "default"]);
    finish_as_worker(&two.srv.db, "on-a", "\"a\"").await;
    finish_as_worker(&two.b_db, "on-b", "\"b\"").await;
    assert_eq!(ends(&mut on_a).await, Ok(WorkflowStatus::Success));
    assert_eq!(ends(&mut on_b).await, Ok(WorkflowStatus::Success));

    // Remove b: its open wait ends (retryable), then it is NOT_FOUND; c keeps serving.
    let mut on_b = open_wait(&mut b, "on-b-2").await;
    let mut c = client_on(&two.srv, Some("c"), None);
    let mut on_c = open_wait(&mut c, "on-c").await;
    std::fs::write(&path, config(&[("c", &c_db.url)])).unwrap();
    assert_eq!(ends(&mut on_b).await, Err(Code::Unavailable));
    eventually("b to be gone", || {
        let mut b = b.clone();
        async move {
            let req = dbosd::pb::ListWorkflowsRequest::default();
            let err = b.list_workflows(req).await.err()?;
            (err.code() == Code::NotFound).then_some(())
        }
    })
    .await;
    finish_as_worker(&c_db, "on-c", "\"c\"").await;
    assert_eq!(ends(&mut on_c).await, Ok(WorkflowStatus::Success));
    assert_eq!(listed(&mut a).await, ["c", "default"]);
    two.srv.stop().await;
}
