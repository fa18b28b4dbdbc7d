//! Where one caller's EnqueueWorkflow time goes. One caller makes its calls one after another
//! through successively more of the path, so each stage's cost is the difference between two
//! measured means:
//!
//! 1. PostgreSQL: dbosd's enqueue statement on a prepared session, from this process (raw SQL);
//! 2. + the coalescer: the same statement through `EnqueueCoalescer` (the slot task hop);
//! 3. the gRPC hop alone: a health Check over the same kind of channel (no database);
//! 4. dbosd as the client sees it: EnqueueWorkflow over gRPC;
//! 5. dbosd as its own metrics see it: the mean of `grpc_server_handling_seconds` over the calls of 4;
//! 6. a gRPC no-op, then the statement from this process, in turn: the statement between gRPC
//!    calls takes longer than back to back (stage 1), because PostgreSQL now sleeps between
//!    statements while the others take its cores. A server that only forwarded the statement
//!    would cost at least the no-op plus the statement timed this way: the floor.
//!
//! gRPC transport (client + HTTP/2 both ways) = 4 - 5; dbosd's server-side time beyond the
//! statement = 5 - 2; the coalescer = 2 - 1; PostgreSQL = 1. Stage 5 starts when the request's
//! headers arrive, so 5 - 2 also holds the wait for the request's body, which the client sends
//! in a second write.
//!
//! Around stages 1, 3, 4 and 6 the kernel's scheduler counters (`crate::sched`) give each process's
//! CPU time per call: the bench's client, dbosd and PostgreSQL (all its processes). A call's
//! latency is about the CPU the three spend on it in turn plus the wake-ups between them, so these
//! say where a call's time goes by process without a profiler attached.

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
    sched::Sched,
    setup::{BenchResult, Env},
    stats::{percentile, Row},
    throughput::new_workflow,
};

/// The database and the dbosd a stage's calls go to.
struct Where {
    db_url: String,
    dbosd: u32,
}

/// The processes a call goes through, as the scheduler counts them.
#[derive(Clone)]
struct Processes {
    client: u32,
    dbosd: u32,
    postgres: Vec<u32>,
}

/// Scheduler totals of the client, dbosd and PostgreSQL, in that order.
type Snapshot = [Sched; 3];

impl Processes {
    /// Every process of the bench's PostgreSQL (backends and the WAL writer a commit wakes alike).
    async fn find(db_url: &str, dbosd: u32) -> BenchResult<Processes> {
        let client = crate::setup::connect(db_url).await?;
        let rows = client
            .query("SELECT pid FROM pg_stat_activity", &[])
            .await?;
        let postgres = rows.iter().map(|r| r.get::<_, i32>(0) as u32).collect();
        Ok(Processes {
            client: std::process::id(),
            dbosd,
            postgres,
        })
    }

    fn snapshot(&self) -> Snapshot {
        [
            Sched::of(&[self.client]),
            Sched::of(&[self.dbosd]),
            Sched::of(&self.postgres),
        ]
    }
}

/// `calls` sequential calls: mean and p50 in microseconds, and what each process spent on them.
struct Timed {
    mean: f64,
    p50: f64,
    /// Client, dbosd, PostgreSQL over the measured calls (warm-up excluded).
    spent: Snapshot,
    calls: usize,
}

impl Timed {
    /// CPU µs per call of the client, dbosd and PostgreSQL.
    fn cpu(&self) -> [f64; 3] {
        self.spent.map(|s| s.cpu_us(self.calls))
    }
}

/// Times `calls` sequential runs of `call`, after a warm-up, reading the processes around them.
async fn timed<F, Fut>(calls: usize, at: &Where, mut call: F) -> BenchResult<Timed>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = BenchResult<()>>,
{
    // Warm up connections, prepared statements and caches first (dbosd opens its enqueue session
    // on its first enqueue, so PostgreSQL's processes are listed after).
    for _ in 0..(calls / 10).max(20) {
        call().await?;
    }
    let processes = Processes::find(&at.db_url, at.dbosd).await?;
    let before = processes.snapshot();
    let mut samples = Vec::with_capacity(calls);
    for _ in 0..calls {
        let started = Instant::now();
        call().await?;
        samples.push(started.elapsed().as_secs_f64() * 1e6);
    }
    let after = processes.snapshot();
    let mean = samples.iter().sum::<f64>() / samples.len() as f64;
    Ok(Timed {
        mean,
        p50: percentile(&samples, 50.0),
        spent: [0, 1, 2].map(|i| after[i] - before[i]),
        calls,
    })
}

