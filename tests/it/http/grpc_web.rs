//! gRPC-Web on the gRPC port, frame by frame with curl: a unary call answered with its message frame
//! and a trailers frame, a server stream, and an error status in the trailers.

use prost::Message;

use super::{envelope, post, Reply};
use crate::harness::{enqueue_req, TestServer};

/// The frames of a gRPC-Web body: data messages, and the trailers frame (flag 0x80) as text.
fn frames(reply: &Reply) -> (Vec<Vec<u8>>, String) {
    let mut messages = Vec::new();
    let mut trailers = String::new();
    for (flags, body) in reply.envelopes() {
        if flags & 0x80 != 0 {
            trailers = String::from_utf8(body).expect("trailers are text");
        } else {
            messages.push(body);
        }
    }
    (messages, trailers)
}

#[tokio::test]
async fn grpc_web_frames_carry_messages_and_trailers() {
    let srv = TestServer::start().await;
    let mut req = enqueue_req("wf", "web_queue", vec![]);
    req.workflow_id = Some("web-1".into());
    srv.client
        .clone()
        .enqueue_workflow(req)
        .await
        .expect("enqueue");
    let web = ["Content-Type: application/grpc-web+proto", "X-Grpc-Web: 1"];

    let request = dbosd::pb::GetWorkflowRequest {
        workflow_id: "web-1".into(),
        ..Default::default()
    };
    let reply = post(
        srv.addr,
        "/dbosd.v1.WorkflowService/GetWorkflow",
        &web,
        &envelope(0, &request.encode_to_vec()),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("application/grpc-web"),
        "{reply:?}"
    );
    let (messages, trailers) = frames(&reply);
    let response =
        dbosd::pb::GetWorkflowResponse::decode(&messages[0][..]).expect("a GetWorkflowResponse");
    assert_eq!(response.workflow.expect("workflow").workflow_id, "web-1");
    assert!(trailers.contains("grpc-status:0"), "{trailers:?}");

    // A stream: WatchWorkflows' first message is the matching snapshot; the timeout ends it.
    let watch = dbosd::pb::AwaitWorkflowRequest {
        workflow_id: "web-1".into(),
        timeout: Some(prost_types::Duration {
            seconds: 0,
            nanos: 300_000_000,
        }),
        ..Default::default()
    };
    let reply = post(
        srv.addr,
        "/dbosd.v1.WorkflowService/AwaitWorkflow",
        &web,
        &envelope(0, &watch.encode_to_vec()),
    )
    .await;
    let (messages, trailers) = frames(&reply);
    let first =
        dbosd::pb::AwaitWorkflowResponse::decode(&messages[0][..]).expect("a status update");
    assert!(
        matches!(
            first.kind,
            Some(dbosd::pb::await_workflow_response::Kind::StatusUpdate(_))
        ),
        "{first:?}"
    );
    assert!(
        trailers.contains("grpc-status:4"),
        "the wait's timeout ends it: {trailers:?}"
    );

    let missing = dbosd::pb::GetWorkflowRequest {
        workflow_id: "nope".into(),
        ..Default::default()
    };
    let reply = post(
        srv.addr,
        "/dbosd.v1.WorkflowService/GetWorkflow",
        &web,
        &envelope(0, &missing.encode_to_vec()),
    )
    .await;
    let status = reply
        .header("grpc-status")
        .map(str::to_owned)
        .unwrap_or_else(|| frames(&reply).1);
    assert!(status.contains('5'), "NOT_FOUND is status 5: {reply:?}");
    srv.stop().await;
}
