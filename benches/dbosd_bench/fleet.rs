//! A fleet behind one dbosd (`-- fleet`): the idle cost of each configured database (PostgreSQL
//! connections, dbosd RSS) with fifty quiet ones, then ten busy databases at once: enqueue
//! throughput and latency, and how fast a waiter learns of a completion; then the same with one of
//! the ten locked (its `workflow_status` held ACCESS EXCLUSIVE), which must not slow the others.

use std::time::{Duration, Instant};

use dbosd::pb::{
    await_workflow_response::Kind, workflow_service_client::WorkflowServiceClient,
    AwaitWorkflowRequest, EnqueueWorkflowRequest, ListDatabasesRequest,
};
use serde_json::json;
use tokio::process::Child;
use tokio_stream::StreamExt;
use tonic::{metadata::MetadataValue, transport::Channel};

use crate::{
    setup::{connect, now_ms, spawn_dbosd_with, BenchResult, Env},
    stats::{pcts, Row},
};

const IDLE: usize = 50;
const BUSY: usize = 10;
const CLIENTS_PER_DB: usize = 4;
const LOAD: Duration = Duration::from_secs(4);

/// A dbosd over `count` databases `fleet_1..` (besides the bench database), with its address.
async fn fleet_dbosd(
    env: &Env,
    count: usize,
    dir: &tempfile::TempDir,
) -> BenchResult<(Child, String)> {
    let path = dir.path().join(format!("fleet-{count}.toml"));
    let config: String = (1..=count)
        .map(|i| {
            format!(
                "[databases.db{i}]\nurl = \"{}\"\n",
                env.cluster.url(&format!("fleet_{i}"))
            )
        })
        .collect();
    std::fs::write(&path, config)?;
    let path = path.to_str().ok_or("temp path")?.to_owned();
    let extra = ["--config", &path, "--health-interval-ms", "60000"];
    let (child, addr, _metrics) = spawn_dbosd_with(&env.db_url, &extra).await?;
    Ok((child, addr))
}

