//! Test harness: one PostgreSQL cluster per test run, one database per test (cloned from a migrated
//! template), dbosd in-process on 127.0.0.1:0 with a real tonic client (or the real binary, in
//! `process`), and real DBOS workers (Python and TypeScript, in `worker`).

#![allow(dead_code)]

mod as_worker;
mod clients;
mod in_flight;
mod pgbouncer;
mod process;
mod restartable;
mod test_server;
mod worker;

pub use as_worker::{finish_as_worker, set_event_as_worker};
pub use clients::{assert_success, clients_bin, clients_path, ensure_clients, run_bounded};
pub use in_flight::{
    get_event_in_flight, lock_notifications, open_await, outcome_of, send_in_flight, watching,
};
pub use pgbouncer::Pgbouncer;
pub use process::Dbosd;
pub use restartable::RestartableDb;
pub use test_server::TestServer;
pub use worker::{Worker, WorkerLang, WorkerOptions};

/// Runs each named `async fn(WorkerLang)` against a real worker of every language: it expands to a
/// module of the same name holding one `#[tokio::test]` per language, `<name>::python` and
/// `<name>::typescript` (so `cargo test typescript` runs the TypeScript half).
macro_rules! on_both_workers {
    ($($test:ident),+ $(,)?) => {$(
        mod $test {
            #[tokio::test]
            async fn python() {
                super::$test(crate::harness::WorkerLang::Python).await
            }

            #[tokio::test]
            async fn typescript() {
                super::$test(crate::harness::WorkerLang::TypeScript).await
            }
        }
    )+};
}

use std::{
    future::Future,
    path::{Path, PathBuf},
    sync::{mpsc as std_mpsc, OnceLock},
    time::Duration,
};

use dbosd::{
    pb::workflow_service_client::WorkflowServiceClient, pgcluster::PgCluster, repo::db::migrate,
};

use tonic::transport::Channel;

/// Every await on a stream or a wait in tests goes through a bound like this, so a hang fails fast.
pub const WAIT: Duration = Duration::from_secs(30);

const TEMPLATE_DB: &str = "dbosd_template";

/// The admin URL of the cluster for this test run, and the URL of the migrated template.
struct Cluster {
    /// A URL whose database part is replaced per test.
    admin_url: String,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
static CLUSTER_ROOT: OnceLock<PathBuf> = OnceLock::new();

extern "C" fn remove_cluster_files() {
    if let Some(root) = CLUSTER_ROOT.get() {
        let _ = std::fs::remove_dir_all(root);
    }
}

/// Starts (once) the cluster in a thread that owns it for the life of the test process.
fn cluster() -> &'static Cluster {
    let cluster = CLUSTER.get_or_init(|| {
        if let Ok(url) = std::env::var("DBOS_TEST_DATABASE_URL") {
            return prepare_template(&url).map(|()| Cluster { admin_url: url });
        }
        let (tx, rx) = std_mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let Ok(rt) = rt else {
                let _ = tx.send(Err("cannot build a runtime".to_owned()));
                return;
            };
            rt.block_on(async move {
                match PgCluster::start_temp().await {
                    Ok(pg) => {
                        let url = pg.url("postgres");
                        // The postmaster dies with this thread (PR_SET_PDEATHSIG); remove its files at exit.
                        if let Some(root) = pg.data_dir().parent() {
                            let _ = CLUSTER_ROOT.set(root.to_path_buf());
                            // SAFETY: registering a plain extern "C" fn with atexit(3).
                            unsafe { libc::atexit(remove_cluster_files) };
                        }
                        let _ = tx.send(Ok(url));
                        // Keep the cluster (and this runtime, which reaps it) alive until the process exits.
                        std::future::pending::<()>().await;
                        drop(pg);
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e.to_string()));
                    }
                }
            });
        });
        let url = rx.recv().map_err(|e| e.to_string()).and_then(|r| r)?;
        prepare_template(&url)?;
        Ok(Cluster { admin_url: url })
    });
    match cluster {
        Ok(c) => c,
        Err(e) => panic!("test PostgreSQL unavailable: {e}"),
    }
}

