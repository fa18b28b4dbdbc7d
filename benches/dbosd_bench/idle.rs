//! Many waiting streams on one dbosd: its memory per stream, the database load its hub causes while
//! they wait, and how fast a result still wakes its waiter; then the same for WatchWorkflows
//! watchers, all of which see every change.

use std::time::{Duration, Instant};

use dbosd::pb::{await_workflow_response::Kind, AwaitWorkflowRequest, WatchWorkflowsRequest};
use serde_json::json;
use tokio_stream::StreamExt;

use crate::{
    latency::{complete, insert_pending},
    polltime,
    setup::{connect, now_ms, BenchResult, Env},
    stats::{pcts, Row},
};

/// Streams per HTTP/2 connection (servers cap concurrent streams per connection).
const STREAMS_PER_CHANNEL: usize = 150;

/// Result wakes measured while the idle streams wait.
const PROBES: usize = 100;

/// ENQUEUED rows nobody dequeues, beside which the watchers are measured again (earlier sections
/// of a run leave such a backlog, and a feed that read every in-flight row each tick slowed down).
const BACKLOG: i32 = 50_000;

async fn db_transactions(db: &tokio_postgres::Client) -> BenchResult<i64> {
    let row = db
        .query_one("SELECT (xact_commit + xact_rollback)::bigint FROM pg_stat_database WHERE datname = current_database()", &[])
        .await?;
    Ok(row.get(0))
}

