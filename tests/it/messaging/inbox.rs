//! ListWorkflowMessages and ListStreamKeys against rows a real DBOS Python worker wrote: messages
//! with and without a topic, one received by the worker's `recv` (consumed, with its step), the
//! rest pending; streams written and closed (or not) by the worker; paging with the one page-token
//! codec; a workflow of another application answered as an unknown one; and both over Connect JSON
//! and in the OpenAPI document.

use dbosd::pb::{self, ListStreamKeysRequest, ListWorkflowMessagesRequest};
use serde_json::json;
use tonic::Code;

use crate::auth::setup::{client_as, enqueue_as_ops, same_as_unknown, server, ALPHA, BETA, OPS};
use crate::harness::{
    assert_status, enqueue_req, payload_json, pv, wait_terminal, TestServer, Worker, WorkerLang,
    WorkerOptions,
};
use crate::http::{connect_json, curl};

type Client = pb::workflow_service_client::WorkflowServiceClient<tonic::transport::Channel>;

async fn send(client: &mut Client, to: &str, topic: Option<&str>, value: serde_json::Value) {
    client
        .send_message(pb::SendMessageRequest {
            destination_id: to.into(),
            topic: topic.map(str::to_owned),
            message: Some(pv(value)),
            ..Default::default()
        })
        .await
        .expect("send");
}

fn messages_of(id: &str) -> ListWorkflowMessagesRequest {
    ListWorkflowMessagesRequest {
        workflow_id: id.into(),
        ..Default::default()
    }
}

async fn list(client: &mut Client, req: ListWorkflowMessagesRequest) -> Vec<pb::WorkflowMessage> {
    let resp = client
        .list_workflow_messages(req)
        .await
        .expect("ListWorkflowMessages")
        .into_inner();
    assert!(resp.next_page_token.is_empty(), "one page: {resp:?}");
    resp.messages
}

#[tokio::test]
async fn messages_are_listed_received_or_pending_with_the_receiving_step() {
    let mut srv = TestServer::start().await;
    // A workflow that parks on a queue no worker polls: its messages all stay pending.
    let mut parked = enqueue_req("wait_recv", "inbox_parked", vec![json!("go")]);
    parked.workflow_id = Some("inbox-parked".into());
    srv.client.enqueue_workflow(parked).await.unwrap();
    // Sent before the worker runs it: recv("go") takes the "go" message, the others stay.
    let mut req = enqueue_req("wait_recv", "inbox_later", vec![json!("go")]);
    req.workflow_id = Some("inbox-1".into());
    srv.client.enqueue_workflow(req).await.unwrap();
    send(&mut srv.client, "inbox-1", None, json!({"plain": true})).await;
    send(
        &mut srv.client,
        "inbox-1",
        Some("other"),
        json!("not for recv"),
    )
    .await;
    send(&mut srv.client, "inbox-1", Some("go"), json!(42)).await;
    send(&mut srv.client, "inbox-parked", Some("go"), json!("parked")).await;
    // Now let a worker run it (no worker polled its queue until now).
    let worker = Worker::start(
        WorkerLang::Python,
        &srv.db.url,
        WorkerOptions {
            queues: vec!["inbox_later".into()],
            ..Default::default()
        },
    )
    .await;
    let done = wait_terminal(&srv.client, "inbox-1").await;
    assert_eq!(
        payload_json(&done.output),
        json!(42),
        "recv got the go message"
    );

    let all = list(&mut srv.client, messages_of("inbox-1")).await;
    assert_eq!(all.len(), 3, "{all:?}");
    // Oldest first, as recv takes them.
    let times: Vec<_> = all.iter().map(|m| m.created_at.unwrap().seconds).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    let by_topic = |t: Option<&str>| {
        all.iter()
            .find(|m| m.topic.as_deref() == t)
            .unwrap_or_else(|| panic!("topic {t:?} in {all:?}"))
    };
    let received = by_topic(Some("go"));
    assert!(received.consumed);
    assert_eq!(payload_json(&received.message), json!(42));
    let recv_step: i32 = srv
        .db
        .client()
        .await
        .query_one(
            "SELECT function_id FROM dbos.operation_outputs \
             WHERE workflow_uuid = 'inbox-1' AND function_name = 'DBOS.recv'",
            &[],
        )
        .await
        .expect("the recv step")
        .get(0);
    assert_eq!(received.consumed_by_step, Some(recv_step));
    let plain = by_topic(None);
    assert!(
        !plain.consumed && plain.consumed_by_step.is_none(),
        "{plain:?}"
    );
    let value = plain.message.as_ref().unwrap();
    assert_eq!(value.serialization, "portable_json");
    assert_eq!(payload_json(&plain.message), json!({"plain": true}));
    assert!(!by_topic(Some("other")).consumed);

    // Filters: the empty topic is "sent without one"; consumed true / false.
    let untopiced = list(
        &mut srv.client,
        ListWorkflowMessagesRequest {
            topic: Some(String::new()),
            ..messages_of("inbox-1")
        },
    )
    .await;
    assert_eq!(untopiced.len(), 1);
    assert_eq!(untopiced[0].message_id, plain.message_id);
    let pending = list(
        &mut srv.client,
        ListWorkflowMessagesRequest {
            consumed: Some(false),
            ..messages_of("inbox-1")
        },
    )
    .await;
    assert_eq!(pending.len(), 2, "{pending:?}");
    assert!(pending.iter().all(|m| !m.consumed));
    let other = list(
        &mut srv.client,
        ListWorkflowMessagesRequest {
            topic: Some("go".into()),
            consumed: Some(true),
            ..messages_of("inbox-1")
        },
    )
    .await;
    assert_eq!(other.len(), 1);
    assert_eq!(other[0].message_id, received.message_id);
    let parked = list(&mut srv.client, messages_of("inbox-parked")).await;
    assert_eq!(parked.len(), 1, "another workflow's messages are its own");
    assert!(!parked[0].consumed);

    // Paging one at a time returns every message once, in the same order.
    let mut paged = Vec::new();
    let mut token = String::new();
    loop {
        let resp = srv
            .client
            .list_workflow_messages(ListWorkflowMessagesRequest {
                page_size: 1,
                page_token: token.clone(),
                ..messages_of("inbox-1")
            })
            .await
            .unwrap()
            .into_inner();
        assert!(resp.messages.len() <= 1);
        paged.extend(resp.messages.into_iter().map(|m| m.message_id));
        if resp.next_page_token.is_empty() {
            break;
        }
        token = resp.next_page_token;
        assert!(paged.len() < 10, "paging ends");
    }
    let ids: Vec<_> = all.iter().map(|m| m.message_id.clone()).collect();
    assert_eq!(paged, ids);

    // A first-page token of inbox-1 is refused for another workflow; a made-up one is refused.
    let first = srv
        .client
        .list_workflow_messages(ListWorkflowMessagesRequest {
            page_size: 1,
            ..messages_of("inbox-1")
        })
        .await
        .unwrap()
        .into_inner()
        .next_page_token;
    assert_status(
        srv.client
            .list_workflow_messages(ListWorkflowMessagesRequest {
                page_token: first,
                ..messages_of("inbox-parked")
            })
            .await,
        Code::InvalidArgument,
        "another workflow",
    );
    assert_status(
        srv.client
            .list_workflow_messages(ListWorkflowMessagesRequest {
                page_token: "not-a-token".into(),
                ..messages_of("inbox-1")
            })
            .await,
        Code::InvalidArgument,
        "page_token",
    );
    assert_status(
        srv.client
            .list_workflow_messages(ListWorkflowMessagesRequest {
                page_size: 5000,
                ..messages_of("inbox-1")
            })
            .await,
        Code::InvalidArgument,
        "page_size",
    );
    assert_status(
        srv.client.list_workflow_messages(messages_of("")).await,
        Code::InvalidArgument,
        "workflow_id",
    );
    assert_status(
        srv.client.list_workflow_messages(messages_of("nope")).await,
        Code::NotFound,
        "nope",
    );
    worker.stop().await;
    srv.stop().await;
}

