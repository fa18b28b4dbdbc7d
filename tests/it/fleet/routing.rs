//! Every kind of call goes to the database its metadata names, with a real DBOS worker on each of
//! two PostgreSQL clusters: enqueue, get, list, waits, events, streams, bulk by filter and
//! WatchWorkflows. The same workflow id lives in both with different values, so a call routed to
//! the wrong database reads the wrong value.

use dbosd::pb::{
    AwaitWorkflowRequest, DeleteWorkflowsRequest, GetEventRequest, GetWorkflowRequest,
    ReadStreamRequest, WatchWorkflowsRequest, WorkflowFilter, WorkflowStatus,
};
use serde_json::json;
use tokio_stream::StreamExt;
use tonic::Code;

use super::{client_on, DbClient, Two};
use crate::harness::{
    enqueue_req, list_req, payload_json, Worker, WorkerLang, WorkerOptions, WAIT,
};

/// Enqueues `workflow(args)` as `id` on `client`'s database.
async fn enqueue(client: &mut DbClient, id: &str, workflow: &str, args: Vec<serde_json::Value>) {
    let mut req = enqueue_req(workflow, "test_queue", args);
    req.workflow_id = Some(id.to_owned());
    client.enqueue_workflow(req).await.expect("enqueue");
}

/// The output of `id`, awaited on `client`'s database.
pub(super) async fn awaited(client: &mut DbClient, id: &str) -> serde_json::Value {
    let req = AwaitWorkflowRequest {
        workflow_id: id.to_owned(),
        ..Default::default()
    };
    let mut stream = client
        .await_workflow(req)
        .await
        .expect("await")
        .into_inner();
    loop {
        let msg = tokio::time::timeout(WAIT, stream.next())
            .await
            .expect("await in time")
            .expect("an outcome")
            .expect("await ok");
        if let Some(dbosd::pb::await_workflow_response::Kind::Outcome(o)) = msg.kind {
            assert_eq!(o.status(), WorkflowStatus::Success, "{o:?}");
            return payload_json(&o.output);
        }
    }
}

#[tokio::test]
async fn each_call_reaches_the_database_its_metadata_names() {
    let two = Two::start(|_| {}, None).await;
    let (wa, wb) = tokio::join!(
        Worker::start(
            WorkerLang::Python,
            &two.srv.db.url,
            WorkerOptions::default()
        ),
        Worker::start(WorkerLang::Python, &two.b_db.url, WorkerOptions::default()),
    );
    // No metadata is the default database; `default` names it too.
    let mut a = client_on(&two.srv, None, None);
    let mut a_named = client_on(&two.srv, Some("default"), None);
    let mut b = client_on(&two.srv, Some("b"), None);

    // WatchWorkflows on b, open before anything is enqueued anywhere.
    let watch = WatchWorkflowsRequest {
        workflow_id_prefixes: vec!["w-".into()],
        ..Default::default()
    };
    let mut watch_b = b.watch_workflows(watch).await.expect("watch").into_inner();

    // Enqueue, await, get: the same id, a value per database.
    enqueue(&mut a, "same", "echo", vec![json!("from a")]).await;
    enqueue(&mut b, "same", "echo", vec![json!("from b")]).await;
    assert_eq!(awaited(&mut b, "same").await, json!("from b"));
    assert_eq!(awaited(&mut a_named, "same").await, json!("from a"));
    let got = b
        .get_workflow(GetWorkflowRequest {
            workflow_id: "same".into(),
            ..Default::default()
        })
        .await
        .expect("get")
        .into_inner()
        .workflow
        .expect("workflow");
    assert_eq!(payload_json(&got.output), json!("from b"));

    // Events and streams, written by b's worker only.
    enqueue(&mut b, "ev", "set_event_wf", vec![json!("k"), json!("vb")]).await;
    let event = |timeout_ms: i64| GetEventRequest {
        workflow_id: "ev".into(),
        key: "k".into(),
        timeout: Some(prost_types::Duration {
            seconds: timeout_ms / 1000,
            nanos: 0,
        }),
    };
    let found = b
        .get_event(event(20_000))
        .await
        .expect("event")
        .into_inner();
    assert!(found.found);
    assert_eq!(payload_json(&found.value), json!("vb"));
    match a.get_event(event(0)).await {
        Ok(r) => assert!(!r.into_inner().found, "a has no such event"),
        Err(e) => assert_eq!(e.code(), Code::NotFound, "{e:?}"),
    }
    enqueue(
        &mut b,
        "st",
        "write_stream_wf",
        vec![json!("s"), json!([1, 2]), json!(true)],
    )
    .await;
    let read = ReadStreamRequest {
        workflow_id: "st".into(),
        key: "s".into(),
        offset: 0,
        timeout: None,
    };
    let values: Vec<String> = b
        .read_stream(read)
        .await
        .expect("read stream")
        .into_inner()
        .map(|m| m.expect("stream value").value.expect("value").text)
        .collect()
        .await;
    assert_eq!(values, ["1", "2"]);

    // WatchWorkflows on b sees b's workflows and none of a's, though a's are enqueued first.
    for i in 0..3 {
        enqueue(&mut a, &format!("w-a{i}"), "echo", vec![json!(i)]).await;
        enqueue(&mut b, &format!("w-b{i}"), "echo", vec![json!(i)]).await;
    }
    let mut seen_b_success = 0;
    while seen_b_success < 3 {
        let msg = tokio::time::timeout(WAIT, watch_b.next())
            .await
            .expect("a transition in time")
            .expect("the watch stays open")
            .expect("watch ok");
        let wf = msg.workflow.expect("workflow");
        assert!(wf.workflow_id.starts_with("w-b"), "b's watch saw {wf:?}");
        if wf.status() == WorkflowStatus::Success {
            seen_b_success += 1;
        }
    }

    // List and bulk delete by filter: only b's echo workflows go.
    let echo = WorkflowFilter {
        workflow_names: vec!["echo".into()],
        ..Default::default()
    };
    let listed = |c: &mut DbClient| {
        let mut c = c.clone();
        let req = list_req(echo.clone());
        async move {
            c.list_workflows(req)
                .await
                .expect("list")
                .into_inner()
                .workflows
                .len()
        }
    };
    assert_eq!((listed(&mut a).await, listed(&mut b).await), (4, 4));
    b.delete_workflows(DeleteWorkflowsRequest {
        filter: Some(echo.clone()),
        ..Default::default()
    })
    .await
    .expect("bulk delete on b");
    assert_eq!((listed(&mut a).await, listed(&mut b).await), (4, 0));
    assert_eq!(awaited(&mut a, "same").await, json!("from a"));

    // Each database's pool is a metrics series of its own.
    let scrape = two.srv.scrape().await;
    for database in ["default", "b"] {
        let series =
            format!("dbosd_database_pool_connections{{database=\"{database}\",state=\"idle\"}}");
        assert!(scrape.contains(&series), "{series} in {scrape}");
    }

    tokio::join!(wa.stop(), wb.stop());
    two.srv.stop().await;
}
