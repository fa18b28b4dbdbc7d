//! More waits than one poll checks per tick (`dbosd::hub::poller::SWEEP_KEYS`): the sweep still
//! reaches every key (a change nobody notified, an intermediate status), results are found through
//! the "created or finished lately" part of the poll, and that part reads only rows past its
//! watermark.

use std::collections::HashSet;

use dbosd::{
    hub::poller::SWEEP_KEYS,
    pb::{await_workflow_response::Kind, AwaitWorkflowRequest, WatchEventRequest, WorkflowStatus},
};
use tokio_stream::StreamExt;

use super::{status_keys, OwnPoller};
use crate::harness::{eventually, TestDb, TestServer, WAIT};

fn await_req(id: &str) -> AwaitWorkflowRequest {
    AwaitWorkflowRequest {
        workflow_id: id.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn waits_beyond_one_sweep_chunk_are_all_woken() {
    let srv = TestServer::start().await;
    let hub = srv.hub.clone();
    let count = SWEEP_KEYS + 200;
    let ids: Vec<String> = (0..count).map(|i| format!("swept-{i}")).collect();
    let mut db = srv.db.client().await;
    // Created an hour ago: only the sweep, not the "created lately" part, sees their changes.
    db.execute(
        "INSERT INTO dbos.workflow_status (workflow_uuid, status, name, queue_name, serialization,
           created_at, updated_at)
         SELECT unnest($1::text[]), 'PENDING', 'echo', 'q', 'portable_json',
           (EXTRACT(epoch FROM now()) * 1000)::bigint - 3600000,
           (EXTRACT(epoch FROM now()) * 1000)::bigint - 3600000",
        &[&ids],
    )
    .await
    .unwrap();
    let mut streams = Vec::new();
    for id in &ids {
        let mut client = srv.client.clone();
        let mut stream = client
            .await_workflow(await_req(id))
            .await
            .unwrap()
            .into_inner();
        // The first message is the PENDING status: the wait is registered.
        stream.next().await.unwrap().unwrap();
        streams.push(stream);
    }
    let mut event = srv
        .client
        .clone()
        .watch_event(WatchEventRequest {
            workflow_id: ids[0].clone(),
            key: "unnotified".into(),
            follow: false,
            timeout: None,
        })
        .await
        .unwrap()
        .into_inner();
    eventually("every wait registered", || async {
        (hub.waiting_keys() == count + 1).then_some(())
    })
    .await;

    // An event set without the pg_notify a DBOS worker sends after it: only the sweep sees it.
    db.execute(
        "INSERT INTO dbos.workflow_events (workflow_uuid, key, value, serialization)
         VALUES ($1, 'unnotified', '7', 'portable_json')",
        &[&ids[0]],
    )
    .await
    .unwrap();
    let value = tokio::time::timeout(WAIT, event.next())
        .await
        .expect("a missed notification is made up for by the sweep")
        .unwrap()
        .unwrap();
    assert_eq!(
        value.value.unwrap().json,
        Some(crate::harness::pv(7.into()))
    );

    // An intermediate transition (no completed_at) of the last-registered workflow: the sweep.
    let last = count - 1;
    db.execute(
        "UPDATE dbos.workflow_status SET status = 'ENQUEUED', updated_at = updated_at + 1
         WHERE workflow_uuid = $1",
        &[&ids[last]],
    )
    .await
    .unwrap();
    let update = tokio::time::timeout(WAIT, streams[last].next())
        .await
        .expect("an intermediate status reaches its waiter")
        .unwrap()
        .unwrap();
    match update.kind {
        Some(Kind::StatusUpdate(info)) => assert_eq!(info.status(), WorkflowStatus::Enqueued),
        other => panic!("expected a status update, got {other:?}"),
    }

    // Every workflow finishes at once, as workers would: every waiter gets its outcome.
    let tx = db.transaction().await.unwrap();
    tx.execute(
        "UPDATE dbos.workflow_status SET status = 'SUCCESS', updated_at = updated_at + 2,
           completed_at = (EXTRACT(epoch FROM now()) * 1000)::bigint
         WHERE workflow_uuid = ANY($1)",
        &[&ids],
    )
    .await
    .unwrap();
    tx.execute(
        "INSERT INTO dbos.workflow_output (workflow_uuid, output) SELECT unnest($1::text[]), '1'",
        &[&ids],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let mut finished = HashSet::new();
    for mut stream in streams {
        loop {
            let msg = tokio::time::timeout(WAIT, stream.next())
                .await
                .expect("stream stalled")
                .expect("stream ended without an outcome")
                .unwrap();
            if let Some(Kind::Outcome(outcome)) = msg.kind {
                finished.insert(outcome.workflow_id);
                break;
            }
        }
    }
    assert_eq!(finished.len(), count);
    eventually("all waiters freed", || async {
        (hub.waiting_keys() == 0).then_some(())
    })
    .await;
    srv.stop().await;
}

#[tokio::test]
async fn the_poll_finds_rows_created_or_finished_since_its_watermark_only() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let now: i64 = client
        .query_one("SELECT (EXTRACT(epoch FROM now()) * 1000)::bigint", &[])
        .await
        .unwrap()
        .get(0);
    let hour = 3_600_000;
    // (id, created_at, completed_at): old and unfinished, old and finished long ago, old and just
    // finished, just created.
    let rows: [(&str, i64, Option<i64>); 4] = [
        ("old-running", now - hour, None),
        ("old-finished", now - hour, Some(now - hour / 2)),
        ("just-finished", now - hour, Some(now)),
        ("just-created", now, None),
    ];
    for (id, created, completed) in rows {
        let status = if completed.is_some() {
            "SUCCESS"
        } else {
            "PENDING"
        };
        client
            .execute(
                "INSERT INTO dbos.workflow_status (workflow_uuid, status, name, queue_name,
                   serialization, created_at, updated_at, completed_at)
                 VALUES ($1, $2, 'echo', 'q', 'portable_json', $3, $3, $4)",
                &[&id, &status, &created, &completed],
            )
            .await
            .unwrap();
    }
    let OwnPoller {
        conn, mut poller, ..
    } = OwnPoller::on(&db).await;
    let keys = status_keys(&[]);
    let found = |result: dbosd::repo::waits::PollResult| {
        let mut ids: Vec<String> = result.statuses.into_iter().map(|(id, _)| id).collect();
        ids.sort();
        ids
    };
    let recent = poller
        .poll(&conn, keys, Some(now - 60_000), Default::default())
        .await
        .unwrap();
    assert_eq!(found(recent), ["just-created", "just-finished"]);
    let without = poller
        .poll(&conn, keys, None, Default::default())
        .await
        .unwrap();
    assert!(
        found(without).is_empty(),
        "no watermark, no recent rows: a poll whose sweep covers every key reads none"
    );
}
