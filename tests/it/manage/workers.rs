//! Workflow management against real, unmodified DBOS workers, each test once on the Python app
//! (dbos 3.4.0) and once on the TypeScript app (@dbos-inc/dbos-sdk 5.3.0): cancel, resume,
//! delete and bulk cancel change what the worker does, exactly as the official clients do (forks:
//! `workers_fork.rs`, with the helpers here).

use dbosd::pb::{self, WorkflowActionOutcome as Outcome, WorkflowStatus};
use serde_json::json;
use tonic::Code;

use crate::harness::{
    assert_status, enqueue_req, eventually, get_workflow, payload_json, pv, wait_terminal,
    TestServer, Worker, WorkerLang, WorkerOptions,
};

on_both_workers!(
    a_cancelled_sleeping_workflow_stays_cancelled_and_resumes_to_success,
    delete_leaves_no_row_in_any_table,
    bulk_cancel_by_filter_cancels_exactly_the_matching_workflows,
    resume_starts_a_queued_workflow_now_and_recovers_a_stuck_one,
);

pub(super) async fn with_worker(lang: WorkerLang) -> (TestServer, Worker) {
    let srv = TestServer::start().await;
    let worker = Worker::start(lang, &srv.db.url, WorkerOptions::default()).await;
    (srv, worker)
}

/// How the worker numbers steps, for ForkWorkflow.
pub(super) fn numbering(lang: WorkerLang) -> i32 {
    match lang.first_step_id() {
        0 => pb::StepNumbering::FromZero as i32,
        _ => pb::StepNumbering::FromOne as i32,
    }
}

pub(super) async fn enqueue_as(
    srv: &mut TestServer,
    id: &str,
    mut req: pb::EnqueueWorkflowRequest,
) {
    req.workflow_id = Some(id.into());
    srv.client.enqueue_workflow(req).await.expect("enqueue");
}

/// Waits (bounded) until the workflow has `status`.
pub(super) async fn wait_status(
    srv: &TestServer,
    id: &str,
    status: WorkflowStatus,
) -> pb::WorkflowInfo {
    eventually(&format!("{id} to be {status:?}"), || {
        let mut c = srv.client.clone();
        async move {
            let wf = get_workflow(&mut c, id).await;
            (wf.status() == status).then_some(wf)
        }
    })
    .await
}

/// The workflow's recorded steps, all pages.
pub(super) async fn steps(srv: &TestServer, id: &str) -> Vec<pb::StepInfo> {
    srv.client
        .clone()
        .list_workflow_steps(pb::ListWorkflowStepsRequest {
            workflow_id: id.into(),
            ..Default::default()
        })
        .await
        .expect("ListWorkflowSteps")
        .into_inner()
        .steps
}

pub(super) async fn send(srv: &TestServer, to: &str, topic: &str, message: serde_json::Value) {
    srv.client
        .clone()
        .send_message(pb::SendMessageRequest {
            destination_id: to.into(),
            topic: Some(topic.into()),
            message: Some(pv(message)),
            ..Default::default()
        })
        .await
        .expect("send");
}

pub(super) async fn cancel(srv: &TestServer, id: &str) -> pb::WorkflowActionResult {
    let req = pb::CancelWorkflowRequest {
        workflow_id: id.into(),
        cancel_children: false,
    };
    let resp = srv
        .client
        .clone()
        .cancel_workflow(req)
        .await
        .expect("cancel");
    resp.into_inner().result.expect("result")
}

pub(super) async fn resume(
    srv: &TestServer,
    id: &str,
    queue_name: Option<&str>,
) -> pb::WorkflowActionResult {
    let req = pb::ResumeWorkflowRequest {
        workflow_id: id.into(),
        queue_name: queue_name.map(str::to_owned),
    };
    let resp = srv
        .client
        .clone()
        .resume_workflow(req)
        .await
        .expect("resume");
    resp.into_inner().result.expect("result")
}

pub(super) fn ms(t: &Option<prost_types::Timestamp>) -> i64 {
    let t = t.as_ref().expect("timestamp");
    t.seconds * 1000 + i64::from(t.nanos) / 1_000_000
}

