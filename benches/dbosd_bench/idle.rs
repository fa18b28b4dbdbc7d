//! The cost of many idle waiting streams: dbosd's memory and the database load its hub causes.

use std::time::Duration;

use dbosd::pb::AwaitWorkflowRequest;
use serde_json::json;
use tokio_stream::StreamExt;

use crate::{
    setup::{connect, BenchResult, Env},
    stats::Row,
};

/// Streams per HTTP/2 connection (servers cap concurrent streams per connection).
const STREAMS_PER_CHANNEL: usize = 150;

async fn db_transactions(db: &tokio_postgres::Client) -> BenchResult<i64> {
    let row = db
        .query_one("SELECT (xact_commit + xact_rollback)::bigint FROM pg_stat_database WHERE datname = current_database()", &[])
        .await?;
    Ok(row.get(0))
}

/// Opens `count` AwaitWorkflow streams on running workflows and measures RSS and database load.
pub async fn run(env: &Env, count: usize) -> BenchResult<Vec<Row>> {
    let db = connect(&env.db_url).await?;
    db.execute(
        "INSERT INTO dbos.workflow_status (workflow_uuid, status, name, queue_name, serialization) \
         SELECT 'idle-' || g, 'PENDING', 'echo', 'q', 'portable_json' FROM generate_series(1, $1::int) g",
        &[&(count as i32)],
    )
    .await?;
    let rss_before = env.dbosd_rss_kib();
    // One task per connection opens its share of the streams, each confirmed by its first message.
    let mut tasks = Vec::new();
    for first in (0..count).step_by(STREAMS_PER_CHANNEL) {
        let mut client = env.channel().await?;
        let last = (first + STREAMS_PER_CHANNEL).min(count);
        tasks.push(tokio::spawn(async move {
            let mut streams = Vec::new();
            for i in first..last {
                let req = AwaitWorkflowRequest {
                    workflow_id: format!("idle-{}", i + 1),
                    timeout: None,
                    ..Default::default()
                };
                let mut stream = client.await_workflow(req).await?.into_inner();
                stream.next().await.ok_or("no status")??;
                streams.push(stream);
            }
            BenchResult::Ok((client, streams))
        }));
    }
    let mut streams = Vec::with_capacity(tasks.len());
    for task in tasks {
        streams.push(task.await??);
    }
    // Let the hub settle, then measure over a fixed window.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let window = Duration::from_secs(5);
    let before = db_transactions(&db).await?;
    tokio::time::sleep(window).await;
    let after = db_transactions(&db).await?;
    let rss = env.dbosd_rss_kib();
    // Our own two sampling queries are in the count.
    let per_second = (after - before - 2) as f64 / window.as_secs_f64();
    drop(streams);
    Ok(vec![
        Row {
            section: "idle streams",
            metric: format!("{count} AwaitWorkflow streams: dbosd RSS"),
            dbosd: format!(
                "{:.1} MiB (idle: {:.1} MiB)",
                rss as f64 / 1024.0,
                rss_before as f64 / 1024.0
            ),
            baseline: "target < 256 MiB".into(),
            json: json!({"streams": count, "rss_kib": rss, "rss_idle_kib": rss_before}),
        },
        Row {
            section: "idle streams",
            metric: format!("{count} AwaitWorkflow streams: database transactions/s"),
            dbosd: format!("{per_second:.0}/s"),
            baseline: "one poll per tick (5 ms tick = at most 200/s)".into(),
            json: json!({"db_transactions_per_s": per_second}),
        },
    ])
}