/// Waits, bounded, until dbosd's gauge `name` reaches `at_least`.
async fn gauge_reaches(env: &Env, name: &str, at_least: f64) -> BenchResult<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while env.metric(name, "").await? < at_least {
        if Instant::now() > deadline {
            return Err(format!("{name} did not reach {at_least}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Commit-to-client latency of `PROBES` results, one at a time, each on a fresh stream.
async fn probe_wakes(env: &Env) -> BenchResult<Vec<f64>> {
    let mut db = connect(&env.db_url).await?;
    let mut client = env.channel().await?;
    let mut samples = Vec::with_capacity(PROBES);
    for i in 0..PROBES {
        let id = format!("probe-{i}");
        insert_pending(&db, &id).await?;
        let req = AwaitWorkflowRequest {
            workflow_id: id.clone(),
            ..Default::default()
        };
        let mut stream = client.await_workflow(req).await?.into_inner();
        stream.next().await.ok_or("no status")??;
        let committed = complete(&mut db, &id).await?;
        loop {
            if let Some(Kind::Outcome(_)) = stream.next().await.ok_or("stream ended")??.kind {
                break;
            }
        }
        samples.push(now_ms() - committed);
    }
    Ok(samples)
}

/// Opens `count` AwaitWorkflow streams on running workflows and measures RSS, database load and
/// the wake latency of other results meanwhile.
pub async fn streams(env: &Env, count: usize) -> BenchResult<Vec<Row>> {
    let db = connect(&env.db_url).await?;
    db.execute(
        "INSERT INTO dbos.workflow_status (workflow_uuid, status, name, queue_name, serialization) \
         SELECT 'idle-' || g, 'PENDING', 'echo', 'q', 'portable_json' FROM generate_series(1, $1::int) g",
        &[&(count as i32)],
    )
    .await?;
    let rss_before = env.dbosd_rss_kib();
    let opening = Instant::now();
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
    let opened_in = opening.elapsed();
    // The hub's first poll of a key wakes its waiter once (its own read may predate the key), so
    // 10,000 new streams re-read once each: wait, bounded, until that has passed (a second with
    // under 300 transactions), then measure the steady state over a fixed window.
    let settle_by = Instant::now() + Duration::from_secs(60);
    loop {
        let before = db_transactions(&db).await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        if db_transactions(&db).await? - before < 300 || Instant::now() > settle_by {
            break;
        }
    }
    let window = Duration::from_secs(5);
    let polls_before = env.metric(polltime::POLL_QUERIES, "").await?;
    let before = db_transactions(&db).await?;
    tokio::time::sleep(window).await;
    let after = db_transactions(&db).await?;
    let polls =
        (env.metric(polltime::POLL_QUERIES, "").await? - polls_before) / window.as_secs_f64();
    let rss = env.dbosd_rss_kib();
    // Our own two sampling queries are in the count.
    let per_second = (after - before - 2) as f64 / window.as_secs_f64();
    let poll = polltime::row(
        env,
        &db,
        "idle streams",
        format!("{count} AwaitWorkflow streams"),
    )
    .await?;
    let wakes = probe_wakes(env).await?;
    drop(streams);
    let per_stream = (rss.saturating_sub(rss_before)) as f64 * 1024.0 / count as f64;
    let (wake_text, wake_json) = pcts(&wakes);
    Ok(vec![
        Row {
            section: "idle streams",
            metric: format!("{count} AwaitWorkflow streams: dbosd RSS"),
            dbosd: format!(
                "{:.1} MiB (idle: {:.1} MiB), {:.1} KiB per stream",
                rss as f64 / 1024.0,
                rss_before as f64 / 1024.0,
                per_stream / 1024.0
            ),
            baseline: format!(
                "target: 100,000 <= 1 GiB; opened in {:.1} s",
                opened_in.as_secs_f64()
            ),
            json: json!({"streams": count, "rss_kib": rss, "rss_idle_kib": rss_before, "bytes_per_stream": per_stream,
                         "open_seconds": opened_in.as_secs_f64()}),
        },
        Row {
            section: "idle streams",
            metric: format!("{count} AwaitWorkflow streams: database queries/s"),
            dbosd: format!("{per_second:.0} transactions/s, of which {polls:.0} hub polls/s"),
            baseline: {
                let tick = polltime::tick_ms();
                format!(
                    "one poll per tick ({tick} ms tick = at most {:.0}/s)",
                    1000.0 / tick as f64
                )
            },
            json: json!({"db_transactions_per_s": per_second, "hub_polls_per_s": polls}),
        },
        Row {
            section: "idle streams",
            metric: format!("result wake with {count} streams waiting, p50/p95/p99"),
            dbosd: wake_text,
            baseline: "target p99 < 20 ms".into(),
            json: json!({"streams": count, "wake": wake_json}),
        },
        poll,
    ])
}

/// Measures `count` watchers alone, then beside `BACKLOG` ENQUEUED rows nobody dequeues.
pub async fn watchers(env: &Env, count: usize) -> BenchResult<Vec<Row>> {
    let mut rows = watchers_once(env, count, "").await?;
    let db = connect(&env.db_url).await?;
    // Created an hour ago, on a queue no worker serves: in flight, found by no index.
    db.execute(
        "INSERT INTO dbos.workflow_status (workflow_uuid, status, name, queue_name, serialization, \
           created_at, updated_at) \
         SELECT 'backlog-' || g, 'ENQUEUED', 'echo', 'nobody', 'portable_json', \
           (EXTRACT(epoch FROM now()) * 1000)::bigint - 3600000, \
           (EXTRACT(epoch FROM now()) * 1000)::bigint - 3600000 \
         FROM generate_series(1, $1::int) g",
        &[&BACKLOG],
    )
    .await?;
    let beside = format!(" beside {BACKLOG} ENQUEUED rows");
    rows.extend(watchers_once(env, count, &beside).await?);
    db.execute(
        "DELETE FROM dbos.workflow_status WHERE workflow_uuid LIKE 'backlog-%'",
        &[],
    )
    .await?;
    Ok(rows)
}

/// Opens `count` WatchWorkflows watchers (no filter: each sees every change), then finishes
/// workflows one at a time and measures when each watcher hears of it.
async fn watchers_once(env: &Env, count: usize, beside: &str) -> BenchResult<Vec<Row>> {
    let mut db = connect(&env.db_url).await?;
    let rss_before = env.dbosd_rss_kib();
    let mut watches = Vec::with_capacity(count);
    for first in (0..count).step_by(STREAMS_PER_CHANNEL) {
        let mut client = env.channel().await?;
        for _ in first..(first + STREAMS_PER_CHANNEL).min(count) {
            let stream = client
                .watch_workflows(WatchWorkflowsRequest {
                    workflow_id_prefixes: vec!["watched-".into()],
                    ..Default::default()
                })
                .await?
                .into_inner();
            watches.push(stream);
        }
    }
    // WatchWorkflows sends nothing until a change: wait until dbosd counts every watcher.
    gauge_reaches(env, "dbosd_hub_watchers", count as f64).await?;
    let poll = polltime::row(env, &db, "watchers", format!("{count} watchers{beside}")).await?;
    let rss = env.dbosd_rss_kib();
    let per_watcher = rss.saturating_sub(rss_before) as f64 / count as f64;
    let rounds = 10;
    let mut samples = Vec::with_capacity(rounds * count);
    for round in 0..rounds {
        let tag = if beside.is_empty() { "" } else { "-backlog" };
        let id = format!("watched-{round}{tag}");
        insert_pending(&db, &id).await?;
        let committed = complete(&mut db, &id).await?;
        let heard = watches.iter_mut().map(|w| {
            let id = id.clone();
            async move {
                loop {
                    let msg = w.next().await.ok_or("watch ended")??;
                    let wf = msg.workflow.ok_or("no workflow")?;
                    if wf.workflow_id == id
                        && wf.status == dbosd::pb::WorkflowStatus::Success as i32
                    {
                        return BenchResult::Ok(now_ms());
                    }
                }
            }
        });
        for got in futures::future::join_all(heard).await {
            samples.push(got? - committed);
        }
    }
    drop(watches);
    let (text, j) = pcts(&samples);
    Ok(vec![
        Row {
            section: "watchers",
            metric: format!(
                "{count} WatchWorkflows watchers{beside}: commit -> every watcher, p50/p95/p99"
            ),
            dbosd: text,
            baseline: format!(
                "dbosd RSS {:.1} MiB (before: {:.1} MiB), {per_watcher:.1} KiB per watcher",
                rss as f64 / 1024.0,
                rss_before as f64 / 1024.0
            ),
            json: json!({"watchers": count, "backlog": !beside.is_empty(), "latency": j, "rss_kib": rss, "rss_before_kib": rss_before}),
        },
        poll,
    ])
}
