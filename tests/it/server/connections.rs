//! Connections before and between calls (`src/connections.rs`, `--keepalive-ms`): the cap on open
//! connections, the deadline for a new connection to open, and pings that end connections
//! whose client stopped answering.

use std::time::Duration;

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tonic_health::pb::{health_client::HealthClient, HealthCheckRequest};

use crate::harness::{TestDb, TestServer, WAIT};

/// What an HTTP/2 client sends first: the connection preface and an empty SETTINGS frame.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

/// A raw HTTP/2 connection that sent its preface and has read the server's first frame (so the
/// server has accepted it and serves it), then says nothing more.
async fn silent_http2_client(srv: &TestServer) -> TcpStream {
    let mut socket = TcpStream::connect(srv.addr).await.expect("connect");
    socket.write_all(PREFACE).await.expect("send the preface");
    let mut header = [0u8; 9];
    tokio::time::timeout(WAIT, socket.read_exact(&mut header))
        .await
        .expect("the server's SETTINGS in time")
        .expect("read the server's SETTINGS");
    assert_eq!(header[3], 4, "the server's first frame is SETTINGS");
    socket
}

/// Reads until the server closes `socket`; fails the test if it is still open after `WAIT`.
pub(super) async fn closed_by_server(socket: &mut TcpStream) {
    let mut buf = [0u8; 4096];
    let closed = tokio::time::timeout(WAIT, async {
        loop {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the server kept the connection open");
}

/// Whether the server still holds `socket` open (nothing to read, no end of stream).
fn still_open(socket: &TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match socket.try_read(&mut buf) {
            Ok(0) => return false,
            Ok(_) => continue,
            Err(e) => return e.kind() == std::io::ErrorKind::WouldBlock,
        }
    }
}

async fn health_check(channel: tonic::transport::Channel) -> Result<(), tonic::Status> {
    HealthClient::new(channel)
        .check(HealthCheckRequest::default())
        .await
        .map(|_| ())
}

#[tokio::test]
async fn a_connection_that_sends_nothing_or_part_of_a_preface_is_closed_and_one_that_spoke_is_kept()
{
    let srv = TestServer::start_on(TestDb::new().await, |s| {
        s.connections.handshake_timeout = Some(Duration::from_millis(300));
    })
    .await;
    let spoke = silent_http2_client(&srv).await;
    let mut mute = TcpStream::connect(srv.addr).await.expect("connect");
    // Most of the preface and then nothing: hyper waits for the rest to tell HTTP/2 from HTTP/1,
    // with no timeout of its own.
    // On the health port too, which speaks only HTTP/2 (its server writes SETTINGS at once).
    let mut halfway = Vec::new();
    for addr in [srv.addr, srv.health_addr] {
        let mut socket = TcpStream::connect(addr).await.expect("connect");
        socket
            .write_all(&PREFACE[..16])
            .await
            .expect("send part of the preface");
        halfway.push(socket);
    }
    closed_by_server(&mut mute).await;
    for socket in &mut halfway {
        closed_by_server(socket).await;
    }
    // The mute socket was opened after the other one spoke, so the other one is past the same
    // deadline by now: having sent its preface, it stays.
    assert!(still_open(&spoke), "a connection that spoke was closed");
    health_check(srv.channel.clone())
        .await
        .expect("calls go on");
}

#[tokio::test]
async fn at_the_connection_limit_new_clients_wait_until_one_closes() {
    let srv = TestServer::start_on(TestDb::new().await, |s| {
        s.connections.max_connections = 2;
        s.connections.handshake_timeout = None;
    })
    .await;
    // The harness's own channel is one connection; a raw client is the second.
    health_check(srv.channel.clone())
        .await
        .expect("the first connection");
    let second = silent_http2_client(&srv).await;
    let scrape = srv.scrape().await;
    assert!(
        scrape.contains("\ndbosd_connections_open 2\n"),
        "two connections counted: {scrape}"
    );

    let third = tonic::transport::Channel::from_shared(format!("http://{}", srv.addr))
        .expect("uri")
        .connect_lazy();
    let mut waiting = tokio::spawn(health_check(third));
    // Bounded on purpose: while the two connections stay open, no wait is long enough.
    let early = tokio::time::timeout(Duration::from_millis(500), &mut waiting).await;
    assert!(
        early.is_err(),
        "a third connection was served beyond --max-connections 2: {early:?}"
    );

    drop(second);
    tokio::time::timeout(WAIT, waiting)
        .await
        .expect("served once a connection closed")
        .expect("the call's task")
        .expect("the health check");
}

#[tokio::test]
async fn a_client_that_stops_answering_pings_is_disconnected() {
    let srv = TestServer::start_on(TestDb::new().await, |s| {
        s.keepalive = Some(Duration::from_millis(200));
    })
    .await;
    let mut silent = silent_http2_client(&srv).await;
    closed_by_server(&mut silent).await;
    health_check(srv.channel.clone())
        .await
        .expect("a client that answers its pings stays connected");
}
