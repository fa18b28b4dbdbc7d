//! SendMessages, Transact and GetWorkflowEvents against the tables (the aggregates are in
//! `aggregates.rs`).

use dbosd::pb::{self, transact_operation::Operation, transact_result::Result as TxResult};
use serde_json::json;
use tonic::Code;

use crate::harness::{assert_status, enqueue_req, pv, TestServer};

fn send(dest: &str, msg: serde_json::Value, key: Option<&str>) -> pb::SendMessageRequest {
    pb::SendMessageRequest {
        destination_id: dest.into(),
        message: Some(pv(msg)),
        idempotency_key: key.map(str::to_owned),
        ..Default::default()
    }
}

fn enqueue_op(id: &str, workflow: &str) -> pb::TransactOperation {
    let mut req = enqueue_req(workflow, "test_queue", vec![json!(1)]);
    req.workflow_id = Some(id.into());
    pb::TransactOperation {
        operation: Some(Operation::Enqueue(req)),
    }
}

fn send_op(req: pb::SendMessageRequest) -> pb::TransactOperation {
    pb::TransactOperation {
        operation: Some(Operation::Send(req)),
    }
}

async fn count(srv: &TestServer, sql: &str) -> i64 {
    srv.db.count(sql).await
}

#[tokio::test]
async fn send_messages_writes_all_or_nothing() {
    let mut srv = TestServer::start().await;
    let mut req = enqueue_req("wait_recv", "test_queue", vec![]);
    req.workflow_id = Some("dest".into());
    srv.client.enqueue_workflow(req).await.unwrap();

    let results = srv
        .client
        .send_messages(pb::SendMessagesRequest {
            messages: vec![
                send("dest", json!(1), Some("k1")),
                send("dest", json!(2), None),
            ],
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(results.len(), 2);
    assert_eq!(results[0].message_id, "k1::dest");
    assert!(results[0].delivered && results[1].delivered);
    // A repeat of a keyed message is not delivered twice.
    let again = srv
        .client
        .send_messages(pb::SendMessagesRequest {
            messages: vec![send("dest", json!(1), Some("k1"))],
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert!(!again[0].delivered);

    // One missing destination: nothing of the call is written.
    assert_status(
        srv.client
            .send_messages(pb::SendMessagesRequest {
                messages: vec![send("dest", json!(3), None), send("ghost", json!(4), None)],
            })
            .await,
        Code::NotFound,
        "messages[1]: destination workflow ghost",
    );
    assert_eq!(
        count(&srv, "SELECT count(*) FROM dbos.notifications").await,
        2
    );

    assert_status(
        srv.client
            .send_messages(pb::SendMessagesRequest {
                messages: vec![
                    send("dest", json!(3), Some("k")),
                    send("other", json!(4), Some("k")),
                ],
            })
            .await,
        Code::InvalidArgument,
        "messages[1].idempotency_key",
    );
    assert_status(
        srv.client
            .send_messages(pb::SendMessagesRequest { messages: vec![] })
            .await,
        Code::InvalidArgument,
        "messages",
    );
    let mut bad = send("dest", json!(1), None);
    bad.message = None;
    assert_status(
        srv.client
            .send_messages(pb::SendMessagesRequest {
                messages: vec![send("dest", json!(1), None), bad],
            })
            .await,
        Code::InvalidArgument,
        "messages[1].message",
    );
}

#[tokio::test]
async fn transact_commits_enqueues_and_sends_together_or_not_at_all() {
    let mut srv = TestServer::start().await;
    // A workflow enqueued in the call can receive a message of the same call.
    let resp = srv
        .client
        .transact(pb::TransactRequest {
            operations: vec![
                enqueue_op("t1", "wait_recv"),
                send_op(send("t1", json!({"hi": 1}), Some("once"))),
                enqueue_op("t2", "echo"),
            ],
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    let Some(TxResult::Enqueue(first)) = &resp[0].result else {
        panic!("{resp:?}")
    };
    assert_eq!(first.outcome(), pb::EnqueueOutcome::Created);
    assert_eq!(first.status(), pb::WorkflowStatus::Enqueued);
    let Some(TxResult::Send(sent)) = &resp[1].result else {
        panic!("{resp:?}")
    };
    assert_eq!(
        (sent.message_id.as_str(), sent.delivered),
        ("once::t1", true)
    );
    assert_eq!(
        count(
            &srv,
            "SELECT count(*) FROM dbos.workflow_input WHERE workflow_uuid IN ('t1', 't2')"
        )
        .await,
        2
    );

    // Re-running is idempotent: EXISTING workflows, an undelivered keyed message; and a held
    // deduplication id under RETURN_EXISTING is DEDUPLICATED inside the transaction.
    let mut dedup_a = enqueue_req("echo", "test_queue", vec![]);
    dedup_a.workflow_id = Some("d1".into());
    dedup_a.deduplication_id = Some("job".into());
    let mut dedup_b = dedup_a.clone();
    dedup_b.workflow_id = Some("d2".into());
    dedup_b.deduplication_policy = pb::DeduplicationPolicy::ReturnExisting as i32;
    let resp = srv
        .client
        .transact(pb::TransactRequest {
            operations: vec![
                enqueue_op("t1", "wait_recv"),
                send_op(send("t1", json!({"hi": 1}), Some("once"))),
                pb::TransactOperation {
                    operation: Some(Operation::Enqueue(dedup_a.clone())),
                },
                pb::TransactOperation {
                    operation: Some(Operation::Enqueue(dedup_b)),
                },
            ],
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    let outcomes: Vec<String> = resp
        .iter()
        .map(|r| match &r.result {
            Some(TxResult::Enqueue(e)) => format!("{}:{:?}", e.workflow_id, e.outcome()),
            Some(TxResult::Send(s)) => format!("send:{}", s.delivered),
            None => "none".into(),
        })
        .collect();
    assert_eq!(
        outcomes,
        ["t1:Existing", "send:false", "d1:Created", "d1:Deduplicated"]
    );

    // A failing operation rolls back the ones before it.
    for (ops, code, needle) in [
        (
            vec![enqueue_op("t3", "echo"), enqueue_op("t1", "echo")],
            Code::AlreadyExists,
            "operations[1]: workflow t1 already exists",
        ),
        (
            vec![
                enqueue_op("t3", "echo"),
                send_op(send("ghost", json!(1), None)),
            ],
            Code::NotFound,
            "operations[1]: destination workflow ghost",
        ),
        (
            vec![
                enqueue_op("t3", "echo"),
                pb::TransactOperation {
                    operation: Some(Operation::Enqueue(pb::EnqueueWorkflowRequest {
                        workflow_id: Some("d3".into()),
                        ..dedup_a
                    })),
                },
            ],
            Code::AlreadyExists,
            "operations[1]: workflow d3 was deduplicated",
        ),
    ] {
        assert_status(
            srv.client
                .transact(pb::TransactRequest { operations: ops })
                .await,
            code,
            needle,
        );
    }
    assert_eq!(
        count(
            &srv,
            "SELECT count(*) FROM dbos.workflow_status WHERE workflow_uuid = 't3'"
        )
        .await,
        0
    );

    let mut bad = enqueue_req("", "test_queue", vec![]);
    bad.workflow_id = Some("x".into());
    for (ops, needle) in [
        (vec![], "operations"),
        (
            vec![pb::TransactOperation { operation: None }],
            "operations[0]",
        ),
        (
            vec![
                enqueue_op("t4", "echo"),
                pb::TransactOperation {
                    operation: Some(Operation::Enqueue(bad)),
                },
            ],
            "operations[1].enqueue.workflow_name",
        ),
        (
            vec![
                send_op(send("t1", json!(1), Some("k"))),
                send_op(send("t2", json!(1), Some("k"))),
            ],
            "operations[1].idempotency_key",
        ),
    ] {
        assert_status(
            srv.client
                .transact(pb::TransactRequest { operations: ops })
                .await,
            Code::InvalidArgument,
            needle,
        );
    }
}

#[tokio::test]
async fn get_workflow_events_returns_every_key() {
    let mut srv = TestServer::start().await;
    for id in ["with", "without"] {
        let mut req = enqueue_req("echo", "test_queue", vec![]);
        req.workflow_id = Some(id.into());
        srv.client.enqueue_workflow(req).await.unwrap();
    }
    srv.db
        .client()
        .await
        .batch_execute(
            "INSERT INTO dbos.workflow_events (workflow_uuid, key, value, serialization) VALUES
                 ('with', 'b', '{\"n\":2}', 'portable_json'), ('with', 'a', 'gAROLg==', NULL)",
        )
        .await
        .unwrap();
    let events = srv
        .client
        .get_workflow_events(pb::GetWorkflowEventsRequest {
            workflow_id: "with".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].key, "a");
    let native = events[0].value.as_ref().unwrap();
    assert_eq!(
        (native.serialization.as_str(), native.text.as_str()),
        ("", "gAROLg==")
    );
    assert_eq!(
        events[1].value.as_ref().unwrap().json,
        Some(pv(json!({"n": 2})))
    );
    let none = srv
        .client
        .get_workflow_events(pb::GetWorkflowEventsRequest {
            workflow_id: "without".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(none.events.is_empty());
    assert_status(
        srv.client
            .get_workflow_events(pb::GetWorkflowEventsRequest {
                workflow_id: "ghost".into(),
            })
            .await,
        Code::NotFound,
        "ghost",
    );
    assert_status(
        srv.client
            .get_workflow_events(pb::GetWorkflowEventsRequest::default())
            .await,
        Code::InvalidArgument,
        "workflow_id",
    );
}
