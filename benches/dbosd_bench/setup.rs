//! Bench environment: a private PostgreSQL, a migrated database, the dbosd release binary as a child
//! process, and the official Python DBOS client in the worker virtualenv.

use std::{path::PathBuf, process::Stdio, time::Duration};

use dbosd::{
    pb::workflow_service_client::WorkflowServiceClient, pgcluster::PgCluster, repo::db::migrate,
};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};
use tonic::transport::Channel;

pub type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Everything a bench section needs.
pub struct Env {
    pub cluster: PgCluster,
    pub db_url: String,
    pub dbosd: Child,
    pub addr: String,
}

impl Env {
    /// Starts PostgreSQL, creates and migrates the bench database, starts dbosd on it.
    pub async fn start() -> BenchResult<Env> {
        let cluster = PgCluster::start_temp().await?;
        let admin = connect(&cluster.url("postgres")).await?;
        admin.batch_execute("CREATE DATABASE bench").await?;
        let db_url = cluster.url("bench");
        let mut client = connect(&db_url).await?;
        migrate::migrate(&mut client, "dbos").await?;
        let (dbosd, addr) = spawn_dbosd(&db_url, &[]).await?;
        Ok(Env {
            cluster,
            db_url,
            dbosd,
            addr,
        })
    }

    /// A new gRPC channel to dbosd (each is its own HTTP/2 connection).
    pub async fn channel(&self) -> BenchResult<WorkflowServiceClient<Channel>> {
        let channel = Channel::from_shared(format!("http://{}", self.addr))?
            .connect()
            .await?;
        Ok(WorkflowServiceClient::new(channel))
    }

    /// dbosd's resident set size in KiB.
    pub fn dbosd_rss_kib(&self) -> u64 {
        let Some(pid) = self.dbosd.id() else { return 0 };
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
            })
            .unwrap_or(0)
    }

    pub async fn stop(mut self) {
        let _ = self.dbosd.kill().await;
        let _ = self.cluster.stop().await;
    }
}

/// Connects and drives the connection in the background.
pub async fn connect(url: &str) -> BenchResult<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// Starts the dbosd binary on `db_url` with `extra` flags; its address once it listens.
pub async fn spawn_dbosd(db_url: &str, extra: &[&str]) -> BenchResult<(Child, String)> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dbosd"))
        .args([
            "--database-url",
            db_url,
            "--listen",
            "127.0.0.1:0",
            "--pool-size",
            "32",
        ])
        .args(extra)
        .env(
            "DBOSD_LOG",
            std::env::var("BENCH_DBOSD_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let addr = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(addr) = line.strip_prefix("dbosd listening on ") {
                return Some(addr.to_owned());
            }
        }
        None
    })
    .await?
    .ok_or("dbosd did not print its address")?;
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, addr))
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The worker virtualenv's Python (installing it if needed), which has the official DBOS client.
pub fn python() -> BenchResult<PathBuf> {
    let out = std::process::Command::new("bash")
        .arg(root().join("scripts/setup-py-worker.sh"))
        .output()?;
    if !out.status.success() {
        return Err("scripts/setup-py-worker.sh failed".into());
    }
    Ok(PathBuf::from(
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .lines()
            .last()
            .unwrap_or_default(),
    ))
}

/// Milliseconds since the Unix epoch, as f64 (comparable across processes on this machine).
pub fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or_default()
}