/// Stages 1 and 2, on a one-thread runtime of their own as dbosd runs (`--worker-threads 1`), so
/// the coalescer's hop is a same-thread task switch here as it is there.
fn in_process(db_url: String, calls: usize, dbosd: u32) -> BenchResult<(Timed, Timed)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(in_process_stages(db_url, calls, dbosd))
}

async fn in_process_stages(
    db_url: String,
    calls: usize,
    dbosd: u32,
) -> BenchResult<(Timed, Timed)> {
    let repo = server::prepare(&Settings::new(db_url.clone())).await?;

    let session = EnqueueSession::open(&repo).await?;
    let at = Where { db_url, dbosd };
    let raw = timed(calls, &at, || {
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
    let coalesced = timed(calls, &at, || {
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
    let dbosd = env.dbosd.id().ok_or("dbosd has exited")?;
    let (raw, coalesced) = std::thread::spawn(move || in_process(db_url, calls, dbosd))
        .join()
        .map_err(|_| "the in-process stages panicked")??;

    let at = Where {
        db_url: env.db_url.clone(),
        dbosd,
    };
    let channel = env.raw_channel().await?;
    let mut health = HealthClient::new(channel.clone());
    let hop = timed(calls, &at, || {
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

    let repo = server::prepare(&Settings::new(env.db_url.clone())).await?;
    let session = EnqueueSession::open(&repo).await?;
    // The statement's own time in each pair (warm-up included; the last `calls` are measured).
    let statement_us = std::sync::Mutex::new(Vec::new());
    let forwarded = timed(calls, &at, || {
        let (mut health, repo, session, statement_us) =
            (health.clone(), &repo, &session, &statement_us);
        async move {
            health.check(HealthCheckRequest::default()).await?;
            let started = Instant::now();
            let wf = new_workflow();
            let mut done = repo
                .enqueue_each(std::slice::from_ref(&wf), Some(session))
                .await;
            done.pop().ok_or("no outcome")??;
            let took = started.elapsed().as_secs_f64() * 1e6;
            statement_us.lock().map_err(|_| "poisoned")?.push(took);
            Ok(())
        }
    })
    .await?;
    let statement_us = statement_us.into_inner().map_err(|_| "poisoned")?;
    let interleaved = statement_us[statement_us.len() - calls..]
        .iter()
        .sum::<f64>()
        / calls as f64;
    drop(session);

    let client = pb::workflow_service_client::WorkflowServiceClient::new(channel);
    let before = env.server_seconds("EnqueueWorkflow").await?;
    let grpc = timed(calls, &at, || {
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
        ("PostgreSQL: the enqueue statement, prepared session", raw.mean),
        ("the coalescer's slot hop", coalesced.mean - raw.mean),
        (
            "dbosd's server-side time beyond the statement (layers, handler, the wait for the request body; see the CPU rows)",
            server_us - coalesced.mean,
        ),
        (
            "gRPC transport both ways (client + HTTP/2)",
            grpc.mean - server_us,
        ),
    ];
    let mut rows: Vec<Row> = stages
        .iter()
        .map(|(stage, us)| Row {
            section: "1-caller breakdown",
            metric: format!("{stage} (mean µs)"),
            dbosd: format!("{us:.0} µs = {:.0}% of the call", us / grpc.mean * 100.0),
            baseline: String::new(),
            json: json!({"stage": stage, "mean_us": us, "share": us / grpc.mean}),
        })
        .collect();
    rows.extend(cpu_rows(&raw, &hop, &forwarded, &grpc));
    // No gRPC server can answer faster than its no-op plus the statement as it runs between gRPC
    // calls: that is the floor of a call that writes, whatever dbosd does between them.
    let floor = hop.mean + interleaved;
    let ceiling = raw.mean / floor;
    let [pg_back_to_back, pg_interleaved] = [raw.cpu()[2], forwarded.cpu()[2]];
    rows.push(Row {
        section: "1-caller breakdown",
        metric: "the statement between gRPC calls (a no-op, then the statement, in turn), mean µs"
            .into(),
        dbosd: format!("{interleaved:.0} µs, back to back {:.0} µs", raw.mean),
        baseline: format!(
            "PostgreSQL's CPU per statement {pg_interleaved:.0} µs between gRPC calls, {pg_back_to_back:.0} µs back to back: \
             it sleeps between statements while the others take its cores"
        ),
        json: json!({"interleaved_mean_us": interleaved, "back_to_back_mean_us": raw.mean,
                     "postgres_cpu_interleaved_us": pg_interleaved,
                     "postgres_cpu_back_to_back_us": pg_back_to_back}),
    });
    rows.push(Row {
        section: "1-caller breakdown",
        metric: "best ratio any gRPC server can reach: raw SQL / (gRPC no-op + the statement between gRPC calls)".into(),
        dbosd: format!("{:.0}% of raw SQL's rate", ceiling * 100.0),
        baseline: format!(
            "{}: the floor is {floor:.0} µs ({:.0} + {interleaved:.0}); with the statement timed back to back it would be {:.0}%",
            match ceiling < 0.75 {
                true => "target >= 75%: out of reach on this machine",
                false => "target >= 75%",
            },
            hop.mean,
            raw.mean / (raw.mean + hop.mean) * 100.0
        ),
        json: json!({"ceiling_ratio": ceiling, "floor_us": floor, "noop_grpc_mean_us": hop.mean,
                     "raw_mean_us": raw.mean, "interleaved_mean_us": interleaved,
                     "sum_ceiling_ratio": raw.mean / (raw.mean + hop.mean)}),
    });
    rows.push(Row {
        section: "1-caller breakdown",
        metric: "EnqueueWorkflow as the caller sees it (mean / p50 µs)".into(),
        dbosd: format!(
            "{:.0} / {:.0} µs = {:.0}% of raw SQL's rate, {:.0}% of the floor's",
            grpc.mean,
            grpc.p50,
            raw.mean / grpc.mean * 100.0,
            floor / grpc.mean * 100.0
        ),
        baseline: format!(
            "raw SQL {:.0} / {:.0} µs; gRPC no-op (health Check) {:.0} / {:.0} µs; the floor {floor:.0} µs; target >= 75%",
            raw.mean, raw.p50, hop.mean, hop.p50
        ),
        json: json!({"grpc_mean_us": grpc.mean, "grpc_p50_us": grpc.p50, "raw_mean_us": raw.mean, "raw_p50_us": raw.p50,
                     "coalesced_mean_us": coalesced.mean, "server_mean_us": server_us,
                     "noop_grpc_mean_us": hop.mean, "noop_grpc_p50_us": hop.p50, "ratio_to_raw": raw.mean / grpc.mean,
                     "floor_us": floor, "ratio_to_floor": floor / grpc.mean}),
    });
    Ok(rows)
}

/// Where a call's time goes by process: the CPU the client, dbosd and PostgreSQL spend per call,
/// for raw SQL, the gRPC no-op, the two in turn and EnqueueWorkflow. What is left of the mean is wake-ups and
/// loopback between them (negative when two of them ran at once on the two cores).
fn cpu_rows(raw: &Timed, hop: &Timed, forwarded: &Timed, grpc: &Timed) -> Vec<Row> {
    let row = |what: &str, t: &Timed| {
        let [client, dbosd, postgres] = t.cpu();
        let rest = t.mean - client - dbosd - postgres;
        let d = &t.spent[1];
        Row {
            section: "1-caller breakdown",
            metric: format!("{what}, per call: CPU of the client / dbosd / PostgreSQL (µs)"),
            dbosd: format!("{client:.0} / {dbosd:.0} / {postgres:.0} µs"),
            baseline: format!(
                "mean {:.0} µs, of which {rest:.0} µs on no CPU of the three (wake-ups, loopback); \
                 dbosd {:.1} context switches and {:.0} µs waiting for a CPU per call",
                t.mean,
                d.switches_per(t.calls),
                d.wait_us(t.calls)
            ),
            json: json!({"call": what, "mean_us": t.mean, "client_cpu_us": client, "dbosd_cpu_us": dbosd,
                         "postgres_cpu_us": postgres, "rest_us": rest,
                         "dbosd_switches": d.switches_per(t.calls), "dbosd_wait_us": d.wait_us(t.calls)}),
        }
    };
    vec![
        row("raw SQL (no dbosd)", raw),
        row("gRPC no-op (health Check)", hop),
        row("gRPC no-op, then the statement", forwarded),
        row("EnqueueWorkflow", grpc),
    ]
}
