//! Enqueue throughput at 1, 16 and 64 concurrent clients: the raw-SQL baseline (dbosd's enqueue
//! statement, prepared, one workflow per statement, each client on its own tokio-postgres
//! connection, no gRPC), dbosd's EnqueueWorkflow over gRPC, and the official Python DBOSClient;
//! plus dbosd's CPU per 1,000 enqueues.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use dbosd::{
    config::Settings,
    model::NewWorkflow,
    pb::{self, workflow_service_client::WorkflowServiceClient},
    repo::workflows::session::EnqueueSession,
    server,
};
use serde_json::json;
use tokio::process::Command;
use tonic::transport::Channel;

use crate::{
    setup::{python, root, BenchResult, Env},
    stats::Row,
};

/// Concurrent requests per HTTP/2 connection.
const TASKS_PER_CHANNEL: usize = 16;

/// The workflow every enqueue figure writes.
pub fn new_workflow() -> NewWorkflow {
    NewWorkflow {
        workflow_id: uuid::Uuid::new_v4().to_string(),
        name: "echo".into(),
        queue_name: "bench_q".into(),
        inputs: r#"{"positionalArgs":[1],"namedArgs":{}}"#.into(),
        serialization: Some(dbosd::model::PORTABLE_JSON.into()),
        ..NewWorkflow::default()
    }
}

/// [`new_workflow`] as an EnqueueWorkflow request.
pub fn grpc_request() -> pb::EnqueueWorkflowRequest {
    pb::EnqueueWorkflowRequest {
        workflow_name: "echo".into(),
        queue_name: "bench_q".into(),
        positional_args: vec![dbosd::api::convert::json::from_json(&json!(1))],
        ..Default::default()
    }
}

/// Enqueues per second with dbosd's enqueue statement sent directly, one workflow per statement,
/// by `tasks` concurrent callers, each on its own connection with the statement prepared.
pub async fn raw_sql(env: &Env, tasks: usize, window: Duration) -> BenchResult<f64> {
    let repo = server::prepare(&Settings::new(env.db_url.clone())).await?;
    let count = Arc::new(AtomicU64::new(0));
    let mut sessions = Vec::new();
    for _ in 0..tasks {
        sessions.push(EnqueueSession::open(&repo).await?);
    }
    let deadline = Instant::now() + window;
    let mut handles = Vec::new();
    for session in sessions {
        let (repo, count) = (repo.clone(), count.clone());
        handles.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let wf = new_workflow();
                let mut done = repo
                    .enqueue_each(std::slice::from_ref(&wf), Some(&session))
                    .await;
                done.pop().ok_or("no outcome")??;
                count.fetch_add(1, Ordering::Relaxed);
            }
            BenchResult::Ok(())
        }));
    }
    for h in handles {
        h.await??;
    }
    Ok(count.load(Ordering::Relaxed) as f64 / window.as_secs_f64())
}

/// Workflows per second with dbosd's enqueue statement carrying `size` workflows, sent directly by 4
/// callers on prepared sessions: the ceiling EnqueueWorkflows batches are compared with.
pub async fn raw_batch(env: &Env, size: usize, window: Duration) -> BenchResult<f64> {
    let repo = server::prepare(&Settings::new(env.db_url.clone())).await?;
    let count = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + window;
    let mut handles = Vec::new();
    for _ in 0..4 {
        let session = EnqueueSession::open(&repo).await?;
        let (repo, count) = (repo.clone(), count.clone());
        handles.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let wfs: Vec<NewWorkflow> = (0..size).map(|_| new_workflow()).collect();
                for done in repo.enqueue_each(&wfs, Some(&session)).await {
                    done?;
                }
                count.fetch_add(size as u64, Ordering::Relaxed);
            }
            BenchResult::Ok(())
        }));
    }
    for h in handles {
        h.await??;
    }
    Ok(count.load(Ordering::Relaxed) as f64 / window.as_secs_f64())
}

/// Enqueues per second through dbosd's gRPC API, with `tasks` concurrent callers.
pub async fn grpc(env: &Env, tasks: usize, window: Duration) -> BenchResult<f64> {
    let mut clients: Vec<WorkflowServiceClient<Channel>> = Vec::new();
    for _ in 0..tasks.div_ceil(TASKS_PER_CHANNEL) {
        clients.push(env.channel().await?);
    }
    let count = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + window;
    let mut handles = Vec::new();
    for i in 0..tasks {
        let mut client = clients[i / TASKS_PER_CHANNEL].clone();
        let count = count.clone();
        handles.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                client.enqueue_workflow(grpc_request()).await?;
                count.fetch_add(1, Ordering::Relaxed);
            }
            BenchResult::Ok(())
        }));
    }
    for h in handles {
        h.await??;
    }
    Ok(count.load(Ordering::Relaxed) as f64 / window.as_secs_f64())
}