/// Creates the template database with dbosd's migration (once per run; other test processes may race).
fn prepare_template(admin_url: &str) -> Result<(), String> {
    let admin_url = admin_url.to_owned();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async move {
            let admin = connect(&admin_url).await?;
            let _ = admin
                .execute(
                    &format!("DROP DATABASE IF EXISTS {TEMPLATE_DB} WITH (FORCE)"),
                    &[],
                )
                .await;
            admin
                .execute(&format!("CREATE DATABASE {TEMPLATE_DB}"), &[])
                .await
                .map_err(|e| format!("create template: {e}"))?;
            let mut client = connect(&with_db(&admin_url, TEMPLATE_DB)).await?;
            migrate::migrate(&mut client, "dbos")
                .await
                .map_err(|e| format!("migrate template: {e}"))?;
            Ok(())
        })
    })
    .join()
    .map_err(|_| "template thread panicked".to_owned())?
}

/// Connects and drives the connection in the background.
pub async fn connect(url: &str) -> Result<tokio_postgres::Client, String> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(|e| format!("connect {url}: {e}"))?;
    tokio::spawn(connection);
    Ok(client)
}

/// `url` with its database replaced by `db`.
pub fn with_db(url: &str, db: &str) -> String {
    match url.rsplit_once('/') {
        Some((base, tail)) => {
            let query = tail
                .split_once('?')
                .map(|(_, q)| format!("?{q}"))
                .unwrap_or_default();
            format!("{base}/{db}{query}")
        }
        None => format!("{url}/{db}"),
    }
}

/// A database of its own for one test; dropped (WITH FORCE) when this value is dropped.
pub struct TestDb {
    pub name: String,
    pub url: String,
    admin_url: String,
    /// Whether dropping this value drops the database (a [`TestDb::share`] does not).
    owned: bool,
}

impl TestDb {
    /// A fresh database with the DBOS schema (a copy of the migrated template).
    pub async fn new() -> TestDb {
        Self::create(Some(TEMPLATE_DB)).await
    }

    /// A database outside the shared cluster (e.g. on a private cluster a test stops and restarts);
    /// left alone on drop.
    pub fn external(url: &str, name: &str) -> TestDb {
        TestDb {
            name: name.to_owned(),
            url: url.to_owned(),
            admin_url: String::new(),
            owned: false,
        }
    }

    /// A fresh, empty database (no DBOS schema).
    pub async fn empty() -> TestDb {
        Self::create(None).await
    }

    async fn create(template: Option<&str>) -> TestDb {
        let admin_url = cluster().admin_url.clone();
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let admin = connect(&admin_url).await.expect("admin connection");
        let sql = match template {
            Some(t) => format!("CREATE DATABASE {name} TEMPLATE {t}"),
            None => format!("CREATE DATABASE {name}"),
        };
        admin
            .execute(&sql, &[])
            .await
            .expect("create test database");
        TestDb {
            url: with_db(&admin_url, &name),
            name,
            admin_url,
            owned: true,
        }
    }

    /// The same database for a second server; the original still drops it.
    pub fn share(&self) -> TestDb {
        TestDb {
            name: self.name.clone(),
            url: self.url.clone(),
            admin_url: self.admin_url.clone(),
            owned: false,
        }
    }

    /// A client on this database.
    pub async fn client(&self) -> tokio_postgres::Client {
        connect(&self.url).await.expect("test database connection")
    }

    /// The single bigint a query returns (e.g. `SELECT count(*) ...`).
    pub async fn count(&self, sql: &str) -> i64 {
        let row = self.client().await.query_one(sql, &[]).await;
        row.unwrap_or_else(|e| panic!("{sql}: {e}")).get(0)
    }

    /// The first column of every row a query returns, as text (e.g. `SELECT workflow_uuid ...`).
    pub async fn texts(&self, sql: &str) -> Vec<String> {
        let rows = self.client().await.query(sql, &[]).await;
        let rows = rows.unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.iter().map(|r| r.get(0)).collect()
    }

    /// The ids of every workflow, in id order.
    pub async fn workflow_ids(&self) -> Vec<String> {
        self.texts("SELECT workflow_uuid FROM dbos.workflow_status ORDER BY workflow_uuid")
            .await
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs outside async context guarantees; use a short-lived thread and runtime.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(admin) = connect(&admin_url).await {
                    let _ = admin
                        .execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"), &[])
                        .await;
                }
            });
        })
        .join();
    }
}

/// The value of the metrics sample whose line starts with `prefix` (name and labels).
pub fn telemetry_sample(scrape: &str, prefix: &str) -> Option<f64> {
    scrape
        .lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// A gRPC channel to dbosd at `addr`.
pub async fn connect_channel(addr: std::net::SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect to dbosd")
}

/// Polls `check` until it returns Some, failing the test after `WAIT`.
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    eventually_explained(what, String::new, check).await
}

