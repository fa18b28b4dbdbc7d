//! Real, unmodified DBOS workers for the interop tests, in both languages: the Python app
//! (tests/worker/py/app.py on dbos 3.4.0) and the TypeScript app (tests/worker/ts/app.mjs on
//! @dbos-inc/dbos-sdk 5.3.0). Both register the same workflows and queues, take the same
//! environment, and print the same ready line, so one `Worker` drives either.

use std::{
    path::PathBuf,
    process::Stdio,
    sync::OnceLock,
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

use super::repo_root;

/// The line both worker apps print on stdout once launched with their queues registered.
const READY_LINE: &str = "DBOSD-WORKER-READY";
/// Bound on a worker's launch (the first launch on a database also migrates it).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The language of a DBOS worker, and what differs between the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerLang {
    Python,
    TypeScript,
}

impl WorkerLang {
    /// Short name, used in executor ids and messages.
    pub fn label(self) -> &'static str {
        match self {
            WorkerLang::Python => "py",
            WorkerLang::TypeScript => "ts",
        }
    }

    /// Whether the worker passes a portable row's `namedArgs` to the workflow (TS reads positionalArgs only).
    pub fn reads_named_args(self) -> bool {
        self == WorkerLang::Python
    }

    /// The id of a workflow's first step (`function_id`): Python counts from 1, TypeScript from 0.
    pub fn first_step_id(self) -> i32 {
        match self {
            WorkerLang::Python => 1,
            WorkerLang::TypeScript => 0,
        }
    }

    /// The serialization the language's DBOS writes by default ("native"), which only it can read.
    pub fn native_serialization(self) -> &'static str {
        match self {
            WorkerLang::Python => "py_pickle",
            WorkerLang::TypeScript => "js_superjson",
        }
    }

    /// The worker's interpreter and app script (installing its dependencies on first use).
    fn program(self) -> (PathBuf, PathBuf) {
        match self {
            WorkerLang::Python => (
                setup_once(&PY_SETUP, "scripts/setup-py-worker.sh"),
                repo_root().join("tests/worker/py/app.py"),
            ),
            WorkerLang::TypeScript => (
                setup_once(&TS_SETUP, "scripts/setup-ts-worker.sh"),
                repo_root().join("tests/worker/ts/app.mjs"),
            ),
        }
    }
}

/// The outcome of a worker setup script: the interpreter's path, or why it failed.
type Setup = OnceLock<Result<PathBuf, String>>;

static PY_SETUP: Setup = OnceLock::new();
static TS_SETUP: Setup = OnceLock::new();
static PY_OTEL_SETUP: Setup = OnceLock::new();

/// Runs a worker setup script once per test process; it prints the interpreter's path last.
fn setup_once(cell: &'static Setup, script: &str) -> PathBuf {
    let result = cell.get_or_init(|| {
        let script = repo_root().join(script);
        let out = std::process::Command::new("bash")
            .arg(&script)
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("run {}: {e}", script.display()))?;
        if !out.status.success() {
            return Err(format!("{} failed", script.display()));
        }
        let path = String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or("")
            .trim()
            .to_owned();
        Ok(PathBuf::from(path))
    });
    match result {
        Ok(p) => p.clone(),
        Err(e) => panic!("DBOS worker unavailable: {e}"),
    }
}

/// Options for a worker (the apps' `WORKER_*` environment).
#[derive(Debug, Clone, Default)]
pub struct WorkerOptions {
    pub app_name: Option<String>,
    pub app_version: Option<String>,
    /// Extra queues, `name` or `name:concurrency`.
    pub queues: Vec<String>,
    pub no_default_queues: bool,
    /// `(prefix, value)`: the app starts `echo(value)` itself, as `<prefix>-native` (its language's
    /// default serialization) and `<prefix>-portable` (enqueued on test_queue, portable_json).
    pub self_start: Option<(String, serde_json::Value)>,
    /// An OTLP/HTTP traces URL: the (Python) worker runs with DBOS's tracing on and exports its
    /// spans there (from the dbos[otel] virtualenv, `scripts/setup-py-worker-otel.sh`).
    pub otlp_traces_endpoint: Option<String>,
}

/// A running DBOS worker; killed on drop, stopped gracefully (SIGTERM) by `stop`.
pub struct Worker {
    pub lang: WorkerLang,
    child: Child,
}

impl Worker {
    /// Starts a worker of `lang` on `db_url` and waits until it printed its ready line.
    pub async fn start(lang: WorkerLang, db_url: &str, opts: WorkerOptions) -> Worker {
        let (mut interpreter, app) = lang.program();
        if opts.otlp_traces_endpoint.is_some() {
            interpreter = setup_once(&PY_OTEL_SETUP, "scripts/setup-py-worker-otel.sh");
        }
        let mut cmd = Command::new(interpreter);
        cmd.arg(app)
            .env("DBOS_SYSTEM_DATABASE_URL", db_url)
            .env(
                "WORKER_EXECUTOR_ID",
                format!("{}-{}", lang.label(), uuid::Uuid::new_v4().simple()),
            )
            .env("WORKER_LOG_LEVEL", "WARNING")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        if let Some(app) = &opts.app_name {
            cmd.env("WORKER_APP_NAME", app);
        }
        if let Some(v) = &opts.app_version {
            cmd.env("WORKER_APP_VERSION", v);
        }
        if !opts.queues.is_empty() {
            cmd.env("WORKER_QUEUES", opts.queues.join(","));
        }
        if let Some(endpoint) = &opts.otlp_traces_endpoint {
            // Export each batch within 100 ms rather than OpenTelemetry's default 5 s.
            cmd.env("WORKER_OTLP_TRACES_ENDPOINT", endpoint)
                .env("OTEL_BSP_SCHEDULE_DELAY", "100");
        }
        if opts.no_default_queues {
            cmd.env("WORKER_NO_DEFAULT_QUEUES", "1");
        }
        if let Some((prefix, value)) = &opts.self_start {
            cmd.env("WORKER_SELF_START", prefix)
                .env("WORKER_SELF_START_VALUE", value.to_string());
        }
        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn the {lang:?} worker: {e}"));
        let stdout = child.stdout.take().expect("worker stdout");
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(START_TIMEOUT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.trim() == READY_LINE {
                    return true;
                }
                eprintln!("[{} worker] {line}", lang.label());
            }
            false
        })
        .await;
        assert!(
            matches!(ready, Ok(true)),
            "the {lang:?} worker did not become ready"
        );
        eprintln!(
            "[{} worker] ready in {} ms",
            lang.label(),
            started.elapsed().as_millis()
        );
        // Keep draining stdout so the worker never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Worker { lang, child }
    }

    /// Stops the worker (SIGTERM, then kill) and reaps it.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            // SAFETY: plain kill(2) on our own child's pid.
            unsafe { libc::kill(pid as i32, libc::SIGTERM) };
        }
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}