#[tokio::test]
async fn stream_keys_count_values_and_tell_closed_from_open() {
    let mut srv = TestServer::start().await;
    let worker = Worker::start(WorkerLang::Python, &srv.db.url, WorkerOptions::default()).await;
    let run = |id: &str, args: Vec<serde_json::Value>| {
        let mut req = enqueue_req("write_stream_wf", "test_queue", args);
        req.workflow_id = Some(id.into());
        req
    };
    let closed = run("keys-closed", vec![json!("s"), json!([1, "two", {"3": 3}])]);
    let open = run("keys-open", vec![json!("o"), json!([1, 2]), json!(false)]);
    srv.client.enqueue_workflow(closed).await.unwrap();
    srv.client.enqueue_workflow(open).await.unwrap();
    let mut none = enqueue_req("echo", "test_queue", vec![json!(1)]);
    none.workflow_id = Some("keys-none".into());
    srv.client.enqueue_workflow(none).await.unwrap();
    for id in ["keys-closed", "keys-open", "keys-none"] {
        wait_terminal(&srv.client, id).await;
    }
    // A second key of the closed writer, closed the legacy way (raw marker, as Go v1.2 writes).
    srv.db
        .client()
        .await
        .execute(
            "INSERT INTO dbos.streams (workflow_uuid, key, value, \"offset\", function_id) VALUES \
             ('keys-closed', 'legacy', '\"x\"', 0, 9), ('keys-closed', 'legacy', '__DBOS_STREAM_CLOSED__', 1, 9)",
            &[],
        )
        .await
        .expect("legacy rows");
    let keys = |id: &str| ListStreamKeysRequest {
        workflow_id: id.into(),
    };
    let got = srv
        .client
        .list_stream_keys(keys("keys-closed"))
        .await
        .unwrap()
        .into_inner();
    assert!(!got.truncated);
    let summary: Vec<_> = got
        .keys
        .iter()
        .map(|k| (k.key.as_str(), k.value_count, k.last_offset, k.closed))
        .collect();
    assert_eq!(summary, [("legacy", 1, 1, true), ("s", 3, 3, true)]);
    let got = srv
        .client
        .list_stream_keys(keys("keys-open"))
        .await
        .unwrap()
        .into_inner();
    let summary: Vec<_> = got
        .keys
        .iter()
        .map(|k| (k.key.as_str(), k.value_count, k.last_offset, k.closed))
        .collect();
    assert_eq!(summary, [("o", 2, 1, false)], "written, never closed");
    let got = srv
        .client
        .list_stream_keys(keys("keys-none"))
        .await
        .unwrap()
        .into_inner();
    assert!(got.keys.is_empty(), "{got:?}");
    assert_status(
        srv.client.list_stream_keys(keys("nope")).await,
        Code::NotFound,
        "nope",
    );
    assert_status(
        srv.client.list_stream_keys(keys("")).await,
        Code::InvalidArgument,
        "workflow_id",
    );

    // Over Connect JSON, as curl and the console call them.
    let reply = connect_json(
        srv.addr,
        "ListStreamKeys",
        &[],
        json!({"workflowId": "keys-open"}),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply.json(),
        json!({"keys": [{"key": "o", "valueCount": 2, "lastOffset": 1}]}),
        "proto3 JSON leaves false and empty fields out"
    );
    send(&mut srv.client, "keys-open", Some("t"), json!({"n": 1})).await;
    let reply = connect_json(
        srv.addr,
        "ListWorkflowMessages",
        &[],
        json!({"workflowId": "keys-open", "consumed": false}),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let body = reply.json();
    assert_eq!(body["messages"][0]["topic"], "t", "{body}");
    assert_eq!(body["messages"][0]["message"]["json"], json!({"n": 1}));
    assert!(body["messages"][0]["createdAt"].is_string(), "{body}");
    // Both are documented in the OpenAPI document, with the proto's words.
    let doc = curl(&format!("http://{}/openapi.json", srv.addr), &[], b"")
        .await
        .json();
    for (rpc, says) in [
        ("ListWorkflowMessages", "messages sent to a workflow"),
        ("ListStreamKeys", "streams a workflow wrote"),
    ] {
        let op = &doc["paths"][format!("/dbosd.v1.WorkflowService/{rpc}")]["post"];
        assert!(op.to_string().contains(says), "{rpc}: {op}");
    }
    let bad = connect_json(
        srv.addr,
        "ListWorkflowMessages",
        &[],
        json!({"workflowId": "keys-open", "pageToken": "%%%"}),
    )
    .await;
    assert_eq!(bad.status, 400, "{bad:?}");
    assert_eq!(bad.json()["code"], "invalid_argument");
    worker.stop().await;
    srv.stop().await;
}

#[tokio::test]
async fn another_applications_workflow_lists_as_an_unknown_one() {
    let (srv, _tokens) = server().await;
    enqueue_as_ops(&srv, "beta-1", "beta").await;
    let mut ops = client_as(&srv.channel, OPS);
    ops.send_message(pb::SendMessageRequest {
        destination_id: "beta-1".into(),
        message: Some(pv(json!("beta's secret"))),
        ..Default::default()
    })
    .await
    .expect("ops sends");
    srv.db
        .client()
        .await
        .execute(
            "INSERT INTO dbos.streams (workflow_uuid, key, value, \"offset\", function_id, serialization) \
             VALUES ('beta-1', 's', '1', 0, 1, 'portable_json')",
            &[],
        )
        .await
        .expect("a stream of beta's");
    let mut alpha = client_as(&srv.channel, ALPHA);
    let mut beta = client_as(&srv.channel, BETA);
    let own = beta
        .list_workflow_messages(messages_of("beta-1"))
        .await
        .expect("beta lists its own")
        .into_inner();
    assert_eq!(own.messages.len(), 1);
    let own = beta
        .list_stream_keys(ListStreamKeysRequest {
            workflow_id: "beta-1".into(),
        })
        .await
        .expect("beta lists its streams")
        .into_inner();
    assert_eq!(own.keys.len(), 1);
    let messages = |id: &str| messages_of(id);
    let streams = |id: &str| ListStreamKeysRequest {
        workflow_id: id.into(),
    };
    let foreign = alpha
        .list_workflow_messages(messages("beta-1"))
        .await
        .map(|r| r.into_inner());
    let unknown = alpha
        .list_workflow_messages(messages("nope-1"))
        .await
        .map(|r| r.into_inner());
    same_as_unknown(
        "ListWorkflowMessages",
        Code::NotFound,
        (foreign, "beta-1"),
        (unknown, "nope-1"),
    );
    let foreign = alpha
        .list_stream_keys(streams("beta-1"))
        .await
        .map(|r| r.into_inner());
    let unknown = alpha
        .list_stream_keys(streams("nope-1"))
        .await
        .map(|r| r.into_inner());
    same_as_unknown(
        "ListStreamKeys",
        Code::NotFound,
        (foreign, "beta-1"),
        (unknown, "nope-1"),
    );
    srv.stop().await;
}