/// Enqueues per second through the official Python client (threads in one process).
async fn python_client(env: &Env, threads: usize, window: Duration) -> BenchResult<f64> {
    let out = Command::new(python()?)
        .arg(root().join("benches/dbosd_bench/py_enqueue.py"))
        .args([
            &env.db_url,
            &threads.to_string(),
            &window.as_secs_f64().to_string(),
        ])
        .output()
        .await?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut words = text.split_whitespace();
    let mut field = |name: &str| -> Option<f64> {
        words.find(|w| *w == name)?;
        words.next()?.parse().ok()
    };
    let (Some(count), Some(seconds)) = (field("COUNT"), field("SECONDS")) else {
        return Err(format!(
            "py_enqueue.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    };
    Ok(count / seconds)
}

/// Workflows per second through EnqueueWorkflows with batches of `size`, from 4 concurrent callers.
pub async fn batch(env: &Env, size: usize, window: Duration) -> BenchResult<f64> {
    let count = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + window;
    let mut handles = Vec::new();
    for _ in 0..4 {
        let mut client = env.channel().await?;
        let count = count.clone();
        handles.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let workflows = (0..size).map(|_| grpc_request()).collect();
                client
                    .enqueue_workflows(pb::EnqueueWorkflowsRequest { workflows })
                    .await?;
                count.fetch_add(size as u64, Ordering::Relaxed);
            }
            BenchResult::Ok(())
        }));
    }
    for h in handles {
        h.await??;
    }
    Ok(count.load(Ordering::Relaxed) as f64 / window.as_secs_f64())
}

/// Only load: `clients` gRPC clients enqueueing for 10 s, printing dbosd's pid first (for a profiler).
pub async fn load_only(env: &Env, clients: usize) -> BenchResult<()> {
    println!("dbosd pid {}", env.dbosd.id().unwrap_or_default());
    let rate = grpc(env, clients, Duration::from_secs(10)).await?;
    println!("{rate:.0} enqueues/s");
    Ok(())
}

/// Alternating rounds per figure: raw, dbosd, raw, dbosd, ... so both see the same table size and the
/// same neighbours on the shared cores, and the median round stands for the figure. One long window
/// each moved the 16-client ratio by +-30% between runs; the rounds print their own spread.
const ROUNDS: usize = 3;

/// Medians of (raw, dbosd) rates and of the per-round ratios, and the ratios as "a / b / c%".
fn medians(pairs: &[(f64, f64)]) -> (f64, f64, f64, String) {
    let median = |v: Vec<f64>| crate::stats::percentile(&v, 50.0);
    let ratios: Vec<f64> = pairs.iter().map(|(raw, d)| d / raw).collect();
    let spread = ratios
        .iter()
        .map(|r| format!("{:.0}", r * 100.0))
        .collect::<Vec<_>>()
        .join(" / ");
    (
        median(pairs.iter().map(|p| p.0).collect()),
        median(pairs.iter().map(|p| p.1).collect()),
        median(ratios),
        spread,
    )
}

/// Runs the section.
pub async fn run(env: &Env, window: Duration) -> BenchResult<Vec<Row>> {
    let mut rows = Vec::new();
    let round = window * 3 / 5;
    for tasks in [1usize, 16, 64] {
        let (mut pairs, mut cpu_ms, mut enqueued) = (Vec::new(), 0.0, 0.0);
        for _ in 0..ROUNDS {
            let raw = raw_sql(env, tasks, round).await?;
            let cpu_before = env.dbosd_cpu_ms();
            let started = Instant::now();
            let dbosd = grpc(env, tasks, round).await?;
            enqueued += dbosd * started.elapsed().as_secs_f64().min(round.as_secs_f64());
            cpu_ms += env.dbosd_cpu_ms() - cpu_before;
            pairs.push((raw, dbosd));
        }
        let (raw, dbosd, ratio, spread) = medians(&pairs);
        let cpu_per_1000 = cpu_ms / enqueued * 1000.0;
        let py = python_client(env, tasks, window).await?;
        rows.push(Row {
            section: "enqueue",
            metric: format!("EnqueueWorkflow, {tasks} concurrent clients (workflows/s)"),
            dbosd: format!(
                "{dbosd:.0}/s = {:.0}% of raw SQL ({spread}% in {ROUNDS} alternating rounds), {:.1}x Python",
                ratio * 100.0,
                dbosd / py
            ),
            baseline: format!("raw SQL {raw:.0}/s; Python DBOSClient {py:.0}/s"),
            json: json!({"clients": tasks, "dbosd_per_s": dbosd, "raw_sql_per_s": raw, "python_per_s": py,
                         "ratio_to_raw": ratio, "rounds": pairs, "ratio_to_python": dbosd / py}),
        });
        if tasks != 16 {
            rows.push(Row {
                section: "enqueue",
                metric: format!("dbosd CPU per 1,000 enqueues, {tasks} clients"),
                dbosd: format!("{cpu_per_1000:.0} ms"),
                baseline: "should not grow with load".into(),
                json: json!({"clients": tasks, "cpu_ms_per_1000": cpu_per_1000}),
            });
        }
    }
    for size in [10usize, 100, 1000] {
        let mut pairs = Vec::new();
        for _ in 0..ROUNDS {
            let rate = batch(env, size, round).await?;
            let raw = raw_batch(env, size, round).await?;
            pairs.push((raw, rate));
        }
        let (raw, rate, ratio, spread) = medians(&pairs);
        let target = match size {
            10 => "target >= 30,000/s",
            1000 => "target >= 80% of raw",
            _ => "",
        };
        rows.push(Row {
            section: "batch enqueue",
            metric: format!("EnqueueWorkflows, batches of {size}, 4 callers (workflows/s)"),
            dbosd: format!(
                "{rate:.0}/s = {:.0}% of raw SQL ({spread}% in {ROUNDS} alternating rounds)",
                ratio * 100.0
            ),
            baseline: format!("raw multi-row statement {raw:.0}/s; {target}"),
            json: json!({"batch": size, "workflows_per_s": rate, "raw_sql_per_s": raw,
                         "ratio_to_raw": ratio, "rounds": pairs}),
        });
    }
    Ok(rows)
}
