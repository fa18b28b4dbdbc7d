//! TLS on the gRPC port (rustls), with client certificates required when a client CA is given
//! (mTLS), and the plaintext health-only port for probes that cannot speak TLS.

use std::{path::Path, time::Duration};

use dbosd::config::Settings;
use tokio::{io::AsyncWriteExt, net::TcpStream};

use dbosd::pb::{workflow_service_client::WorkflowServiceClient, ListWorkflowsRequest};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tonic_health::pb::{
    health_check_response::ServingStatus, health_client::HealthClient, HealthCheckRequest,
};

use super::{
    certs::{write, Ca, Pem},
    connections::closed_by_server,
};
use crate::harness::{connect_channel, eventually, run_bounded, TestDb, TestServer};

/// A server with TLS from `ca` (and mTLS when `client_ca` is given).
async fn tls_server(dir: &Path, ca: &Ca, client_ca: Option<&Ca>) -> TestServer {
    tls_server_with(dir, ca, client_ca, |_| {}).await
}

/// [`tls_server`], with `tweak` applied to its other settings.
async fn tls_server_with(
    dir: &Path,
    ca: &Ca,
    client_ca: Option<&Ca>,
    tweak: impl FnOnce(&mut Settings),
) -> TestServer {
    let server = ca.leaf(&["localhost", "127.0.0.1"]);
    let cert = write(dir, "server.pem", &server.cert);
    let key = write(dir, "server.key", &server.key);
    let client_ca = client_ca.map(|c| write(dir, "client-ca.pem", &c.pem));
    TestServer::start_on(TestDb::new().await, |s| {
        s.tls.cert = Some(cert);
        s.tls.key = Some(key);
        s.tls.client_ca = client_ca;
        tweak(s);
    })
    .await
}

/// Lists workflows over TLS trusting `ca`, presenting `identity` if given.
async fn list_over_tls(srv: &TestServer, ca: &Ca, identity: Option<&Pem>) -> Result<(), String> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&ca.pem))
        .domain_name("localhost");
    if let Some(id) = identity {
        tls = tls.identity(Identity::from_pem(&id.cert, &id.key));
    }
    let channel = Channel::from_shared(format!("https://{}", srv.addr))
        .unwrap()
        .tls_config(tls)
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| format!("connect: {e}"))?;
    WorkflowServiceClient::new(channel)
        .list_workflows(ListWorkflowsRequest::default())
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn tls_serves_trusting_clients_and_health_stays_plaintext_on_its_own_port() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let ca = Ca::new("dbosd test CA");
    let srv = tls_server(dir, &ca, None).await;
    list_over_tls(&srv, &ca, None).await.expect("a TLS client");
    let plaintext = WorkflowServiceClient::new(srv.channel.clone())
        .list_workflows(ListWorkflowsRequest::default())
        .await;
    assert!(
        plaintext.is_err(),
        "plaintext must not be served: {plaintext:?}"
    );
    let other_ca = Ca::new("someone else");
    assert!(list_over_tls(&srv, &other_ca, None).await.is_err());

    // The CLI speaks TLS to an https:// address, trusting --tls-ca.
    let ca_file = write(dir, "ca.pem", &ca.pem);
    let mut cli = tokio::process::Command::new(env!("CARGO_BIN_EXE_dbosd"));
    cli.args(["workflow", "list", "-o", "json", "--tls-ca"])
        .arg(&ca_file)
        .args([
            "--address",
            &format!("https://localhost:{}", srv.addr.port()),
        ]);
    let out = run_bounded(cli, "dbosd workflow list over TLS").await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut health = HealthClient::new(connect_channel(srv.health_addr).await);
    eventually("SERVING on the plaintext health port", || {
        let mut health = health.clone();
        async move {
            let status = health.check(HealthCheckRequest::default()).await.ok()?;
            (status.into_inner().status() == ServingStatus::Serving).then_some(())
        }
    })
    .await;
    let live = health
        .check(HealthCheckRequest {
            service: dbosd::health::LIVENESS.into(),
        })
        .await
        .expect("liveness on the health port");
    assert_eq!(live.into_inner().status(), ServingStatus::Serving);
    srv.stop().await;
}

#[tokio::test]
async fn mutual_tls_requires_a_client_certificate_from_the_client_ca() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("dbosd test CA");
    let clients = Ca::new("dbosd client CA");
    let srv = tls_server(dir.path(), &ca, Some(&clients)).await;
    let trusted = clients.leaf(&["billing-ci"]);
    list_over_tls(&srv, &ca, Some(&trusted))
        .await
        .expect("a client certificate from the client CA");
    let err = list_over_tls(&srv, &ca, None).await.unwrap_err();
    assert!(!err.is_empty());
    let rogue = Ca::new("rogue").leaf(&["billing-ci"]);
    assert!(list_over_tls(&srv, &ca, Some(&rogue)).await.is_err());
    srv.stop().await;
}

#[tokio::test]
async fn a_client_that_stops_halfway_through_the_tls_handshake_is_disconnected() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("dbosd test CA");
    let srv = tls_server_with(dir.path(), &ca, None, |s| {
        s.connections.handshake_timeout = Some(Duration::from_millis(300));
    })
    .await;
    // The start of a ClientHello record promising 512 bytes, 40 of which come: past the listener's
    // opening deadline (`src/connections.rs`), so only the handshake's own timeout ends it.
    let mut hello = vec![
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    hello.resize(40, 0x2a);
    let mut stalled = TcpStream::connect(srv.addr).await.expect("connect");
    stalled
        .write_all(&hello)
        .await
        .expect("send part of a ClientHello");
    closed_by_server(&mut stalled).await;
    list_over_tls(&srv, &ca, None)
        .await
        .expect("a whole handshake is still served");
    srv.stop().await;
}
