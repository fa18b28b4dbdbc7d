//! `GET /openapi.json` against the live service: every RPC of WorkflowService is a path, and every
//! path's request example, posted as the document says (JSON, or one Connect envelope for streams),
//! is decoded by dbosd (any answer but a decoding error).

use serde_json::Value;

use super::{curl, envelope, post};
use crate::harness::TestServer;

/// The message dbosd gives a body that is not the request message.
const DECODING_ERROR: &str = "in proto3 JSON";

#[tokio::test]
async fn the_openapi_document_matches_the_live_service() {
    let srv = TestServer::start().await;
    let reply = curl(&format!("http://{}/openapi.json", srv.addr), &[], b"").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let doc = reply.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().expect("paths");

    let pool = prost_reflect::DescriptorPool::decode(dbosd::pb::FILE_DESCRIPTOR_SET).unwrap();
    let service = pool
        .get_service_by_name("dbosd.v1.WorkflowService")
        .unwrap();
    assert_eq!(paths.len(), service.methods().len(), "one path per RPC");
    for method in service.methods() {
        let path = format!("/dbosd.v1.WorkflowService/{}", method.name());
        let operation = &paths
            .get(&path)
            .unwrap_or_else(|| panic!("{path} is not documented"))["post"];
        let content = operation["requestBody"]["content"]
            .as_object()
            .expect("request content");
        let (media_type, media) = content.iter().next().expect("a media type");
        let example = media["example"].to_string();
        let timeout = "Connect-Timeout-Ms: 3000";
        let error: Option<Value> = if method.is_server_streaming() {
            assert_eq!(media_type, "application/connect+json", "{path}");
            let reply = post(
                srv.addr,
                &path,
                &["Content-Type: application/connect+json", timeout],
                &envelope(0, example.as_bytes()),
            )
            .await;
            assert_eq!(reply.status, 200, "{path}: {reply:?}");
            reply.stream().1.get("error").cloned()
        } else {
            assert_eq!(media_type, "application/json", "{path}");
            let reply = post(
                srv.addr,
                &path,
                &["Content-Type: application/json", timeout],
                example.as_bytes(),
            )
            .await;
            (reply.status != 200).then(|| reply.json())
        };
        if let Some(error) = error {
            let message = error["message"].as_str().unwrap_or_default();
            assert!(
                !message.contains(DECODING_ERROR),
                "{path}: the example {example} does not decode: {message}"
            );
            assert_ne!(error["code"], "unimplemented", "{path}: {error}");
        }
    }
    srv.stop().await;
}
