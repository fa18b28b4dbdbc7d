//! CORS: off by default (a preflight gets no Access-Control-Allow-Origin, so browsers refuse), and
//! with `--cors-origin` allowed for exactly those origins, with the headers Connect and gRPC-Web send.

use super::{curl, Reply};
use crate::harness::{TestDb, TestServer};

async fn preflight(srv: &TestServer, origin: &str) -> Reply {
    let url = format!("http://{}/dbosd.v1.WorkflowService/ListWorkflows", srv.addr);
    let origin = format!("Origin: {origin}");
    let args = [
        "-X",
        "OPTIONS",
        "-H",
        &origin,
        "-H",
        "Access-Control-Request-Method: POST",
        "-H",
        "Access-Control-Request-Headers: content-type,connect-protocol-version,authorization",
    ];
    curl(&url, &args, b"").await
}

#[tokio::test]
async fn cors_is_off_by_default_and_allows_only_configured_origins() {
    let srv = TestServer::start().await;
    let reply = preflight(&srv, "http://app.example").await;
    assert_eq!(
        reply.header("access-control-allow-origin"),
        None,
        "{reply:?}"
    );
    srv.stop().await;

    let srv = TestServer::start_on(TestDb::new().await, |s| {
        s.cors_origins = vec!["http://app.example".into(), "http://localhost:3000".into()];
    })
    .await;
    let allowed = preflight(&srv, "http://app.example").await;
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("http://app.example"),
        "{allowed:?}"
    );
    let headers = allowed
        .header("access-control-allow-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    for needed in [
        "content-type",
        "connect-protocol-version",
        "authorization",
        "x-grpc-web",
    ] {
        assert!(headers.contains(needed), "{needed} not allowed: {headers}");
    }
    let refused = preflight(&srv, "http://evil.example").await;
    assert_eq!(
        refused.header("access-control-allow-origin"),
        None,
        "{refused:?}"
    );

    // A simple call from an allowed origin is readable, with the request id exposed.
    let url = format!("http://{}/dbosd.v1.WorkflowService/ListWorkflows", srv.addr);
    let args = [
        "-X",
        "POST",
        "-H",
        "Origin: http://localhost:3000",
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        "{}",
    ];
    let call = curl(&url, &args, b"").await;
    assert_eq!(call.status, 200, "{call:?}");
    assert_eq!(
        call.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    assert!(
        call.header("access-control-expose-headers")
            .unwrap_or_default()
            .contains("x-request-id"),
        "{call:?}"
    );
    srv.stop().await;
}