fn rss_kib(child: &Child) -> u64 {
    let Some(pid) = child.id() else { return 0 };
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

async fn client(addr: &str) -> BenchResult<WorkflowServiceClient<Channel>> {
    let channel = Channel::from_shared(format!("http://{addr}"))?
        .connect()
        .await?;
    Ok(WorkflowServiceClient::new(channel))
}

fn on<T>(database: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let name = MetadataValue::try_from(database).expect("ASCII name");
    request.metadata_mut().insert("dbos-database", name);
    request
}

/// Waits until every database of the dbosd at `addr` answers a call.
async fn wait_open(addr: &str, count: usize) -> BenchResult<()> {
    let mut c = client(addr).await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    for i in 1..=count {
        let req = || on(&format!("db{i}"), dbosd::pb::ListQueuesRequest::default());
        while c.list_queues(req()).await.is_err() {
            if Instant::now() > deadline {
                return Err(format!("db{i} did not open").into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}

/// dbosd's sessions to the fleet databases now.
async fn fleet_connections(admin: &tokio_postgres::Client) -> BenchResult<i64> {
    let sql = "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE 'fleet\\_%'";
    Ok(admin.query_one(sql, &[]).await?.get(0))
}

pub async fn run(env: &Env) -> BenchResult<Vec<Row>> {
    let admin = connect(&env.cluster.url("postgres")).await?;
    admin.batch_execute("CREATE DATABASE fleet_tpl").await?;
    {
        let mut tpl = connect(&env.cluster.url("fleet_tpl")).await?;
        dbosd::repo::db::migrate::migrate(&mut tpl, "dbos").await?;
    }
    for i in 1..=IDLE {
        admin
            .batch_execute(&format!("CREATE DATABASE fleet_{i} TEMPLATE fleet_tpl"))
            .await?;
    }
    let dir = tempfile::tempdir()?;
    let mut rows = Vec::new();

    // Idle cost: the same dbosd with none and with fifty quiet databases.
    let (mut alone, addr) = fleet_dbosd(env, 0, &dir).await?;
    client(&addr)
        .await?
        .list_databases(ListDatabasesRequest {})
        .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_alone = rss_kib(&alone);
    let _ = alone.kill().await;
    let (mut fifty, _) = fleet_dbosd(env, IDLE, &dir).await?;
    // No call: what fifty configured, quiet databases hold once open (each opens its LISTEN).
    let deadline = Instant::now() + Duration::from_secs(60);
    while fleet_connections(&admin).await? < IDLE as i64 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_fifty = rss_kib(&fifty);
    let sessions = fleet_connections(&admin).await?;
    let _ = fifty.kill().await;
    let rss_per_db = (rss_fifty.saturating_sub(rss_alone)) as f64 / IDLE as f64;
    rows.push(Row {
        section: "fleet",
        metric: format!("{IDLE} quiet databases: PostgreSQL sessions held"),
        dbosd: format!(
            "{sessions} ({:.1} per database)",
            sessions as f64 / IDLE as f64
        ),
        baseline: "1 per database (its LISTEN), +1 pooled for its workflow-metrics refresh (README, Serving a fleet)".into(),
        json: json!({"databases": IDLE, "sessions": sessions}),
    });
    rows.push(Row {
        section: "fleet",
        metric: format!("{IDLE} quiet databases: dbosd RSS"),
        dbosd: format!(
            "{:.1} MiB ({:.0} KiB per database; {:.1} MiB with none)",
            rss_fifty as f64 / 1024.0,
            rss_per_db,
            rss_alone as f64 / 1024.0
        ),
        baseline: "target < 1 MiB per database".into(),
        json: json!({"rss_kib": rss_fifty, "rss_alone_kib": rss_alone, "rss_per_db_kib": rss_per_db}),
    });

    // Ten busy databases.
    let (mut ten, addr) = fleet_dbosd(env, BUSY, &dir).await?;
    wait_open(&addr, BUSY).await?;
    let (rate, enq, wake) = busy(&addr, env, None).await?;
    rows.extend(busy_rows("10 busy databases", rate, &enq, &wake));
    // db1 locked: the other nine keep their figures.
    let locker = connect(&env.cluster.url("fleet_1")).await?;
    locker
        .batch_execute("BEGIN; LOCK TABLE dbos.workflow_status IN ACCESS EXCLUSIVE MODE")
        .await?;
    let (rate, enq, wake) = busy(&addr, env, Some(1)).await?;
    locker.batch_execute("ROLLBACK").await?;
    rows.extend(busy_rows("9 busy databases, db1 locked", rate, &enq, &wake));
    let _ = ten.kill().await;
    Ok(rows)
}

fn busy_rows(what: &str, rate: f64, enq: &[f64], wake: &[f64]) -> Vec<Row> {
    let (enq_text, enq_json) = pcts(enq);
    let (wake_text, wake_json) = pcts(wake);
    vec![
        Row {
            section: "fleet",
            metric: format!("{what}: enqueues/s ({CLIENTS_PER_DB} clients each), latency"),
            dbosd: format!("{rate:.0}/s; {enq_text}"),
            baseline: "one database's figures (enqueue section)".into(),
            json: json!({"enqueues_per_s": rate, "latency_ms": enq_json}),
        },
        Row {
            section: "fleet",
            metric: format!("{what}: wake (commit -> AwaitWorkflow outcome)"),
            dbosd: wake_text,
            baseline: "one database's wake (latency section)".into(),
            json: json!({"wake_ms": wake_json}),
        },
    ]
}

/// Enqueue load on every database but `locked`, and wake-ups measured meanwhile on each.
async fn busy(
    addr: &str,
    env: &Env,
    locked: Option<usize>,
) -> BenchResult<(f64, Vec<f64>, Vec<f64>)> {
    let dbs: Vec<usize> = (1..=BUSY).filter(|i| Some(*i) != locked).collect();
    let stop = Instant::now() + LOAD;
    let mut load = Vec::new();
    for &i in &dbs {
        for _ in 0..CLIENTS_PER_DB {
            let mut c = client(addr).await?;
            load.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < stop {
                    let req = EnqueueWorkflowRequest {
                        workflow_name: "echo".into(),
                        queue_name: "bench".into(),
                        ..Default::default()
                    };
                    let t = Instant::now();
                    c.enqueue_workflow(on(&format!("db{i}"), req)).await?;
                    latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                }
                BenchResult::Ok(latencies)
            }));
        }
    }
    // Wake-ups: a waiter per database; the workflow is completed by SQL, timed from the commit.
    let mut wakes = Vec::new();
    let mut round = 0;
    while Instant::now() + Duration::from_millis(500) < stop {
        round += 1;
        for &i in &dbs {
            let db = format!("db{i}");
            // Unique per call of `busy`: an id left SUCCESS by the previous call would be
            // enqueued idempotently and answered at once, a wake of 0 ms.
            let id = format!("wake-{round}-{i}-{}", uuid::Uuid::new_v4());
            let mut c = client(addr).await?;
            let req = EnqueueWorkflowRequest {
                workflow_name: "echo".into(),
                queue_name: "none".into(),
                workflow_id: Some(id.clone()),
                ..Default::default()
            };
            c.enqueue_workflow(on(&db, req)).await?;
            let wait = AwaitWorkflowRequest {
                workflow_id: id.clone(),
                ..Default::default()
            };
            let mut stream = c.await_workflow(on(&db, wait)).await?.into_inner();
            stream.next().await.ok_or("no first status")??;
            let sql = connect(&env.cluster.url(&format!("fleet_{i}"))).await?;
            sql.execute(
                "UPDATE dbos.workflow_status SET status = 'SUCCESS', output = '1' WHERE workflow_uuid = $1",
                &[&id],
            )
            .await?;
            let committed = now_ms();
            loop {
                let msg = stream.next().await.ok_or("the wait ended")??;
                if matches!(msg.kind, Some(Kind::Outcome(_))) {
                    wakes.push(now_ms() - committed);
                    break;
                }
            }
        }
    }
    let mut latencies = Vec::new();
    for task in load {
        latencies.extend(task.await??);
    }
    let rate = latencies.len() as f64 / LOAD.as_secs_f64();
    Ok((rate, latencies, wakes))
}
