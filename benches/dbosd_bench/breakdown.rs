//! Where one caller's EnqueueWorkflow time goes. One caller makes its calls one after another
//! through successively more of the path, so each stage's cost is the difference between two
//! measured means:
//!
//! 1. PostgreSQL: dbosd's enqueue statement on a prepared session, from this process (raw SQL);
//! 2. + the coalescer: the same statement through `EnqueueCoalescer` (the slot task hop);
//! 3. the gRPC hop alone: a health Check over the same kind of channel (no database);
//! 4. dbosd as the client sees it: EnqueueWorkflow over gRPC;
//! 5. dbosd as its own metrics see it: the mean of `grpc_server_handling_seconds` over the calls of 4.
//!
//! gRPC transport (client + HTTP/2 both ways) = 4 - 5; dbosd's layers and handler = 5 - 2;
//! the coalescer = 2 - 1; PostgreSQL = 1.

use std::time::Instant;

use dbosd::{
    config::Settings,
    pb::{self},
    repo::workflows::{coalescer::EnqueueCoalescer, session::EnqueueSession},
    server,
};
use serde_json::json;
use tonic_health::pb::{health_client::HealthClient, HealthCheckRequest};

use crate::{
    scale::Scale,
    setup::{BenchResult, Env},
    stats::{percentile, Row},
    throughput::new_workflow,
};

/// Mean and p50 in microseconds of `calls` sequential runs of `call`.
async fn timed<F, Fut>(calls: usize, mut call: F) -> BenchResult<(f64, f64)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = BenchResult<()>>,
{
    // Warm up connections, prepared statements and caches first.
    for _ in 0..(calls / 10).max(20) {
        call().await?;
    }
    let mut samples = Vec::with_capacity(calls);
    for _ in 0..calls {
        let started = Instant::now();
        call().await?;
        samples.push(started.elapsed().as_secs_f64() * 1e6);
    }
    let mean = samples.iter().sum::<f64>() / samples.len() as f64;
    Ok((mean, percentile(&samples, 50.0)))
}

/// Stages 1 and 2, on a one-thread runtime of their own as dbosd runs (`--worker-threads 1`), so
/// the coalescer's hop is a same-thread task switch here as it is there.
fn in_process(db_url: String, calls: usize) -> BenchResult<((f64, f64), (f64, f64))> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(in_process_stages(db_url, calls))
}

async fn in_process_stages(db_url: String, calls: usize) -> BenchResult<((f64, f64), (f64, f64))> {
    let repo = server::prepare(&Settings::new(db_url)).await?;

    let session = EnqueueSession::open(&repo).await?;
    let raw = timed(calls, || {
        let (repo, session) = (&repo, &session);
        async move {
            let wf = new_workflow();
            let mut done = repo
                .enqueue_each(std::slice::from_ref(&wf), Some(session))
                .await;
            done.pop().ok_or("no outcome")??;
            Ok(())
        }
    })
    .await?;

    let coalescer = EnqueueCoalescer::start(repo.clone(), 1);
    let coalesced = timed(calls, || {
        let coalescer = &coalescer;
        async move {
            coalescer.enqueue(new_workflow()).await?;
            Ok(())
        }
    })
    .await?;
    Ok((raw, coalesced))
}

/// Runs the section.
pub async fn run(env: &Env, scale: Scale) -> BenchResult<Vec<Row>> {
    let calls = scale.breakdown_calls;
    let db_url = env.db_url.clone();
    let (raw, coalesced) = std::thread::spawn(move || in_process(db_url, calls))
        .join()
        .map_err(|_| "the in-process stages panicked")??;

    let channel = env.raw_channel().await?;
    let mut health = HealthClient::new(channel.clone());
    let hop = timed(calls, || {
        let mut health = health.clone();
        async move {
            health
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await?;
            Ok(())
        }
    })
    .await?;
    health.check(HealthCheckRequest::default()).await?;

    let client = pb::workflow_service_client::WorkflowServiceClient::new(channel);
    let before = env.server_seconds("EnqueueWorkflow").await?;
    let grpc = timed(calls, || {
        let mut client = client.clone();
        async move {
            client
                .enqueue_workflow(crate::throughput::grpc_request())
                .await?;
            Ok(())
        }
    })
    .await?;
    let after = env.server_seconds("EnqueueWorkflow").await?;
    let server_us = (after.0 - before.0) / (after.1 - before.1) * 1e6;

    let stages = [
        ("PostgreSQL: the enqueue statement, prepared session", raw.0),
        ("the coalescer's slot hop", coalesced.0 - raw.0),
        (
            "dbosd's layers and handler (auth, telemetry, convert, deadline)",
            server_us - coalesced.0,
        ),
        (
            "gRPC transport both ways (client + HTTP/2)",
            grpc.0 - server_us,
        ),
    ];
    let mut rows: Vec<Row> = stages
        .iter()
        .map(|(stage, us)| Row {
            section: "1-caller breakdown",
            metric: format!("{stage} (mean µs)"),
            dbosd: format!("{us:.0} µs = {:.0}% of the call", us / grpc.0 * 100.0),
            baseline: String::new(),
            json: json!({"stage": stage, "mean_us": us, "share": us / grpc.0}),
        })
        .collect();
    // No gRPC server can answer faster than its no-op: raw SQL's round trip plus that hop is the
    // floor of a call that writes, whatever dbosd does between them.
    let ceiling = raw.0 / (raw.0 + hop.0);
    rows.push(Row {
        section: "1-caller breakdown",
        metric: "best ratio any gRPC server can reach: raw SQL / (raw SQL + gRPC no-op)".into(),
        dbosd: format!("{:.0}% of raw SQL's rate", ceiling * 100.0),
        baseline: match ceiling < 0.75 {
            true => format!(
                "target >= 75%: out of reach here, a gRPC no-op ({:.0} µs) costs more than a third of the statement ({:.0} µs)",
                hop.0, raw.0
            ),
            false => "target >= 75%".into(),
        },
        json: json!({"ceiling_ratio": ceiling, "noop_grpc_mean_us": hop.0, "raw_mean_us": raw.0}),
    });
    rows.push(Row {
        section: "1-caller breakdown",
        metric: "EnqueueWorkflow as the caller sees it (mean / p50 µs)".into(),
        dbosd: format!("{:.0} / {:.0} µs = {:.0}% of raw SQL's rate", grpc.0, grpc.1, raw.0 / grpc.0 * 100.0),
        baseline: format!(
            "raw SQL {:.0} / {:.0} µs; gRPC no-op (health Check) {:.0} / {:.0} µs; target >= 75%",
            raw.0, raw.1, hop.0, hop.1
        ),
        json: json!({"grpc_mean_us": grpc.0, "grpc_p50_us": grpc.1, "raw_mean_us": raw.0, "raw_p50_us": raw.1,
                     "coalesced_mean_us": coalesced.0, "server_mean_us": server_us,
                     "noop_grpc_mean_us": hop.0, "noop_grpc_p50_us": hop.1, "ratio_to_raw": raw.0 / grpc.0}),
    });
    Ok(rows)
}
