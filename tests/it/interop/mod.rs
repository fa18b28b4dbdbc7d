//! Interop with real, unmodified DBOS workers: every test here runs once against the Python app
//! (dbos 3.4.0, tests/worker/py/app.py) and once against the TypeScript app (@dbos-inc/dbos-sdk
//! 5.3.0, tests/worker/ts/app.mjs), through `on_both_workers!`. Where the languages differ, a test
//! asks the worker's `WorkerLang`.

mod queueing;
mod registry;
mod schedules;
mod values;

use dbosd::pb;

use crate::harness::{get_workflow, TestServer, Worker, WorkerLang, WorkerOptions};

/// A server on a fresh database and a worker of `lang` on the same database.
async fn with_worker(lang: WorkerLang) -> (TestServer, Worker) {
    let srv = TestServer::start().await;
    let worker = Worker::start(lang, &srv.db.url, WorkerOptions::default()).await;
    (srv, worker)
}

/// Enqueues through dbosd and returns the workflow id.
async fn enqueue(srv: &mut TestServer, req: pb::EnqueueWorkflowRequest) -> String {
    srv.client
        .enqueue_workflow(req)
        .await
        .expect("enqueue")
        .into_inner()
        .workflow_id
}

/// `req` with an explicit workflow id.
fn with_id(mut req: pb::EnqueueWorkflowRequest, id: &str) -> pb::EnqueueWorkflowRequest {
    req.workflow_id = Some(id.into());
    req
}

/// Waits (bounded) until the worker has claimed the workflow (status PENDING).
async fn wait_running(srv: &TestServer, id: &str) {
    crate::harness::eventually(&format!("workflow {id} to run"), || {
        let mut c = srv.client.clone();
        let id = id.to_owned();
        async move {
            (get_workflow(&mut c, &id).await.status() == pb::WorkflowStatus::Pending).then_some(())
        }
    })
    .await;
}
