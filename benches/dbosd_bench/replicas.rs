//! Three dbosd replicas on one database, as a deployment scales out: the aggregate enqueue rate
//! next to one replica and to raw SQL with as many callers (where they meet, PostgreSQL is the
//! limit, not dbosd), the connections the replicas hold, and how fast a result written once wakes
//! a wait on every replica.

use std::time::{Duration, Instant};

use dbosd::pb::{
    await_workflow_response::Kind, workflow_service_client::WorkflowServiceClient,
    AwaitWorkflowRequest,
};
use serde_json::json;
use tokio_stream::StreamExt;

use crate::{
    latency::{complete, insert_pending},
    setup::{channel_to, connect, now_ms, spawn_dbosd, BenchResult, Env},
    stats::{pcts, Row},
    throughput::{self, grpc_request},
};

/// Callers per replica.
const CALLERS: usize = 16;

async fn connections(db: &tokio_postgres::Client) -> BenchResult<i64> {
    let row = db
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .await?;
    Ok(row.get(0))
}

/// Enqueues per second with [`CALLERS`] callers on each of `addrs`, all at once.
async fn aggregate(addrs: &[String], window: Duration) -> BenchResult<f64> {
    let deadline = Instant::now() + window;
    let mut handles = Vec::new();
    for addr in addrs {
        let channel = channel_to(addr).await?;
        for _ in 0..CALLERS {
            let mut client = WorkflowServiceClient::new(channel.clone());
            handles.push(tokio::spawn(async move {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    client.enqueue_workflow(grpc_request()).await?;
                    n += 1;
                }
                BenchResult::Ok(n)
            }));
        }
    }
    let mut total = 0;
    for h in handles {
        total += h.await??;
    }
    Ok(total as f64 / window.as_secs_f64())
}

/// Commit-to-client latency of one result on a wait opened on every replica, per replica.
async fn wakes(env: &Env, addrs: &[String], samples: usize) -> BenchResult<Vec<Vec<f64>>> {
    let mut db = connect(&env.db_url).await?;
    let mut clients = Vec::new();
    for addr in addrs {
        clients.push(WorkflowServiceClient::new(channel_to(addr).await?));
    }
    let mut per_replica = vec![Vec::new(); addrs.len()];
    for i in 0..samples {
        let id = format!("replica-wake-{i}");
        insert_pending(&db, &id).await?;
        let mut streams = Vec::new();
        for client in &mut clients {
            let req = AwaitWorkflowRequest {
                workflow_id: id.clone(),
                ..Default::default()
            };
            let mut stream = client.await_workflow(req).await?.into_inner();
            stream.next().await.ok_or("no status")??; // registered and read the row
            streams.push(stream);
        }
        let committed = complete(&mut db, &id).await?;
        let waits = streams.into_iter().map(|mut stream| async move {
            loop {
                let msg = stream.next().await.ok_or("stream ended")??;
                if let Some(Kind::Outcome(_)) = msg.kind {
                    return BenchResult::Ok(now_ms());
                }
            }
        });
        for (r, got) in futures::future::join_all(waits)
            .await
            .into_iter()
            .enumerate()
        {
            per_replica[r].push(got? - committed);
        }
    }
    Ok(per_replica)
}

/// Runs the section: starts two more replicas next to the bench's dbosd.
pub async fn run(env: &Env, window: Duration, wake_samples: usize) -> BenchResult<Vec<Row>> {
    let db = connect(&env.db_url).await?;
    let one = aggregate(std::slice::from_ref(&env.addr), window).await?;
    let mut replicas = Vec::new();
    let mut addrs = vec![env.addr.clone()];
    for _ in 0..2 {
        let (child, addr, _) = spawn_dbosd(&env.db_url).await?;
        replicas.push(child);
        addrs.push(addr);
    }
    let three = aggregate(&addrs, window).await?;
    let held = connections(&db).await?;
    let raw = throughput::raw_sql(env, CALLERS * addrs.len(), window).await?;
    let wake = wakes(env, &addrs, wake_samples).await?;
    let n = addrs.len();
    let mut rows = vec![
        Row {
            section: "3 replicas",
            metric: format!(
                "EnqueueWorkflow, {CALLERS} callers per replica, {n} replicas (workflows/s)"
            ),
            dbosd: format!(
                "{three:.0}/s = {:.0}% of raw SQL, {:.2}x one replica",
                three / raw * 100.0,
                three / one
            ),
            baseline: format!(
                "one replica {one:.0}/s; raw SQL with {} callers {raw:.0}/s",
                CALLERS * n
            ),
            json: json!({"replicas": n, "aggregate_per_s": three, "one_replica_per_s": one, "raw_sql_per_s": raw}),
        },
        Row {
            section: "3 replicas",
            metric: "database connections held by the replicas, after load".into(),
            dbosd: format!("{held} ({:.0} per replica)", held as f64 / n as f64),
            baseline: "pool (--pool-size 32) + enqueue session + LISTEN + poller each, at most"
                .into(),
            json: json!({"connections": held, "per_replica": held as f64 / n as f64}),
        },
    ];
    for (r, samples) in wake.iter().enumerate() {
        let (text, j) = pcts(samples);
        rows.push(Row {
            section: "3 replicas",
            metric: format!(
                "result wake on replica {} of {n} (commit -> client), p50/p95/p99",
                r + 1
            ),
            dbosd: text,
            baseline: "every replica's LISTEN hears the one commit".into(),
            json: json!({"replica": r + 1, "wake": j}),
        });
    }
    for mut child in replicas {
        let _ = child.kill().await;
    }
    Ok(rows)
}
