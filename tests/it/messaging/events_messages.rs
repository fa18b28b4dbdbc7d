//! SendMessage and GetEvent against the tables (the worker-side tests are in `interop/`).

use std::{
    sync::atomic::Ordering,
    time::{Duration, Instant},
};

use dbosd::pb;
use serde_json::json;
use tonic::Code;

use crate::harness::{assert_status, enqueue_req, eventually, pv, TestDb, TestServer, WAIT};

async fn enqueue(srv: &mut TestServer, id: &str) {
    let mut req = enqueue_req("wait_recv", "test_queue", vec![]);
    req.workflow_id = Some(id.into());
    srv.client.enqueue_workflow(req).await.unwrap();
}

#[tokio::test]
async fn send_writes_the_notification_dbos_writes_and_is_idempotent_with_a_key() {
    let mut srv = TestServer::start().await;
    enqueue(&mut srv, "dest").await;
    let resp = srv
        .client
        .send_message(pb::SendMessageRequest {
            destination_id: "dest".into(),
            message: Some(pv(json!({"hello": [1, 2]}))),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(resp.delivered);
    assert!(uuid::Uuid::parse_str(&resp.message_id).is_ok());

    let keyed = pb::SendMessageRequest {
        destination_id: "dest".into(),
        topic: Some("t".into()),
        message_json: "12345678901234567890".into(),
        idempotency_key: Some("k1".into()),
        ..Default::default()
    };
    let first = srv
        .client
        .send_message(keyed.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.message_id, "k1::dest");
    assert!(first.delivered);
    let second = srv.client.send_message(keyed).await.unwrap().into_inner();
    assert_eq!(second.message_id, "k1::dest");
    assert!(!second.delivered, "a repeat with the same key is a no-op");

    let db = srv.db.client().await;
    let rows = db
        .query(
            "SELECT topic, message, serialization, message_uuid, consumed FROM dbos.notifications
             WHERE destination_uuid = 'dest' ORDER BY created_at_epoch_ms, topic",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    let by_topic = |topic: &str| {
        rows.iter()
            .find(|r| r.get::<_, String>(0) == topic)
            .expect("row")
    };
    let default = by_topic("__null__topic__");
    assert_eq!(default.get::<_, String>(1), r#"{"hello":[1,2]}"#);
    assert_eq!(default.get::<_, String>(2), "portable_json");
    assert!(!default.get::<_, bool>(4));
    let keyed = by_topic("t");
    assert_eq!(keyed.get::<_, String>(1), "12345678901234567890");
    assert_eq!(keyed.get::<_, String>(3), "k1::dest");
    srv.stop().await;
}

#[tokio::test]
async fn send_errors() {
    let mut srv = TestServer::start().await;
    let to = |dest: &str| pb::SendMessageRequest {
        destination_id: dest.into(),
        message: Some(pv(json!(1))),
        ..Default::default()
    };
    assert_status(
        srv.client.send_message(to("missing")).await,
        Code::NotFound,
        "missing",
    );
    assert_status(
        srv.client.send_message(to("")).await,
        Code::InvalidArgument,
        "destination_id",
    );
    enqueue(&mut srv, "d").await;
    let no_message = pb::SendMessageRequest {
        destination_id: "d".into(),
        ..Default::default()
    };
    assert_status(
        srv.client.send_message(no_message).await,
        Code::InvalidArgument,
        "message",
    );
    let both = pb::SendMessageRequest {
        message_json: "1".into(),
        ..to("d")
    };
    assert_status(
        srv.client.send_message(both).await,
        Code::InvalidArgument,
        "message_json",
    );
    let bad_json = pb::SendMessageRequest {
        destination_id: "d".into(),
        message_json: "{".into(),
        ..Default::default()
    };
    assert_status(
        srv.client.send_message(bad_json).await,
        Code::InvalidArgument,
        "message_json",
    );
    let blank_key = pb::SendMessageRequest {
        idempotency_key: Some(" ".into()),
        ..to("d")
    };
    assert_status(
        srv.client.send_message(blank_key).await,
        Code::InvalidArgument,
        "idempotency_key",
    );
    let nul_topic = pb::SendMessageRequest {
        topic: Some("a\0".into()),
        ..to("d")
    };
    assert_status(
        srv.client.send_message(nul_topic).await,
        Code::InvalidArgument,
        "topic",
    );
    srv.stop().await;
}

/// The hub polls once a minute here, far past every bound below, so a waiting GetEvent that gets
/// the value in time was woken by the NOTIFY a worker sends after setting it (the hub's LISTEN).
#[tokio::test]
async fn a_waiting_get_event_is_woken_by_the_notification() {
    let db = TestDb::new().await;
    let mut srv = TestServer::start_on(db, |s| s.hub_tick = Duration::from_secs(60)).await;
    enqueue(&mut srv, "ev").await;
    let db = srv.db.client().await;
    let req = |key: &str, seconds: i64| pb::GetEventRequest {
        workflow_id: "ev".into(),
        key: key.into(),
        timeout: Some(prost_types::Duration { seconds, nanos: 0 }),
    };
    // The poller's first tick comes at once when something first waits: spend it on another key,
    // so the next poll is a minute away when the waiter below starts.
    let mut warm = srv.client.clone();
    let warming = tokio::spawn(async move { warm.get_event(req("warm", 1)).await });
    eventually("the hub's first poll", || async {
        (srv.hub.stats.poll_ticks.load(Ordering::Relaxed) > 0).then_some(())
    })
    .await;
    assert!(!warming.await.unwrap().unwrap().into_inner().found);
    eventually("the hub to LISTEN", || async {
        (srv.hub.stats.listen_connects.load(Ordering::Relaxed) > 0).then_some(())
    })
    .await;
    let ticks = srv.hub.stats.poll_ticks.load(Ordering::Relaxed);

    let mut waiter = srv.client.clone();
    // Its own timeout is longer than the bound on the answer, so its final re-read cannot answer.
    let wait = tokio::spawn(async move { waiter.get_event(req("k", 50)).await });
    eventually("the GetEvent to wait on its key", || async {
        (srv.hub.waiting_keys() == 1).then_some(())
    })
    .await;
    let notified = srv.hub.stats.notifications.load(Ordering::Relaxed);
    db.batch_execute(
        "INSERT INTO dbos.workflow_events (workflow_uuid, key, value, serialization) VALUES ('ev', 'k', '{\"v\":1}', 'portable_json');
         SELECT pg_notify('dbos_workflow_events_channel', 'ev::k');",
    )
    .await
    .unwrap();
    let got = tokio::time::timeout(WAIT, wait)
        .await
        .expect("the notification wakes the waiter long before the next poll")
        .unwrap()
        .unwrap()
        .into_inner();
    assert!(got.found);
    assert_eq!(got.value.unwrap().text, r#"{"v":1}"#);
    assert!(srv.hub.stats.notifications.load(Ordering::Relaxed) > notified);
    assert_eq!(
        srv.hub.stats.poll_ticks.load(Ordering::Relaxed),
        ticks,
        "no poll ran meanwhile"
    );
    srv.stop().await;
}

#[tokio::test]
async fn get_event_reads_waits_and_times_out() {
    let mut srv = TestServer::start().await;
    enqueue(&mut srv, "ev").await;
    let db = srv.db.client().await;
    let req = |timeout_ms: Option<i64>| pb::GetEventRequest {
        workflow_id: "ev".into(),
        key: "k".into(),
        timeout: timeout_ms.map(|ms| prost_types::Duration {
            seconds: ms / 1000,
            nanos: ((ms % 1000) * 1_000_000) as i32,
        }),
    };

    let started = Instant::now();
    let none = srv
        .client
        .get_event(req(Some(0)))
        .await
        .unwrap()
        .into_inner();
    assert!(!none.found && none.value.is_none());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "timeout 0 reads once"
    );

    let started = Instant::now();
    let none = srv
        .client
        .get_event(req(Some(300)))
        .await
        .unwrap()
        .into_inner();
    assert!(!none.found);
    assert!(started.elapsed() >= Duration::from_millis(300));

    // A value set while a GetEvent waits: `a_waiting_get_event_is_woken_by_the_notification`.
    db.execute(
        "INSERT INTO dbos.workflow_events (workflow_uuid, key, value, serialization) VALUES ('ev', 'k', '{\"v\":1}', 'portable_json')",
        &[],
    )
    .await
    .unwrap();
    let got = srv.client.get_event(req(None)).await.unwrap().into_inner();
    assert!(got.found);
    let value = got.value.unwrap();
    assert_eq!(value.text, r#"{"v":1}"#);
    assert_eq!(value.json, Some(pv(json!({"v": 1}))));

    // Native serializations come back as text, never decoded.
    db.execute(
        "INSERT INTO dbos.workflow_events (workflow_uuid, key, value, serialization) VALUES ('ev', 'native', 'gASV', 'py_pickle')",
        &[],
    )
    .await
    .unwrap();
    let native = srv
        .client
        .get_event(pb::GetEventRequest {
            workflow_id: "ev".into(),
            key: "native".into(),
            timeout: None,
        })
        .await
        .unwrap()
        .into_inner();
    let value = native.value.unwrap();
    assert_eq!(
        (value.serialization.as_str(), value.text.as_str()),
        ("py_pickle", "gASV")
    );
    assert!(value.json.is_none());

    assert_status(
        srv.client
            .get_event(pb::GetEventRequest {
                workflow_id: String::new(),
                key: "k".into(),
                timeout: None,
            })
            .await,
        Code::InvalidArgument,
        "workflow_id",
    );
    assert_status(
        srv.client
            .get_event(pb::GetEventRequest {
                workflow_id: "ev".into(),
                key: String::new(),
                timeout: None,
            })
            .await,
        Code::InvalidArgument,
        "key",
    );
    assert_status(
        srv.client.get_event(req(Some(-5))).await,
        Code::InvalidArgument,
        "timeout",
    );
    assert_status(
        srv.client.get_event(req(Some(2 * 86_400_000))).await,
        Code::InvalidArgument,
        "timeout",
    );
    srv.stop().await;
}

#[tokio::test]
async fn send_to_forks_reaches_every_fork_once() {
    let mut srv = TestServer::start().await;
    enqueue(&mut srv, "src").await;
    let db = srv.db.client().await;
    // Forks as ForkWorkflow leaves them: f1 from src, f2 from f1 (recursive), other unrelated.
    db.batch_execute(
        "INSERT INTO dbos.workflow_status (workflow_uuid, status, name, queue_name, serialization, forked_from) VALUES
           ('f1', 'ENQUEUED', 'wait_recv', 'test_queue', 'portable_json', 'src'),
           ('f2', 'ENQUEUED', 'wait_recv', 'test_queue', 'portable_json', 'f1'),
           ('other', 'ENQUEUED', 'wait_recv', 'test_queue', 'portable_json', NULL);",
    )
    .await
    .unwrap();
    let req = pb::SendMessageRequest {
        destination_id: "src".into(),
        message: Some(pv(json!("hi"))),
        idempotency_key: Some("k".into()),
        send_to_forks: true,
        ..Default::default()
    };
    let first = srv
        .client
        .send_message(req.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(first.delivered);
    assert_eq!(first.fork_ids, ["f1", "f2"]);
    let again = srv
        .client
        .send_message(req.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(!again.delivered, "idempotent per destination");
    let ids: Vec<String> = db
        .query(
            "SELECT message_uuid FROM dbos.notifications ORDER BY message_uuid",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids, ["k::f1", "k::f2", "k::src"]);
    let batch = pb::SendMessagesRequest {
        messages: vec![req],
    };
    assert_status(
        srv.client.send_messages(batch).await,
        Code::InvalidArgument,
        "send_to_forks",
    );
    srv.stop().await;
}
