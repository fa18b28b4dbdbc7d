//! A database restart under load: 200 AwaitWorkflow streams wait and enqueues flow while PostgreSQL
//! (a private cluster of this test) stops and starts again on the same port. dbosd must report
//! NOT_SERVING and UNAVAILABLE meanwhile, recover its pool and hub by itself, deliver every wait's
//! result afterwards, and have stored every enqueue it acknowledged exactly once.

use std::{
    collections::HashSet,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use dbosd::pb;
use futures::StreamExt;
use serde_json::json;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;

use crate::harness::{
    connect, enqueue_req, eventually, health_status, RestartableDb, TestDb, TestServer, WAIT,
};

const STREAMS: usize = 200;
const ENQUEUERS: usize = 4;

/// What the enqueue tasks saw: ids acknowledged with OK, and how many calls failed (by code).
#[derive(Default)]
struct Flow {
    acked: Vec<String>,
    failed: Vec<Code>,
}

#[tokio::test]
async fn waits_and_enqueues_survive_a_database_restart() {
    let mut pg = RestartableDb::start(None).await;
    let url = pg.url();
    let mut srv = TestServer::start_on(TestDb::external(&url, "postgres"), |s| {
        s.migrate = true;
        s.pool.acquire_timeout = Duration::from_secs(1);
    })
    .await;

    // 200 waits, each confirmed open by its first status update.
    let mut streams = Vec::new();
    for n in 0..STREAMS {
        let mut req = enqueue_req("slow", "q", vec![json!(n)]);
        req.workflow_id = Some(format!("wait-{n}"));
        srv.client.enqueue_workflow(req).await.expect("enqueue");
        let req = pb::AwaitWorkflowRequest {
            workflow_id: format!("wait-{n}"),
            timeout: None,
            ..Default::default()
        };
        let mut stream = srv
            .client
            .await_workflow(req)
            .await
            .expect("await")
            .into_inner();
        let first = tokio::time::timeout(WAIT, stream.next())
            .await
            .expect("first update");
        assert!(first.is_some_and(|m| m.is_ok()));
        streams.push(stream);
    }
    eventually("every wait registered in the hub", || async {
        (srv.hub.waiting_keys() == STREAMS).then_some(())
    })
    .await;

    // Enqueues flow throughout, with server-generated ids (so a duplicate would be a second row).
    let stop = Arc::new(AtomicBool::new(false));
    let flow = Arc::new(Mutex::new(Flow::default()));
    let mut enqueuers = Vec::new();
    for t in 0..ENQUEUERS {
        let (stop, flow, mut client) = (stop.clone(), flow.clone(), srv.client.clone());
        enqueuers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let r = client
                    .enqueue_workflow(enqueue_req("flow", "q", vec![json!(t)]))
                    .await;
                match r {
                    Ok(r) => flow.lock().unwrap().acked.push(r.into_inner().workflow_id),
                    Err(s) => flow.lock().unwrap().failed.push(s.code()),
                }
                // Pacing, not synchronization: keep the load steady without spinning on errors.
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }));
    }
    let acked = || flow.lock().unwrap().acked.len();
    let before = acked();
    eventually("enqueues to flow", || async {
        (acked() > before + 20).then_some(())
    })
    .await;

    pg.stop().await;
    eventually("NOT_SERVING while the database is down", || async {
        (health_status(&srv.channel).await == Some(ServingStatus::NotServing)).then_some(())
    })
    .await;
    let err = eventually("UNAVAILABLE while the database is down", || {
        let mut c = srv.client.clone();
        async move {
            let r = c
                .get_workflow(pb::GetWorkflowRequest {
                    workflow_id: "wait-0".into(),
                    ..Default::default()
                })
                .await;
            r.err().filter(|s| s.code() == Code::Unavailable)
        }
    })
    .await;
    assert!(err.message().contains("retry"), "{err:?}");

    pg.restart().await;
    eventually("SERVING after the restart", || async {
        (health_status(&srv.channel).await == Some(ServingStatus::Serving)).then_some(())
    })
    .await;
    let before = acked();
    eventually("enqueues to flow again", || async {
        (acked() > before + 20).then_some(())
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for task in enqueuers {
        tokio::time::timeout(WAIT, task)
            .await
            .expect("enqueuer ends")
            .unwrap();
    }

    // Complete every awaited workflow the way a worker does; every stream must deliver its outcome.
    let mut db = connect(&url).await.unwrap();
    let tx = db.transaction().await.unwrap();
    tx.batch_execute(
        "UPDATE dbos.workflow_status SET status = 'SUCCESS', completed_at = 1
           WHERE workflow_uuid LIKE 'wait-%';
         INSERT INTO dbos.workflow_output (workflow_uuid, output)
           SELECT workflow_uuid, '\"done\"' FROM dbos.workflow_status WHERE workflow_uuid LIKE 'wait-%';",
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let outcomes = futures::future::join_all(streams.into_iter().map(|mut s| async move {
        loop {
            match s.next().await {
                Some(Ok(pb::AwaitWorkflowResponse {
                    kind: Some(pb::await_workflow_response::Kind::Outcome(o)),
                })) => return Ok(o),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(format!("stream ended with {e:?}")),
                None => return Err("stream ended without an outcome".to_owned()),
            }
        }
    }));
    let outcomes = tokio::time::timeout(WAIT, outcomes)
        .await
        .expect("outcomes in time");
    for (n, o) in outcomes.into_iter().enumerate() {
        let o = o.unwrap_or_else(|e| panic!("wait-{n}: {e}"));
        assert_eq!(
            (o.workflow_id.as_str(), o.status()),
            (format!("wait-{n}").as_str(), pb::WorkflowStatus::Success)
        );
    }
    eventually("every waiter to leave the hub", || async {
        (srv.hub.waiting_keys() == 0).then_some(())
    })
    .await;

    // Every acknowledged enqueue is stored once; failed calls were retryable (and may have landed).
    let flow = std::mem::take(&mut *flow.lock().unwrap());
    let unique: HashSet<&String> = flow.acked.iter().collect();
    assert_eq!(unique.len(), flow.acked.len(), "an id acknowledged twice");
    let rows = db
        .query(
            "SELECT workflow_uuid FROM dbos.workflow_status WHERE name = 'flow'",
            &[],
        )
        .await
        .unwrap();
    let stored: HashSet<String> = rows.iter().map(|r| r.get(0)).collect();
    let missing: Vec<_> = unique.iter().filter(|id| !stored.contains(**id)).collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not stored: {missing:?}"
    );
    assert!(stored.len() <= flow.acked.len() + flow.failed.len());
    let retryable = [
        Code::Unavailable,
        Code::ResourceExhausted,
        Code::DeadlineExceeded,
    ];
    assert!(
        flow.failed.iter().all(|c| retryable.contains(c)),
        "failures: {:?}",
        flow.failed
    );
    srv.stop().await;
    pg.stop().await;
}
