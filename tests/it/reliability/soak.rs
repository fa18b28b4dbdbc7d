//! The soak run (ignored in the suite; see README "Soak run"): mixed load for `DBOSD_SOAK_SECS`
//! (default 120) with a database restart every `DBOSD_SOAK_RESTART_SECS` (default 15), then a
//! consistency check of every workflow it created: stored exactly once, and its wait delivered SUCCESS.

use std::{
    collections::HashSet,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use dbosd::pb;
use serde_json::json;
use tokio::time::Instant;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;

use crate::harness::{
    connect, enqueue_req, eventually, health_status, RestartableDb, TestDb, TestServer,
};

const ENQUEUERS: usize = 3;
/// How long every wait may take to deliver once the load has stopped.
const DRAIN: Duration = Duration::from_secs(120);

fn secs(var: &str, default: u64) -> Duration {
    let n = std::env::var(var).ok().and_then(|v| v.parse().ok());
    Duration::from_secs(n.unwrap_or(default))
}

/// Awaits `id` to its outcome, reopening the stream after a retryable failure as a client would.
async fn await_outcome(
    mut client: pb::workflow_service_client::WorkflowServiceClient<tonic::transport::Channel>,
    id: String,
) -> Result<pb::WorkflowStatus, String> {
    use pb::await_workflow_response::Kind;
    loop {
        let req = pb::AwaitWorkflowRequest {
            workflow_id: id.clone(),
            timeout: None,
            ..Default::default()
        };
        let retry = |s: &tonic::Status| matches!(s.code(), Code::Unavailable | Code::Cancelled);
        let mut stream = match client.await_workflow(req).await {
            Ok(r) => Some(r.into_inner()),
            Err(s) if retry(&s) => None,
            Err(s) => return Err(format!("{id}: {s:?}")),
        };
        while let Some(s) = stream.as_mut() {
            match s.message().await {
                Ok(Some(pb::AwaitWorkflowResponse {
                    kind: Some(Kind::Outcome(o)),
                })) => return Ok(o.status()),
                Ok(Some(_)) => {}
                Ok(None) => return Err(format!("{id}: stream ended without an outcome")),
                Err(s) if retry(&s) => stream = None,
                Err(s) => return Err(format!("{id}: {s:?}")),
            }
        }
        // Pacing between reconnects, not synchronization.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
#[ignore = "soak run, minutes long: cargo test --test it -- --ignored soak"]
async fn soak_mixed_load_with_database_restarts() {
    let (total, every) = (
        secs("DBOSD_SOAK_SECS", 120),
        secs("DBOSD_SOAK_RESTART_SECS", 15),
    );
    let mut pg = RestartableDb::start(None).await;
    let url = pg.url();
    let srv = TestServer::start_on(TestDb::external(&url, "postgres"), |s| {
        s.migrate = true;
    })
    .await;
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let waits = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for t in 0..ENQUEUERS {
        let (stop, acked, waits) = (stop.clone(), acked.clone(), waits.clone());
        let mut client = srv.client.clone();
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let r = client
                    .enqueue_workflow(enqueue_req("soak", "q", vec![json!(t)]))
                    .await;
                if let Ok(r) = r {
                    let id = r.into_inner().workflow_id;
                    acked.lock().unwrap().push(id.clone());
                    let wait = tokio::spawn(await_outcome(client.clone(), id.clone()));
                    waits.lock().unwrap().push(wait);
                    // A message to each workflow too (mixed load); failures are retryable and ignored.
                    let send = pb::SendMessageRequest {
                        destination_id: id,
                        message_json: "1".into(),
                        ..Default::default()
                    };
                    let _ = client.send_message(send).await;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    // The "worker": completes whatever is enqueued, as DBOS does (status and output in one transaction).
    let complete = "BEGIN;
        INSERT INTO dbos.workflow_output (workflow_uuid, output)
          SELECT workflow_uuid, '\"ok\"' FROM dbos.workflow_status
          WHERE name = 'soak' AND status = 'ENQUEUED' ON CONFLICT DO NOTHING;
        UPDATE dbos.workflow_status SET status = 'SUCCESS', completed_at = 1
          WHERE name = 'soak' AND status = 'ENQUEUED';
        COMMIT;";
    let worker = {
        let (stop, url) = (stop.clone(), url.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(db) = connect(&url).await {
                    while db.batch_execute(complete).await.is_ok() && !stop.load(Ordering::Relaxed)
                    {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };

    let end = Instant::now() + total;
    let mut restarts = 0;
    while Instant::now() + every < end {
        tokio::time::sleep(every).await;
        pg.stop().await;
        eventually("NOT_SERVING", || async {
            (health_status(&srv.channel).await == Some(ServingStatus::NotServing)).then_some(())
        })
        .await;
        pg.restart().await;
        eventually("SERVING", || async {
            (health_status(&srv.channel).await == Some(ServingStatus::Serving)).then_some(())
        })
        .await;
        restarts += 1;
    }
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    worker.await.unwrap();
    let db = connect(&url).await.unwrap();
    db.batch_execute(complete).await.expect("final completion");

    let waits = std::mem::take(&mut *waits.lock().unwrap());
    let outcomes = tokio::time::timeout(DRAIN, futures::future::join_all(waits)).await;
    for outcome in outcomes.expect("every wait delivers") {
        assert_eq!(outcome.unwrap(), Ok(pb::WorkflowStatus::Success));
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    let unique: HashSet<&String> = acked.iter().collect();
    let rows = db
        .query(
            "SELECT workflow_uuid, status FROM dbos.workflow_status WHERE name = 'soak'",
            &[],
        )
        .await
        .unwrap();
    let stored: HashSet<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(unique.len(), acked.len(), "an id acknowledged twice");
    assert!(
        unique.iter().all(|id| stored.contains(*id)),
        "an acknowledged enqueue is missing"
    );
    assert!(rows.iter().all(|r| r.get::<_, String>(1) == "SUCCESS"));
    eventually("no waiter left", || async {
        (srv.hub.waiting_keys() == 0).then_some(())
    })
    .await;
    println!(
        "soak: {total:?}, {restarts} restarts, {} enqueues acknowledged, {} rows, all awaited to SUCCESS",
        acked.len(),
        stored.len()
    );
    srv.stop().await;
    pg.stop().await;
}
