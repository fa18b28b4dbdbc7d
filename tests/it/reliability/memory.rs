//! Memory under client misbehaviour, measured on the real binary: streams opened and abandoned by
//! the thousand, and a WatchWorkflows reader that never reads while others keep up. dbosd's RSS
//! comes back to its warmed-up baseline, and the slow reader holds up nobody.

use std::{collections::HashSet, time::Duration};

use dbosd::pb::{self, workflow_service_client::WorkflowServiceClient};
use tokio_stream::StreamExt;
use tonic::transport::Channel;

use crate::harness::{Dbosd, TestDb, WAIT};

/// Streams opened at once per batch (within HTTP/2's default concurrent-stream limit).
const BATCH: usize = 200;

/// Opens `batches * BATCH` AwaitWorkflow streams on workflows that never finish, then drops them.
async fn churn(client: &WorkflowServiceClient<Channel>, tag: &str, batches: usize) {
    for b in 0..batches {
        let mut open = Vec::with_capacity(BATCH);
        for n in 0..BATCH {
            let mut c = client.clone();
            let req = pb::AwaitWorkflowRequest {
                workflow_id: format!("gone-{tag}-{b}-{n}"),
                timeout: None,
                ..Default::default()
            };
            open.push(
                tokio::time::timeout(WAIT, c.await_workflow(req))
                    .await
                    .expect("open")
                    .expect("stream"),
            );
        }
        drop(open);
    }
}

/// RSS once it stops falling (freed memory is returned lazily), in KiB.
async fn settled_rss(dbosd: &Dbosd) -> u64 {
    let mut last = dbosd.rss_kib().expect("dbosd runs");
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await; // sampling interval, not synchronisation
        let now = dbosd.rss_kib().expect("dbosd runs");
        if now >= last {
            return now;
        }
        last = now;
    }
    last
}

#[tokio::test]
async fn memory_returns_to_baseline_and_a_slow_reader_holds_up_nobody() {
    let db = TestDb::new().await;
    let dbosd = Dbosd::spawn(
        &["--database-url", &db.url, "--listen", "127.0.0.1:0"],
        &[],
        WAIT,
    )
    .await;
    let client = WorkflowServiceClient::new(dbosd.channel.clone());

    // Warm up allocator arenas and HTTP/2 buffers, then take the baseline.
    churn(&client, "warm", 5).await;
    let baseline = settled_rss(&dbosd).await;

    // A watcher that never reads, and one that does, while 2,000 workflows appear.
    let watch = || pb::WatchWorkflowsRequest {
        queue_names: vec!["mem_q".into()],
        ..Default::default()
    };
    let slow = client
        .clone()
        .watch_workflows(watch())
        .await
        .expect("slow watcher")
        .into_inner();
    let mut fast = client
        .clone()
        .watch_workflows(watch())
        .await
        .expect("fast watcher")
        .into_inner();
    let writer = db.client().await;
    for chunk in 0..4 {
        writer
            .execute(
                "INSERT INTO dbos.workflow_status (workflow_uuid, status, name, queue_name, serialization)
                 SELECT 'mem-' || $1::int || '-' || g, 'ENQUEUED', 'echo', 'mem_q', 'portable_json'
                 FROM generate_series(1, 500) g",
                &[&chunk],
            )
            .await
            .expect("insert");
    }
    let mut seen = HashSet::new();
    while seen.len() < 2000 {
        let msg = tokio::time::timeout(WAIT, fast.next())
            .await
            .expect("the fast watcher keeps up");
        let msg = msg.expect("stream open").expect("message");
        seen.insert(msg.workflow.expect("workflow").workflow_id);
    }
    drop(slow);
    drop(fast);

    // Thousands more abandoned streams must not grow memory beyond the baseline's noise.
    churn(&client, "after", 20).await;
    let after = settled_rss(&dbosd).await;
    eprintln!("dbosd RSS: {baseline} KiB warmed up, {after} KiB after the misbehaving clients");
    let allowance = baseline / 2 + 16 * 1024;
    assert!(
        after <= baseline + allowance,
        "RSS grew from {baseline} KiB to {after} KiB after 4,000 abandoned streams and a slow reader"
    );
}
