//! Gzip-compressed requests (`src/http/connect/gzip.rs`, `accept_compressed` in `src/server.rs`):
//! Connect unary bodies and streaming envelopes, and native gRPC messages, each inflated within
//! `--max-message-bytes`; other encodings are refused as Connect says.

use std::io::Write;

use flate2::{write::GzEncoder, Compression};
use serde_json::json;
use tonic::{codec::CompressionEncoding, Code};

use super::{envelope, post};
use crate::harness::{enqueue_req, TestServer};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(data).expect("compress");
    enc.finish().expect("compress")
}

const ENQUEUE: &str = "/dbosd.v1.WorkflowService/EnqueueWorkflow";

#[tokio::test]
async fn connect_requests_may_come_gzip_compressed() {
    let srv = TestServer::start().await;
    let body = json!({"workflowName": "echo", "queueName": "q", "workflowId": "gz-1"});
    let unary = post(
        srv.addr,
        ENQUEUE,
        &["Content-Type: application/json", "Content-Encoding: gzip"],
        &gzip(body.to_string().as_bytes()),
    )
    .await;
    assert_eq!(unary.status, 200, "{unary:?}");
    assert_eq!(unary.json()["workflowId"], "gz-1");

    // A streaming request's one message, flagged compressed (flag 1) in its envelope.
    let request = json!({"workflowId": "gz-1", "timeout": "0.2s"}).to_string();
    let streamed = post(
        srv.addr,
        "/dbosd.v1.WorkflowService/AwaitWorkflow",
        &[
            "Content-Type: application/connect+json",
            "Connect-Content-Encoding: gzip",
        ],
        &envelope(1, &gzip(request.as_bytes())),
    )
    .await;
    assert_eq!(streamed.status, 200, "{streamed:?}");
    let (messages, end) = streamed.stream();
    assert!(
        messages.iter().any(|m| m.to_string().contains("ENQUEUED")),
        "the wait read gz-1's status: {messages:?} {end}"
    );

    // A flagged message without the header is not guessed at.
    let unflagged = post(
        srv.addr,
        "/dbosd.v1.WorkflowService/AwaitWorkflow",
        &["Content-Type: application/connect+json"],
        &envelope(1, &gzip(request.as_bytes())),
    )
    .await;
    let (_, end) = unflagged.stream();
    assert_eq!(end["error"]["code"], "invalid_argument", "{end}");
}

#[tokio::test]
async fn a_compressed_request_inflates_within_the_message_limit_and_other_encodings_are_refused() {
    let srv = TestServer::start().await;
    // 16 MiB of JSON whitespace: about 16 KiB compressed, four times the JSON body's limit inflated.
    let mut bomb = vec![b' '; 16 << 20];
    bomb.extend_from_slice(b"{}");
    let enqueue = |encoding: &str, body: Vec<u8>| {
        let encoding = format!("Content-Encoding: {encoding}");
        async move {
            let headers = ["Content-Type: application/json", encoding.as_str()];
            post(srv.addr, ENQUEUE, &headers, &body).await.json()
        }
    };
    let body = enqueue("gzip", gzip(&bomb)).await;
    assert_eq!(body["code"], "resource_exhausted", "{body}");

    let body = enqueue("br", b"{}".to_vec()).await;
    assert_eq!(body["code"], "unimplemented", "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains("gzip"), "{message}");

    let body = enqueue("gzip", b"{\"not\":\"gzip\"}".to_vec()).await;
    assert_eq!(body["code"], "invalid_argument", "{body}");
}

#[tokio::test]
async fn grpc_clients_may_send_gzip_within_the_message_limit() {
    let srv = TestServer::start().await;
    let mut client = srv
        .client
        .clone()
        .send_compressed(CompressionEncoding::Gzip);
    let done = client
        .enqueue_workflow(enqueue_req("echo", "q", vec![json!("compressed")]))
        .await
        .expect("a gzip-compressed request is read")
        .into_inner();
    let got = client
        .get_workflow(dbosd::pb::GetWorkflowRequest {
            workflow_id: done.workflow_id.clone(),
            ..Default::default()
        })
        .await
        .expect("get")
        .into_inner();
    assert!(
        format!("{got:?}").contains("compressed"),
        "the input as sent: {got:?}"
    );

    // Larger than --max-message-bytes (4 MiB) once inflated, though small on the wire.
    let huge = "x".repeat(5 << 20);
    let err = client
        .enqueue_workflow(enqueue_req("echo", "q", vec![json!(huge)]))
        .await
        .expect_err("too large inflated");
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
}

#[tokio::test]
async fn grpc_web_messages_may_come_gzip_compressed() {
    use prost::Message;
    let srv = TestServer::start().await;
    let mut req = enqueue_req("echo", "q", vec![]);
    req.workflow_id = Some("gz-web".into());
    let reply = post(
        srv.addr,
        ENQUEUE,
        &[
            "Content-Type: application/grpc-web+proto",
            "X-Grpc-Web: 1",
            "Grpc-Encoding: gzip",
        ],
        &envelope(1, &gzip(&req.encode_to_vec())),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let frames = reply.envelopes();
    let trailers = frames
        .iter()
        .find(|(flags, _)| flags & 0x80 != 0)
        .map(|(_, t)| String::from_utf8_lossy(t).into_owned())
        .unwrap_or_default();
    assert!(trailers.contains("grpc-status:0"), "{trailers:?}");
    let message = &frames.first().expect("a message").1;
    let done = dbosd::pb::EnqueueWorkflowResponse::decode(&message[..]).expect("a response");
    assert_eq!(done.workflow_id, "gz-web");
}
