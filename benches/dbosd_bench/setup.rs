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
    /// dbosd's Prometheus endpoint.
    pub metrics_addr: String,
}

/// How the bench's PostgreSQL keeps commits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Disk {
    /// fsync, full_page_writes and synchronous_commit off: what the tests run; dbosd's own costs show.
    Fast,
    /// All three on: what production runs; every commit waits for its WAL flush.
    Durable,
}

impl Env {
    /// Starts PostgreSQL, creates and migrates the bench database, starts dbosd on it.
    pub async fn start(disk: Disk) -> BenchResult<Env> {
        let cluster = match disk {
            Disk::Fast => PgCluster::start_temp().await?,
            Disk::Durable => PgCluster::start_temp_with(DURABLE).await?,
        };
        let admin = connect(&cluster.url("postgres")).await?;
        admin.batch_execute("CREATE DATABASE bench").await?;
        let db_url = cluster.url("bench");
        let mut client = connect(&db_url).await?;
        migrate::migrate(&mut client, "dbos").await?;
        let (dbosd, addr, metrics_addr) = spawn_dbosd(&db_url).await?;
        Ok(Env {
            cluster,
            db_url,
            dbosd,
            addr,
            metrics_addr,
        })
    }

    /// A new gRPC channel to dbosd (each is its own HTTP/2 connection).
    pub async fn channel(&self) -> BenchResult<WorkflowServiceClient<Channel>> {
        Ok(WorkflowServiceClient::new(self.raw_channel().await?))
    }

    /// A new HTTP/2 connection to dbosd, for any of its services.
    pub async fn raw_channel(&self) -> BenchResult<Channel> {
        channel_to(&self.addr).await
    }

    /// The sum of every sample of metric `name` (all label sets) whose labels contain `label`.
    pub async fn metric(&self, name: &str, label: &str) -> BenchResult<f64> {
        let text = scrape(&self.metrics_addr).await?;
        Ok(text
            .lines()
            .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
            .filter(|l| l.contains(label))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum())
    }

    /// (sum of seconds, count) of dbosd's `grpc_server_handling_seconds` for `method`, all codes.
    pub async fn server_seconds(&self, method: &str) -> BenchResult<(f64, f64)> {
        let name = "dbosd_grpc_server_handling_seconds";
        let label = format!("grpc_method=\"{method}\"");
        Ok((
            self.metric(&format!("{name}_sum"), &label).await?,
            self.metric(&format!("{name}_count"), &label).await?,
        ))
    }

    /// dbosd's CPU time in milliseconds so far (user + system), from /proc.
    pub fn dbosd_cpu_ms(&self) -> f64 {
        let Some(pid) = self.dbosd.id() else {
            return f64::NAN;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return f64::NAN;
        };
        // Fields after the parenthesised command name; utime and stime are the 14th and 15th fields.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(f64::NAN)
        };
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        (ticks(11) + ticks(12)) * 1000.0 / hz
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

/// PostgreSQL settings of [`Disk::Durable`] (given after, so they win over, the test defaults).
const DURABLE: &[&str] = &[
    "-c",
    "fsync=on",
    "-c",
    "full_page_writes=on",
    "-c",
    "synchronous_commit=on",
];

/// `GET /metrics` over plain HTTP/1.0 (the bench needs no HTTP client for one scrape).
async fn scrape(addr: &str) -> BenchResult<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(addr).await?;
    conn.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").await?;
    let mut body = String::new();
    conn.read_to_string(&mut body).await?;
    Ok(body)
}

/// A new HTTP/2 connection to the dbosd at `addr`.
pub async fn channel_to(addr: &str) -> BenchResult<Channel> {
    Ok(Channel::from_shared(format!("http://{addr}"))?
        .connect()
        .await?)
}

/// Connects and drives the connection in the background.
pub async fn connect(url: &str) -> BenchResult<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// Starts a dbosd on `db_url`; returns it, its gRPC address and its metrics address.
pub async fn spawn_dbosd(db_url: &str) -> BenchResult<(Child, String, String)> {
    spawn_dbosd_with(db_url, &[]).await
}

/// [`spawn_dbosd`] with `extra` flags (the fleet section's `--config`).
pub async fn spawn_dbosd_with(
    db_url: &str,
    extra: &[&str],
) -> BenchResult<(Child, String, String)> {
    let metrics_addr = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_dbosd"))
        .args([
            "--database-url",
            db_url,
            "--listen",
            "127.0.0.1:0",
            "--pool-size",
            "32",
            "--metrics-listen",
            &metrics_addr,
            // Room for the idle section's 100,000 streams (and their hub keys).
            "--max-streams",
            "120000",
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
    Ok((child, addr, metrics_addr))
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