async fn a_cancelled_sleeping_workflow_stays_cancelled_and_resumes_to_success(lang: WorkerLang) {
    let (mut srv, worker) = with_worker(lang).await;
    enqueue_as(
        &mut srv,
        "sleeper",
        enqueue_req("sleepy", "test_queue", vec![json!(2)]),
    )
    .await;
    // Inside DBOS.sleep once its checkpoint (step 1) is recorded.
    let server = &srv;
    let sleep = eventually("the sleeper to sleep", || async move {
        let running = get_workflow(&mut server.client.clone(), "sleeper").await;
        let sleep = steps(server, "sleeper")
            .await
            .into_iter()
            .find(|s| s.function_name == "DBOS.sleep");
        sleep.filter(|_| running.status() == WorkflowStatus::Pending)
    })
    .await;
    let result = cancel(&srv, "sleeper").await;
    assert_eq!(result.outcome(), Outcome::Cancelled);
    assert_eq!(result.previous_status(), WorkflowStatus::Pending);
    let cancelled = get_workflow(&mut srv.client, "sleeper").await;
    assert_eq!(cancelled.status(), WorkflowStatus::Cancelled);
    assert!(
        cancelled.queue_name.is_empty(),
        "cancel takes it off its queue"
    );

    // Absence of a write can only be shown over time: watch until well after the sleep would end.
    let wake_ms = ms(&sleep.started_at) + 2000;
    let db = srv.db.client().await;
    let clock = &db;
    eventually("the sleep to be long over", || async move {
        let now: i64 = clock
            .query_one("SELECT (EXTRACT(epoch FROM now()) * 1000)::bigint", &[])
            .await
            .unwrap()
            .get(0);
        (now > wake_ms + 1500).then_some(())
    })
    .await;
    let after = get_workflow(&mut srv.client, "sleeper").await;
    assert_eq!(
        after.status(),
        WorkflowStatus::Cancelled,
        "the worker never overwrites CANCELLED"
    );
    assert!(after.output.is_none());
    let outputs: i64 = db
        .query_one(
            "SELECT count(*) FROM dbos.workflow_output WHERE workflow_uuid = 'sleeper'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(outputs, 0);

    let resumed = resume(&srv, "sleeper", None).await;
    assert_eq!(resumed.outcome(), Outcome::Resumed);
    assert_eq!(resumed.status(), WorkflowStatus::Enqueued);
    let done = wait_terminal(&srv.client, "sleeper").await;
    assert_eq!(done.status(), WorkflowStatus::Success);
    assert_eq!(payload_json(&done.output), json!(2));
    assert_eq!(done.queue_name, "_dbos_internal_queue");
    worker.stop().await;
    srv.stop().await;
}

async fn delete_leaves_no_row_in_any_table(lang: WorkerLang) {
    let (mut srv, worker) = with_worker(lang).await;
    enqueue_as(
        &mut srv,
        "traces",
        enqueue_req(
            "leave_traces",
            "test_queue",
            vec![json!("k"), json!("t"), json!(2)],
        ),
    )
    .await;
    let db = srv.db.client().await;
    let conn = &db;
    let children = eventually("the children to finish", || async move {
        let rows = conn
            .query(
                "SELECT workflow_uuid FROM dbos.workflow_status
                 WHERE parent_workflow_id = 'traces' AND status = 'SUCCESS'",
                &[],
            )
            .await
            .unwrap();
        (rows.len() == 2).then(|| {
            rows.iter()
                .map(|r| r.get::<_, String>(0))
                .collect::<Vec<_>>()
        })
    })
    .await;
    send(&srv, "traces", "t", json!("bye")).await;
    let done = wait_terminal(&srv.client, "traces").await;
    assert_eq!(
        payload_json(&done.output),
        json!({"message": "bye", "children": [0, 1]})
    );

    let mut all = children.clone();
    all.push("traces".into());
    let tables = [
        "workflow_status",
        "workflow_input",
        "workflow_output",
        "operation_outputs",
        "workflow_events",
        "workflow_events_history",
        "streams",
        "notifications",
    ];
    let count = |table: &str| {
        let column = if table == "notifications" {
            "destination_uuid"
        } else {
            "workflow_uuid"
        };
        format!("SELECT count(*) FROM dbos.{table} WHERE {column} = ANY($1)")
    };
    for table in tables {
        let n: i64 = db.query_one(&count(table), &[&all]).await.unwrap().get(0);
        assert!(n > 0, "the workflow left rows in {table}");
    }

    let resp = srv
        .client
        .delete_workflow(pb::DeleteWorkflowRequest {
            workflow_id: "traces".into(),
            delete_children: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.result.unwrap().outcome(), Outcome::Deleted);
    let mut deleted: Vec<String> = resp
        .descendants
        .iter()
        .map(|d| d.workflow_id.clone())
        .collect();
    deleted.sort();
    let mut expected = children.clone();
    expected.sort();
    assert_eq!(deleted, expected);
    assert!(resp
        .descendants
        .iter()
        .all(|d| d.outcome() == Outcome::Deleted && d.parent_workflow_id == "traces"));
    for table in tables {
        let n: i64 = db.query_one(&count(table), &[&all]).await.unwrap().get(0);
        assert_eq!(n, 0, "rows left in {table}");
    }
    assert_status(
        srv.client
            .delete_workflow(pb::DeleteWorkflowRequest {
                workflow_id: "traces".into(),
                delete_children: false,
            })
            .await,
        Code::NotFound,
        "traces",
    );
    worker.stop().await;
    srv.stop().await;
}

async fn bulk_cancel_by_filter_cancels_exactly_the_matching_workflows(lang: WorkerLang) {
    let (mut srv, worker) = with_worker(lang).await;
    let attrs = |batch: &str| prost_types::Struct {
        fields: [("batch".to_owned(), pv(json!(batch)))]
            .into_iter()
            .collect(),
    };
    for (id, batch) in [
        ("b1-a", "one"),
        ("b1-b", "one"),
        ("b1-c", "one"),
        ("b1-done", "one"),
        ("b2", "two"),
    ] {
        let mut req = enqueue_req("blocker", "test_queue", vec![json!("go")]);
        req.attributes = Some(attrs(batch));
        enqueue_as(&mut srv, id, req).await;
    }
    for id in ["b1-a", "b1-b", "b1-c", "b1-done", "b2"] {
        wait_status(&srv, id, WorkflowStatus::Pending).await;
    }
    send(&srv, "b1-done", "go", json!("done")).await;
    wait_status(&srv, "b1-done", WorkflowStatus::Success).await;

    let request = |dry_run| pb::CancelWorkflowsRequest {
        filter: Some(pb::WorkflowFilter {
            attributes: Some(attrs("one")),
            ..Default::default()
        }),
        dry_run,
        ..Default::default()
    };
    let dry = srv
        .client
        .cancel_workflows(request(true))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((dry.selected_count, dry.changed_count), (4, 3));
    assert!(dry.results.is_empty(), "a dry run only counts");
    for id in ["b1-a", "b1-b", "b1-c"] {
        let wf = get_workflow(&mut srv.client, id).await;
        assert_eq!(
            wf.status(),
            WorkflowStatus::Pending,
            "the dry run changed nothing"
        );
    }

    let done = srv
        .client
        .cancel_workflows(request(false))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((done.selected_count, done.changed_count), (4, 3));
    let outcomes: Vec<(&str, Outcome)> = done
        .results
        .iter()
        .map(|r| (r.workflow_id.as_str(), r.outcome()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("b1-a", Outcome::Cancelled),
            ("b1-b", Outcome::Cancelled),
            ("b1-c", Outcome::Cancelled),
            ("b1-done", Outcome::AlreadyFinished),
        ]
    );
    for id in ["b1-a", "b1-b", "b1-c"] {
        let wf = get_workflow(&mut srv.client, id).await;
        assert_eq!(wf.status(), WorkflowStatus::Cancelled);
    }
    // The workflow outside the filter is untouched and still runs to completion.
    assert_eq!(
        get_workflow(&mut srv.client, "b2").await.status(),
        WorkflowStatus::Pending
    );
    send(&srv, "b2", "go", json!("two")).await;
    assert_eq!(
        payload_json(&wait_terminal(&srv.client, "b2").await.output),
        json!("two")
    );
    worker.stop().await;
    srv.stop().await;
}

async fn resume_starts_a_queued_workflow_now_and_recovers_a_stuck_one(lang: WorkerLang) {
    let (mut srv, worker) = with_worker(lang).await;
    // The blocker holds serial_queue (concurrency 1), so the stamp waits behind it.
    enqueue_as(
        &mut srv,
        "hold",
        enqueue_req("blocker", "serial_queue", vec![json!("go")]),
    )
    .await;
    wait_status(&srv, "hold", WorkflowStatus::Pending).await;
    enqueue_as(
        &mut srv,
        "queued",
        enqueue_req("stamp", "serial_queue", vec![json!("q")]),
    )
    .await;
    let result = resume(&srv, "queued", None).await;
    assert_eq!(result.outcome(), Outcome::StartedNow);
    assert_eq!(result.previous_status(), WorkflowStatus::Enqueued);
    let done = wait_terminal(&srv.client, "queued").await;
    assert_eq!(payload_json(&done.output), json!({"tag": "q"}));
    assert_eq!(
        get_workflow(&mut srv.client, "hold").await.status(),
        WorkflowStatus::Pending,
        "it ran past the queue's concurrency limit"
    );

    // A workflow claimed by an executor that died stays PENDING; resume re-enqueues it.
    let db = srv.db.client().await;
    db.execute(
        "INSERT INTO dbos.workflow_status (workflow_uuid, status, name, queue_name, serialization,
                executor_id, owner_xid, recovery_attempts, started_at_epoch_ms)
         VALUES ('stuck', 'PENDING', 'echo', 'test_queue', 'portable_json', 'dead-executor', 'gone', 1, 1)",
        &[],
    )
    .await
    .unwrap();
    db.execute(
        "INSERT INTO dbos.workflow_input (workflow_uuid, inputs)
         VALUES ('stuck', '{\"positionalArgs\":[\"back\"],\"namedArgs\":{}}')",
        &[],
    )
    .await
    .unwrap();
    let result = resume(&srv, "stuck", Some("test_queue")).await;
    assert_eq!(result.outcome(), Outcome::Resumed);
    let done = wait_terminal(&srv.client, "stuck").await;
    assert_eq!(payload_json(&done.output), json!("back"));
    assert_eq!(
        done.recovery_attempts, 1,
        "resume reset the attempts before the claim"
    );
    send(&srv, "hold", "go", json!(null)).await;
    wait_terminal(&srv.client, "hold").await;
    worker.stop().await;
    srv.stop().await;
}
