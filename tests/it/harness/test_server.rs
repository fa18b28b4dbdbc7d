//! `TestServer`: dbosd served in-process on a loopback port of its own, over a database of its
//! own, with a connected client; stopped (and its database dropped) when dropped.

use std::{sync::Arc, time::Duration};

use dbosd::{
    config::Settings, hub::Hub, pb::workflow_service_client::WorkflowServiceClient, server,
};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tonic::transport::Channel;

use super::{connect_channel, TestDb, WAIT};

/// dbosd running in-process on 127.0.0.1:0, with a connected client.
pub struct TestServer {
    pub client: WorkflowServiceClient<Channel>,
    pub channel: Channel,
    pub addr: std::net::SocketAddr,
    /// Where its Prometheus metrics are served.
    pub metrics_addr: std::net::SocketAddr,
    /// Where its plaintext health-only port is.
    pub health_addr: std::net::SocketAddr,
    pub db: TestDb,
    /// The server's hub, for its counters.
    pub hub: Arc<Hub>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    /// A new database and a server on it with default settings.
    pub async fn start() -> TestServer {
        Self::start_on(TestDb::new().await, |_| {}).await
    }

    /// A server on `db`, with settings adjusted by `tweak`.
    pub async fn start_on(db: TestDb, tweak: impl FnOnce(&mut Settings)) -> TestServer {
        let mut settings = Settings::new(db.url.clone());
        settings.health_interval = Duration::from_millis(200);
        tweak(&mut settings);
        let repo = server::prepare(&settings).await.expect("dbosd prepare");
        // Bind first: the port is open before the server task runs, so no startup race.
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let metrics = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let metrics_addr = metrics.local_addr().expect("local addr");
        let health = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let health_addr = health.local_addr().expect("local addr");
        let listeners = server::Listeners {
            grpc: listener,
            metrics: Some(metrics),
            health: Some(health),
        };
        let tls = settings.tls.cert.is_some();
        let (tx, rx) = oneshot::channel::<()>();
        let hub = Hub::new();
        let server_hub = Arc::clone(&hub);
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = rx.await;
            };
            if let Err(e) =
                server::serve_with_hub(repo, server_hub, &settings, listeners, shutdown).await
            {
                eprintln!("dbosd server ended: {e}");
            }
        });
        // A TLS server needs a TLS client: tests that turn TLS on make their own channels.
        let channel = match tls {
            false => connect_channel(addr).await,
            true => Channel::from_shared(format!("http://{addr}"))
                .expect("uri")
                .connect_lazy(),
        };
        TestServer {
            client: WorkflowServiceClient::new(channel.clone()),
            channel,
            addr,
            metrics_addr,
            health_addr,
            db,
            hub,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(WAIT, task).await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

impl TestServer {
    /// One scrape of the server's `/metrics`.
    pub async fn scrape(&self) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut conn = tokio::net::TcpStream::connect(self.metrics_addr)
            .await
            .expect("connect to metrics");
        conn.write_all(b"GET /metrics HTTP/1.0\r\nHost: dbosd\r\n\r\n")
            .await
            .expect("send scrape");
        let mut response = String::new();
        tokio::time::timeout(WAIT, conn.read_to_string(&mut response))
            .await
            .expect("scrape in time")
            .expect("read scrape");
        let (head, body) = response.split_once("\r\n\r\n").expect("HTTP response");
        assert!(
            head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
            "{head}"
        );
        body.to_owned()
    }
}
