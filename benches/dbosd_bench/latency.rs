//! Wake-up latency: from the commit that finishes a workflow (or sets an event), made the way a DBOS
//! worker makes it, to the waiting client receiving it — dbosd's streams next to the official Python
//! client's get_result / get_event on the same database.

use std::{process::Stdio, time::Duration};

use dbosd::pb::{await_workflow_response::Kind, AwaitWorkflowRequest, WatchEventRequest};
use serde_json::json;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines},
    process::{ChildStdout, Command},
};
use tokio_stream::StreamExt;

use crate::{
    polltime,
    setup::{connect, now_ms, python, root, BenchResult, Env},
    stats::{pcts, Row},
};

/// A workflow row as a worker leaves it while running.
pub async fn insert_pending(db: &tokio_postgres::Client, id: &str) -> BenchResult<()> {
    db.execute(
        "INSERT INTO dbos.workflow_status (workflow_uuid, status, name, queue_name, serialization) \
         VALUES ($1, 'PENDING', 'echo', 'q', 'portable_json')",
        &[&id],
    )
    .await?;
    Ok(())
}

/// Finishes a workflow as the worker does (status + output in one transaction); returns the commit time.
pub async fn complete(db: &mut tokio_postgres::Client, id: &str) -> BenchResult<f64> {
    let tx = db.transaction().await?;
    tx.execute(
        "UPDATE dbos.workflow_status SET status = 'SUCCESS', owner_xid = NULL, \
         updated_at = (EXTRACT(epoch FROM now()) * 1000)::bigint, completed_at = (EXTRACT(epoch FROM now()) * 1000)::bigint \
         WHERE workflow_uuid = $1",
        &[&id],
    )
    .await?;
    tx.execute(
        "INSERT INTO dbos.workflow_output (workflow_uuid, output) VALUES ($1, '42')",
        &[&id],
    )
    .await?;
    tx.commit().await?;
    Ok(now_ms())
}

/// Sets an event as the worker does (upsert, commit, then its notifier's pg_notify); returns the commit time.
async fn set_event(db: &tokio_postgres::Client, id: &str) -> BenchResult<f64> {
    db.execute(
        "INSERT INTO dbos.workflow_events (workflow_uuid, key, value, serialization) VALUES ($1, 'k', '1', 'portable_json')",
        &[&id],
    )
    .await?;
    let committed = now_ms();
    db.execute(
        "SELECT pg_notify('dbos_workflow_events_channel', $1)",
        &[&format!("{id}::k")],
    )
    .await?;
    Ok(committed)
}

fn jitter(max_ms: u64) -> Duration {
    Duration::from_millis(uuid::Uuid::new_v4().as_u128() as u64 % max_ms.max(1))
}

/// dbosd: AwaitWorkflow and WatchEvent latencies.
async fn dbosd_latencies(env: &Env, samples: usize) -> BenchResult<(Vec<f64>, Vec<f64>)> {
    let mut db = connect(&env.db_url).await?;
    let mut client = env.channel().await?;
    let (mut results, mut events) = (Vec::new(), Vec::new());
    for i in 0..samples {
        let id = format!("lat-d-{i}");
        insert_pending(&db, &id).await?;
        let mut stream = client
            .await_workflow(AwaitWorkflowRequest {
                workflow_id: id.clone(),
                timeout: None,
                ..Default::default()
            })
            .await?
            .into_inner();
        stream.next().await.ok_or("no status")??; // the waiter is registered and has read the row
        tokio::time::sleep(jitter(20)).await;
        let committed = complete(&mut db, &id).await?;
        loop {
            match stream.next().await.ok_or("stream ended")??.kind {
                Some(Kind::Outcome(_)) => break,
                _ => continue,
            }
        }
        results.push(now_ms() - committed);

        let mut watch = client
            .watch_event(WatchEventRequest {
                workflow_id: id.clone(),
                key: "k".into(),
                follow: false,
                timeout: None,
            })
            .await?
            .into_inner();
        // No first message to wait for: give the stream a moment to subscribe.
        tokio::time::sleep(Duration::from_millis(20) + jitter(20)).await;
        let committed = set_event(&db, &id).await?;
        watch.next().await.ok_or("no event")??;
        events.push(now_ms() - committed);
    }
    Ok((results, events))
}

