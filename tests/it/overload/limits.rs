//! Limits: open streams, message size and the default deadline of unary calls each end a call with
//! a status that names the limit (RESOURCE_EXHAUSTED / DEADLINE_EXCEEDED), and waits keep their own
//! timeouts. (The pool acquire timeout is in `reliability/failures.rs`.)

use std::time::{Duration, Instant};

use dbosd::pb::{self, AwaitWorkflowRequest, ListWorkflowsRequest};
use serde_json::json;
use tonic::Code;

use crate::harness::{
    assert_status, enqueue_req, eventually, get_event_in_flight, lock_notifications, open_await,
    send_in_flight, TestDb, TestServer, WAIT,
};

fn await_req(id: &str) -> AwaitWorkflowRequest {
    AwaitWorkflowRequest {
        workflow_id: id.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn streams_beyond_the_limit_are_refused_until_one_closes() {
    let srv = TestServer::start_on(TestDb::new().await, |s| s.max_streams = 2).await;
    let mut client = srv.client.clone();
    let mut req = enqueue_req("wf", "q", vec![]);
    req.workflow_id = Some("limited".into());
    client.enqueue_workflow(req).await.expect("enqueue");
    let mut open = Vec::new();
    for _ in 0..2 {
        open.push(open_await(&client, "limited").await.expect("open"));
    }
    let refused = client.await_workflow(await_req("limited")).await;
    assert_status(refused, Code::ResourceExhausted, "(limit 2, --max-streams)");
    let scrape = srv.scrape().await;
    assert!(scrape.contains("dbosd_streams_open 2"), "{scrape}");

    // Closing one frees its slot (once dbosd notices the client left).
    drop(open.pop());
    eventually("a slot to free up", || {
        let mut client = client.clone();
        async move { client.await_workflow(await_req("limited")).await.ok() }
    })
    .await;
    srv.stop().await;
}

#[tokio::test]
async fn messages_over_the_size_limit_are_resource_exhausted() {
    let srv = TestServer::start_on(TestDb::new().await, |s| s.max_message_bytes = 4096).await;
    let mut client = srv.client.clone();
    for needle in [
        "request message is too large",
        "the limit is: 4096 bytes; --max-message-bytes",
    ] {
        let big = client
            .enqueue_workflow(enqueue_req("wf", "q", vec![json!("x".repeat(8192))]))
            .await;
        assert_status(big, Code::ResourceExhausted, needle);
    }

    // Each row fits (its input is within the payload limit, a quarter of the message limit); a page
    // of them with their inputs does not, so the page ends early and the next one goes on from
    // there: every workflow is listed once, in order, and no page passes the limit.
    let mut enqueued = Vec::new();
    for i in 0..12 {
        let mut req = enqueue_req("wf", "q", vec![json!("y".repeat(500))]);
        req.workflow_id = Some(format!("sized-{i:02}"));
        client.enqueue_workflow(req).await.expect("enqueue");
        enqueued.push(format!("sized-{i:02}"));
    }
    let mut listed = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = ListWorkflowsRequest {
            load_input: true,
            page_token: token.clone(),
            ..Default::default()
        };
        let page = client.list_workflows(page).await.expect("a page that fits");
        let size = prost::Message::encoded_len(page.get_ref());
        let page = page.into_inner();
        assert!(size <= 4096, "a page of {size} bytes");
        assert!(page.workflows.iter().all(|w| w.input.is_some()));
        listed.extend(page.workflows.into_iter().map(|w| w.workflow_id));
        pages += 1;
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    enqueued.sort();
    assert_eq!(listed, enqueued);
    assert!(pages > 1, "{pages} page(s)");

    // A workflow too large for any response on its own (a worker may write an output of any
    // size) is RESOURCE_EXHAUSTED, saying how to list it anyway.
    let db = srv.db.client().await;
    db.execute(
        "UPDATE dbos.workflow_status SET status = 'SUCCESS' WHERE workflow_uuid = 'sized-00'",
        &[],
    )
    .await
    .unwrap();
    let output = json!("z".repeat(8192)).to_string();
    db.execute(
        "INSERT INTO dbos.workflow_output (workflow_uuid, output) VALUES ('sized-00', $1)",
        &[&output],
    )
    .await
    .unwrap();
    let page = ListWorkflowsRequest {
        load_output: true,
        ..Default::default()
    };
    let listed = client.list_workflows(page).await;
    assert_status(
        listed,
        Code::ResourceExhausted,
        "more than one response may hold (4096 bytes; --max-message-bytes)",
    );
    let listed = client
        .list_workflows(ListWorkflowsRequest::default())
        .await
        .expect("without payloads it is listed");
    assert_eq!(listed.into_inner().workflows.len(), 12);
    let scrape = srv.scrape().await;
    let counted = r#"dbosd_grpc_server_handled_total{grpc_service="dbosd.v1.WorkflowService",grpc_method="EnqueueWorkflow",grpc_code="ResourceExhausted",database="default"} 2"#;
    assert!(scrape.contains(counted), "{scrape}");
    srv.stop().await;
}

#[tokio::test]
async fn unary_calls_get_the_default_deadline_but_waits_keep_their_own() {
    const DEADLINE: Duration = Duration::from_millis(300);
    let srv = TestServer::start_on(TestDb::new().await, |s| s.rpc_timeout = Some(DEADLINE)).await;
    let mut req = enqueue_req("wf", "q", vec![]);
    req.workflow_id = Some("deadline".into());
    srv.client
        .clone()
        .enqueue_workflow(req)
        .await
        .expect("enqueue");

    let locker = lock_notifications(&srv.db).await;
    let stuck = send_in_flight(&srv.db, &srv.client, "deadline").await;
    let stuck = tokio::time::timeout(WAIT, stuck)
        .await
        .expect("ends")
        .unwrap();
    assert_status(stuck, Code::DeadlineExceeded, "--rpc-timeout-ms");
    locker.batch_execute("ROLLBACK").await.unwrap();

    // GetEvent waits longer than the default deadline when asked to.
    let started = Instant::now();
    let event = get_event_in_flight(&srv.client, "deadline", "never", 1);
    let event = tokio::time::timeout(WAIT, event)
        .await
        .expect("ends")
        .unwrap();
    let event = event.expect("GetEvent is a wait, not bound by the default deadline");
    assert!(!event.into_inner().found);
    assert!(started.elapsed() >= Duration::from_secs(1));
    srv.stop().await;
}

/// Runs the `dbosd` CLI against `srv`.
async fn cli(srv: &TestServer, args: &[&str]) -> std::process::Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_dbosd"));
    cmd.args(args).env("DBOSD_ADDRESS", srv.addr.to_string());
    crate::harness::run_bounded(cmd, &format!("dbosd {}", args.join(" "))).await
}

#[tokio::test]
async fn what_is_written_can_be_read_and_oversized_rows_say_which_flag_leaves_payloads_out() {
    let srv = TestServer::start().await;
    let mut client = srv.client.clone();

    // A 3 MB input fits the 4 MiB request but would make the workflow unreadable: refused at write.
    let mut big = enqueue_req("wf", "q", vec![]);
    big.positional_args.clear();
    big.inputs_json = format!("[\"{}\"]", "x".repeat(3_000_000));
    assert_status(
        client.enqueue_workflow(big.clone()).await,
        Code::InvalidArgument,
        "the limit is 1048576 (--max-payload-bytes)",
    );
    let batch = pb::EnqueueWorkflowsRequest {
        workflows: vec![big],
    };
    assert_status(
        client.enqueue_workflows(batch).await,
        Code::InvalidArgument,
        "--max-payload-bytes",
    );
    let send = pb::SendMessageRequest {
        destination_id: "anyone".into(),
        message_json: format!("\"{}\"", "m".repeat(2_000_000)),
        ..Default::default()
    };
    assert_status(
        client.send_message(send).await,
        Code::InvalidArgument,
        "--max-payload-bytes",
    );

    // Just under the limit, and many times larger as a protobuf Value (a number in an array is 2
    // bytes of text, about 11 as a Value): readable, its decoded copy left out.
    let numbers = format!("[{}1]", "1,".repeat(500_000));
    let mut dense = enqueue_req("wf", "q", vec![]);
    dense.positional_args.clear();
    dense.inputs_json = numbers;
    dense.workflow_id = Some("dense".into());
    client.enqueue_workflow(dense).await.expect("enqueue");
    let got = client
        .get_workflow(pb::GetWorkflowRequest {
            workflow_id: "dense".into(),
            ..Default::default()
        })
        .await
        .expect("a workflow written within the limit is readable")
        .into_inner()
        .workflow
        .unwrap();
    let input = got.input.expect("input");
    assert!(input.text.len() > 1_000_000 && input.json.is_none());
    let attributes = pb::UpdateWorkflowAttributesRequest {
        workflow_id: "dense".into(),
        attributes: Some(prost_types::Struct {
            fields: [(
                "k".to_owned(),
                crate::harness::pv(json!("a".repeat(1_100_000))),
            )]
            .into_iter()
            .collect(),
        }),
        ..Default::default()
    };
    assert_status(
        client.update_workflow_attributes(attributes).await,
        Code::InvalidArgument,
        "--max-payload-bytes",
    );

    // A worker may write any output: a 5 MB one makes GetWorkflow and AwaitWorkflow too large,
    // and the error says which flag reads the workflow anyway.
    let mut req = enqueue_req("wf", "q", vec![json!(1)]);
    req.workflow_id = Some("huge-output".into());
    client.enqueue_workflow(req).await.expect("enqueue");
    let output = serde_json::to_string(&"o".repeat(5_000_000)).unwrap();
    let updated = srv
        .db
        .client()
        .await
        .execute(
            "UPDATE dbos.workflow_status SET status = 'SUCCESS', output = $1 \
             WHERE workflow_uuid = 'huge-output'",
            &[&output],
        )
        .await
        .unwrap();
    assert_eq!(updated, 1);
    let get = |load_output: Option<bool>| pb::GetWorkflowRequest {
        workflow_id: "huge-output".into(),
        load_output,
        ..Default::default()
    };
    assert_status(
        client.get_workflow(get(None)).await,
        Code::ResourceExhausted,
        "set load_output = false",
    );
    let wf = client
        .get_workflow(get(Some(false)))
        .await
        .expect("readable without its output")
        .into_inner()
        .workflow
        .unwrap();
    assert_eq!(wf.status(), pb::WorkflowStatus::Success);
    assert!(wf.output.is_none() && wf.input.is_some());

    let awaited = |load_output| AwaitWorkflowRequest {
        workflow_id: "huge-output".into(),
        load_output,
        ..Default::default()
    };
    let last = |mut stream: tonic::Streaming<pb::AwaitWorkflowResponse>| async move {
        let mut last = None;
        while let Some(item) = stream.message().await.transpose() {
            last = Some(item);
        }
        last.expect("the stream sends something")
    };
    let stream = client
        .await_workflow(awaited(None))
        .await
        .unwrap()
        .into_inner();
    assert_status(
        last(stream).await,
        Code::ResourceExhausted,
        "set load_output = false",
    );
    let stream = client
        .await_workflow(awaited(Some(false)))
        .await
        .unwrap()
        .into_inner();
    let outcome = match last(stream).await.expect("outcome").kind {
        Some(pb::await_workflow_response::Kind::Outcome(o)) => o,
        other => panic!("expected the outcome last: {other:?}"),
    };
    assert_eq!(outcome.status(), pb::WorkflowStatus::Success);
    assert!(outcome.output.is_none());

    // The CLI names its own flags.
    let out = cli(&srv, &["workflow", "get", "huge-output"]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--no-output"), "{stderr}");
    let out = cli(
        &srv,
        &[
            "workflow",
            "get",
            "huge-output",
            "--no-output",
            "-o",
            "json",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["status"], "SUCCESS", "{doc}");
    srv.stop().await;
}
