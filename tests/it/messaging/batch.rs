//! SendMessages, Transact, GetWorkflowEvents and the aggregates against the tables.

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

#[tokio::test]
async fn aggregates_count_workflows_and_steps_by_group() {
    let mut srv = TestServer::start().await;
    srv.db
        .client()
        .await
        .batch_execute(
            "INSERT INTO dbos.workflow_status (workflow_uuid, status, name, queue_name, created_at,
                 started_at_epoch_ms, completed_at, application_name) VALUES
                 ('a1', 'SUCCESS', 'alpha', 'q1', 1000, 1100, 1500, NULL),
                 ('a2', 'SUCCESS', 'alpha', 'q1', 2500, 3000, 2600, NULL),
                 ('a3', 'ERROR', 'alpha', 'q2', 2600, NULL, NULL, NULL),
                 ('b1', 'ENQUEUED', 'beta', NULL, 3000, NULL, NULL, 'other-app');
             INSERT INTO dbos.operation_outputs (workflow_uuid, function_id, function_name, output, error,
                 started_at_epoch_ms, completed_at_epoch_ms) VALUES
                 ('a1', 1, 'fetch', 'x', NULL, 100, 300),
                 ('a1', 2, 'fetch', NULL, 'boom', 400, 450),
                 ('a2', 1, 'fetch', 'y', NULL, 1000, 1900),
                 ('a2', 2, 'store', 'z', NULL, 2000, 2010);",
        )
        .await
        .unwrap();
    let req = |group_by: Vec<pb::WorkflowGroupBy>, bucket_ms: Option<i64>| {
        pb::GetWorkflowAggregatesRequest {
            group_by: group_by.into_iter().map(|g| g as i32).collect(),
            time_bucket: bucket_ms.map(|ms| prost_types::Duration {
                seconds: ms / 1000,
                nanos: ((ms % 1000) * 1_000_000) as i32,
            }),
            ..Default::default()
        }
    };
    let values = |a: &pb::WorkflowAggregate| -> Vec<Option<String>> {
        a.group.iter().map(|g| g.value.clone()).collect()
    };
    let aggs = srv
        .client
        .get_workflow_aggregates(req(
            vec![
                pb::WorkflowGroupBy::WorkflowName,
                pb::WorkflowGroupBy::Status,
            ],
            None,
        ))
        .await
        .unwrap()
        .into_inner()
        .aggregates;
    let got: Vec<(Vec<Option<String>>, i64)> = aggs.iter().map(|a| (values(a), a.count)).collect();
    let s = |v: &str| Some(v.to_owned());
    assert_eq!(
        got,
        [
            (vec![s("alpha"), s("ERROR")], 1),
            (vec![s("alpha"), s("SUCCESS")], 2),
            (vec![s("beta"), s("ENQUEUED")], 1),
        ]
    );
    let success = &aggs[1];
    assert_eq!(success.min_created_at.unwrap().seconds, 1);
    assert_eq!(success.max_queue_wait.unwrap().nanos, 500_000_000);
    assert_eq!(success.max_total_latency.unwrap().nanos, 500_000_000);
    assert!(aggs[0].max_queue_wait.is_none(), "never dequeued");

    // A time bucket and a workflow filter (here: one queue).
    let mut bucketed = req(vec![pb::WorkflowGroupBy::QueueName], Some(2000));
    bucketed.filter = Some(pb::WorkflowFilter {
        queue_names: vec!["q1".into()],
        ..Default::default()
    });
    let aggs = srv
        .client
        .get_workflow_aggregates(bucketed)
        .await
        .unwrap()
        .into_inner()
        .aggregates;
    let got: Vec<(i64, i64)> = aggs
        .iter()
        .map(|a| (a.time_bucket_start.unwrap().seconds, a.count))
        .collect();
    assert_eq!(got, [(0, 1), (2, 1)]);

    for (bad, needle) in [
        (req(vec![], None), "group_by"),
        (
            req(vec![pb::WorkflowGroupBy::Unspecified], None),
            "group_by",
        ),
        (req(vec![], Some(0)), "time_bucket"),
        (
            pb::GetWorkflowAggregatesRequest {
                filter: Some(pb::WorkflowFilter {
                    statuses: vec![0],
                    ..Default::default()
                }),
                ..req(vec![pb::WorkflowGroupBy::Status], None)
            },
            "filter.statuses",
        ),
        (
            pb::GetWorkflowAggregatesRequest {
                limit: -1,
                ..req(vec![pb::WorkflowGroupBy::Status], None)
            },
            "limit",
        ),
    ] {
        assert_status(
            srv.client.get_workflow_aggregates(bad).await,
            Code::InvalidArgument,
            needle,
        );
    }

    let steps = srv
        .client
        .get_step_aggregates(pb::GetStepAggregatesRequest {
            group_by: vec![
                pb::StepGroupBy::FunctionName as i32,
                pb::StepGroupBy::Status as i32,
            ],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .aggregates;
    let got: Vec<(Vec<Option<String>>, i64, i32)> = steps
        .iter()
        .map(|a| {
            (
                a.group.iter().map(|g| g.value.clone()).collect(),
                a.count,
                a.max_duration.unwrap().nanos,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (vec![s("fetch"), s("ERROR")], 1, 50_000_000),
            (vec![s("fetch"), s("SUCCESS")], 2, 900_000_000),
            (vec![s("store"), s("SUCCESS")], 1, 10_000_000),
        ]
    );
    let errors = srv
        .client
        .get_step_aggregates(pb::GetStepAggregatesRequest {
            time_bucket: Some(prost_types::Duration {
                seconds: 1,
                nanos: 0,
            }),
            statuses: vec![pb::WorkflowStatus::Error as i32],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .aggregates;
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].count, 1);
    for (bad, needle) in [
        (pb::GetStepAggregatesRequest::default(), "group_by"),
        (
            pb::GetStepAggregatesRequest {
                group_by: vec![pb::StepGroupBy::Status as i32],
                statuses: vec![pb::WorkflowStatus::Pending as i32],
                ..Default::default()
            },
            "statuses",
        ),
        (
            pb::GetStepAggregatesRequest {
                group_by: vec![0],
                ..Default::default()
            },
            "group_by",
        ),
    ] {
        assert_status(
            srv.client.get_step_aggregates(bad).await,
            Code::InvalidArgument,
            needle,
        );
    }
}

#[tokio::test]
async fn owner_and_step_rpcs_refuse_a_schema_that_predates_them() {
    let db = crate::harness::TestDb::new().await;
    db.client()
        .await
        .batch_execute(
            "ALTER TABLE dbos.operation_outputs DROP COLUMN completed_at_epoch_ms;
             ALTER TABLE dbos.workflow_status DROP COLUMN application_name CASCADE;",
        )
        .await
        .unwrap();
    let mut srv = TestServer::start_on(db, |_| {}).await;
    assert_status(
        srv.client
            .get_step_aggregates(pb::GetStepAggregatesRequest {
                group_by: vec![pb::StepGroupBy::FunctionName as i32],
                ..Default::default()
            })
            .await,
        Code::FailedPrecondition,
        "step timestamps",
    );
    assert_status(
        srv.client
            .rename_application(pb::RenameApplicationRequest {
                old_name: Some("old-app".into()),
                new_name: "new-app".into(),
                ..Default::default()
            })
            .await,
        Code::FailedPrecondition,
        "application owners",
    );
}