/// [`eventually`], with `explain()` (say, a process's log) in the failure's message.
pub async fn eventually_explained<T, F, Fut>(
    what: &str,
    explain: impl Fn() -> String,
    mut check: F,
) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}{}",
            explain()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The health status dbosd reports for its API service on `channel` (None: no answer).
pub async fn health_status(
    channel: &Channel,
) -> Option<tonic_health::pb::health_check_response::ServingStatus> {
    let mut client = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let req = tonic_health::pb::HealthCheckRequest {
        service: "dbosd.v1.WorkflowService".into(),
    };
    let resp = client.check(req).await.ok()?;
    Some(resp.into_inner().status())
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Inserts a queue row directly (the queue registry RPCs come later); workers re-list queues every second.
pub async fn register_queue(db: &TestDb, name: &str, concurrency: Option<i32>) {
    let client = db.client().await;
    client
        .execute(
            "INSERT INTO dbos.queues (name, concurrency, polling_interval_sec, priority_enabled) \
             VALUES ($1, $2, 0.1, TRUE) ON CONFLICT (name) DO UPDATE SET concurrency = EXCLUDED.concurrency",
            &[&name, &concurrency],
        )
        .await
        .expect("insert queue");
}

/// The path of a file in the repository.
pub fn repo_file(rel: &str) -> PathBuf {
    repo_root().join(Path::new(rel))
}

/// A protobuf Value from JSON.
pub fn pv(json: serde_json::Value) -> prost_types::Value {
    dbosd::api::convert::json::from_json(&json)
}

/// A minimal EnqueueWorkflow request with positional arguments.
pub fn enqueue_req(
    workflow: &str,
    queue: &str,
    args: Vec<serde_json::Value>,
) -> dbosd::pb::EnqueueWorkflowRequest {
    dbosd::pb::EnqueueWorkflowRequest {
        workflow_name: workflow.to_owned(),
        queue_name: queue.to_owned(),
        positional_args: args.into_iter().map(pv).collect(),
        ..Default::default()
    }
}

/// A ListWorkflows request for the workflows matching `filter` (first page, default paging).
pub fn list_req(filter: dbosd::pb::WorkflowFilter) -> dbosd::pb::ListWorkflowsRequest {
    dbosd::pb::ListWorkflowsRequest {
        filter: Some(filter),
        ..Default::default()
    }
}

/// Reads a workflow through dbosd.
pub async fn get_workflow(
    client: &mut WorkflowServiceClient<Channel>,
    id: &str,
) -> dbosd::pb::WorkflowInfo {
    client
        .get_workflow(dbosd::pb::GetWorkflowRequest {
            workflow_id: id.to_owned(),
            ..Default::default()
        })
        .await
        .expect("GetWorkflow")
        .into_inner()
        .workflow
        .expect("workflow")
}

/// Waits (bounded) until the workflow reaches a terminal status, and returns it.
pub async fn wait_terminal(
    client: &WorkflowServiceClient<Channel>,
    id: &str,
) -> dbosd::pb::WorkflowInfo {
    use dbosd::pb::WorkflowStatus as S;
    eventually(&format!("workflow {id} to finish"), || {
        let mut client = client.clone();
        let id = id.to_owned();
        async move {
            let wf = get_workflow(&mut client, &id).await;
            let done = matches!(
                wf.status(),
                S::Success | S::Error | S::Cancelled | S::MaxRecoveryAttemptsExceeded
            );
            done.then_some(wf)
        }
    })
    .await
}

/// The decoded JSON of a payload (portable_json only).
pub fn payload_json(p: &Option<dbosd::pb::Payload>) -> serde_json::Value {
    let p = p.as_ref().expect("payload present");
    assert_eq!(p.serialization, "portable_json", "payload {p:?}");
    serde_json::from_str(&p.text).expect("payload text is JSON")
}

/// Asserts a gRPC error's code and that its message mentions `needle`.
pub fn assert_status(
    result: Result<impl std::fmt::Debug, tonic::Status>,
    code: tonic::Code,
    needle: &str,
) {
    match result {
        Ok(v) => panic!("expected {code:?} mentioning {needle:?}, got OK {v:?}"),
        Err(status) => {
            assert_eq!(status.code(), code, "status {status:?}");
            assert!(
                status.message().contains(needle),
                "message {:?} should mention {needle:?}",
                status.message()
            );
        }
    }
}