async fn expect_line(
    lines: &mut Lines<BufReader<ChildStdout>>,
    prefix: &str,
) -> BenchResult<String> {
    loop {
        let line = lines.next_line().await?.ok_or("the Python client exited")?;
        if line.starts_with(prefix) {
            return Ok(line);
        }
    }
}

/// The official Python DBOSClient: get_result and get_event latencies.
async fn python_latencies(env: &Env, samples: usize) -> BenchResult<(Vec<f64>, Vec<f64>)> {
    let mut child = Command::new(python()?)
        .arg(root().join("benches/dbosd_bench/py_client.py"))
        .arg(&env.db_url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut stdin = child.stdin.take().ok_or("stdin")?;
    let mut lines = BufReader::new(child.stdout.take().ok_or("stdout")?).lines();
    expect_line(&mut lines, "READY").await?;
    let mut db = connect(&env.db_url).await?;
    let (mut results, mut events) = (Vec::new(), Vec::new());
    let got_at = |line: String| {
        line.split_whitespace()
            .nth(2)
            .and_then(|t| t.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    for i in 0..samples {
        let id = format!("lat-p-{i}");
        insert_pending(&db, &id).await?;
        stdin.write_all(format!("result {id}\n").as_bytes()).await?;
        expect_line(&mut lines, "WAITING").await?;
        // Its poll runs once a second: commit at a random point of that period.
        tokio::time::sleep(Duration::from_millis(50) + jitter(1000)).await;
        let committed = complete(&mut db, &id).await?;
        results.push(got_at(expect_line(&mut lines, "GOT").await?) - committed);

        stdin
            .write_all(format!("event {id} k\n").as_bytes())
            .await?;
        expect_line(&mut lines, "WAITING").await?;
        tokio::time::sleep(Duration::from_millis(50) + jitter(1000)).await;
        let committed = set_event(&db, &id).await?;
        events.push(got_at(expect_line(&mut lines, "GOT").await?) - committed);
    }
    drop(stdin);
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
    Ok((results, events))
}

/// What the hub's poll costs while one stream waits: the price of the tick behind the result wake.
async fn one_waiter_poll(env: &Env) -> BenchResult<Row> {
    let db = connect(&env.db_url).await?;
    let mut client = env.channel().await?;
    let id = "lat-poll-one-waiter";
    insert_pending(&db, id).await?;
    let mut stream = client
        .await_workflow(AwaitWorkflowRequest {
            workflow_id: id.into(),
            ..Default::default()
        })
        .await?
        .into_inner();
    stream.next().await.ok_or("no status")??;
    let row = polltime::row(env, &db, "wake-up latency", "one waiter".into()).await;
    drop(stream);
    row
}

/// Runs the section and returns its rows.
pub async fn run(env: &Env, dbosd_samples: usize, python_samples: usize) -> BenchResult<Vec<Row>> {
    let (d_res, d_ev) = dbosd_latencies(env, dbosd_samples).await?;
    let poll = one_waiter_poll(env).await?;
    let (p_res, p_ev) = python_latencies(env, python_samples).await?;
    let row = |metric: &str, d: &[f64], p: &[f64]| {
        let (dt, dj) = pcts(d);
        let (pt, pj) = pcts(p);
        Row {
            section: "wake-up latency",
            metric: metric.to_owned(),
            dbosd: dt,
            baseline: format!("Python DBOSClient: {pt}"),
            json: json!({"dbosd": dj, "python_client": pj}),
        }
    };
    Ok(vec![
        row("result (commit -> client), p50/p95/p99", &d_res, &p_res),
        row("event (commit -> client), p50/p95/p99", &d_ev, &p_ev),
        poll,
    ])
}
