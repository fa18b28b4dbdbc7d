//! Large payloads: workflows with a 1 MB input enqueued over gRPC and their 1 MB outputs awaited,
//! by 4 callers at once, with dbosd's peak memory sampled meanwhile (it must stay bounded: each
//! payload passes through, none is kept).

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use dbosd::pb::{self, await_workflow_response::Kind, AwaitWorkflowRequest};
use serde_json::json;
use tokio_stream::StreamExt;

use crate::{
    setup::{connect, BenchResult, Env},
    stats::Row,
};

/// Bytes of each input and output (under the default --max-payload-bytes of 1 MiB once encoded).
const PAYLOAD: usize = 1_000_000;

/// Callers at once.
const CALLERS: usize = 4;

/// Runs the section.
pub async fn run(env: &Env, window: Duration) -> BenchResult<Vec<Row>> {
    let rss_before = env.dbosd_rss_kib();
    let count = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + window;
    let output = serde_json::to_string(&"y".repeat(PAYLOAD))?;
    let mut handles = Vec::new();
    for caller in 0..CALLERS {
        let mut client = env.channel().await?;
        let db = connect(&env.db_url).await?;
        let (count, output) = (count.clone(), output.clone());
        handles.push(tokio::spawn(async move {
            let mut i = 0;
            while Instant::now() < deadline {
                let id = format!("large-{caller}-{i}");
                i += 1;
                let arg = dbosd::api::convert::json::from_json(&json!("x".repeat(PAYLOAD)));
                client
                    .enqueue_workflow(pb::EnqueueWorkflowRequest {
                        workflow_id: Some(id.clone()),
                        workflow_name: "echo".into(),
                        queue_name: "bench_q".into(),
                        positional_args: vec![arg],
                        ..Default::default()
                    })
                    .await?;
                // Finish it as a worker would, with a 1 MB output, then await it.
                db.execute(
                    "WITH s AS (UPDATE dbos.workflow_status SET status = 'SUCCESS', \
                     updated_at = (EXTRACT(epoch FROM now()) * 1000)::bigint WHERE workflow_uuid = $1) \
                     INSERT INTO dbos.workflow_output (workflow_uuid, output) VALUES ($1, $2)",
                    &[&id, &output],
                )
                .await?;
                let mut stream = client
                    .await_workflow(AwaitWorkflowRequest {
                        workflow_id: id,
                        ..Default::default()
                    })
                    .await?
                    .into_inner();
                loop {
                    if let Some(Kind::Outcome(_)) = stream.next().await.ok_or("stream ended")??.kind {
                        break;
                    }
                }
                count.fetch_add(1, Ordering::Relaxed);
            }
            BenchResult::Ok(())
        }));
    }
    // Peak RSS, sampled while the callers run.
    let mut peak = rss_before;
    while handles.iter().any(|h| !h.is_finished()) {
        peak = peak.max(env.dbosd_rss_kib());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for h in handles {
        h.await??;
    }
    let rate = count.load(Ordering::Relaxed) as f64 / window.as_secs_f64();
    // The later sections list pages with payloads: 1 MB rows would make those pages 200 MB.
    let db = connect(&env.db_url).await?;
    db.batch_execute(
        "DELETE FROM dbos.workflow_output WHERE workflow_uuid LIKE 'large-%'; \
         DELETE FROM dbos.workflow_input WHERE workflow_uuid LIKE 'large-%'; \
         DELETE FROM dbos.workflow_status WHERE workflow_uuid LIKE 'large-%'",
    )
    .await?;
    Ok(vec![Row {
        section: "large payloads",
        metric: format!(
            "1 MB input enqueued + 1 MB output awaited, {CALLERS} callers (workflows/s)"
        ),
        dbosd: format!(
            "{rate:.0}/s = {:.0} MB/s each way",
            rate * PAYLOAD as f64 / 1e6
        ),
        baseline: format!(
            "dbosd peak RSS {:.0} MiB (before: {:.0} MiB)",
            peak as f64 / 1024.0,
            rss_before as f64 / 1024.0
        ),
        json: json!({"per_s": rate, "peak_rss_kib": peak, "rss_before_kib": rss_before}),
    }])
}
