//! ForkWorkflow(s) without a worker: exactly what DBOS copies below the start step, the application
//! version and step-numbering choices, bulk forks, and every documented error.

use dbosd::pb::{self, StepNumbering, WorkflowActionOutcome as Outcome, WorkflowStatus};
use tonic::Code;

use crate::{
    harness::{assert_status, TestDb, TestServer},
    manage::control::{insert, outcomes},
};

/// Records steps `function_ids` of workflow `id` (step 2 awaited child `child-old`).
async fn add_steps(db: &tokio_postgres::Client, id: &str, function_ids: &[i32]) {
    for f in function_ids {
        let child = (*f == 2).then_some("child-old");
        db.execute(
            "INSERT INTO dbos.operation_outputs (workflow_uuid, function_id, function_name, output,
                    serialization, child_workflow_id, started_at_epoch_ms, completed_at_epoch_ms, application_name)
             VALUES ($1, $2::int4, 'step_value', 'gAR' || $2::int4, 'py_pickle', $3, 100 + $2::int4, 200 + $2::int4, 'src-app')",
            &[&id, f, &child],
        )
        .await
        .unwrap();
    }
}

pub(super) fn fork(id: &str) -> pb::ForkWorkflowRequest {
    pb::ForkWorkflowRequest {
        workflow_id: id.into(),
        ..Default::default()
    }
}

pub(super) async fn texts(db: &tokio_postgres::Client, sql: &str) -> Vec<String> {
    db.query(sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test]
async fn a_fork_copies_exactly_what_dbos_copies() {
    let mut srv = TestServer::start().await;
    let db = srv.db.client().await;
    insert(
        &db,
        "src",
        "SUCCESS",
        "name = 'multi_step', class_name = 'C', config_name = 'K', application_id = 'aid',
         authenticated_user = 'alice', authenticated_roles = '[\"r\"]', assumed_role = 'admin',
         attributes = '{\"a\": 1}', application_name = 'src-app', application_version = 'v1',
         priority = 5, workflow_timeout_ms = 777, completed_at = 9",
    )
    .await;
    db.batch_execute(
        r#"INSERT INTO dbos.workflow_input (workflow_uuid, inputs) VALUES ('src', '{"positionalArgs":[4],"namedArgs":{}}');
           INSERT INTO dbos.workflow_events_history (workflow_uuid, function_id, key, value, serialization) VALUES
             ('src', 1, 'k', '"a"', 'portable_json'), ('src', 2, 'j', '"x"', 'portable_json'),
             ('src', 3, 'k', '"b"', 'portable_json'), ('src', 4, 'j', '"y"', 'portable_json');
           INSERT INTO dbos.workflow_events (workflow_uuid, key, value, serialization) VALUES
             ('src', 'k', '"b"', 'portable_json'), ('src', 'j', '"y"', 'portable_json');
           INSERT INTO dbos.streams (workflow_uuid, key, value, "offset", function_id, serialization) VALUES
             ('src', 's', '"v0"', 0, 1, 'portable_json'), ('src', 's', '"v1"', 1, 3, 'portable_json'),
             ('src', 's', '"v2"', 2, 4, 'portable_json');
           INSERT INTO dbos.notifications (destination_uuid, topic, message) VALUES ('src', 't', '"m"');"#,
    )
    .await
    .unwrap();
    add_steps(&db, "src", &[1, 2, 3, 4]).await;

    let mut req = fork("src");
    req.start_step = Some(3);
    req.forked_workflow_id = Some("f".into());
    req.queue_name = Some("q2".into());
    req.queue_partition_key = Some("pk".into());
    req.timeout = Some(prost_types::Duration {
        seconds: 5,
        nanos: 0,
    });
    req.replacement_children = [("child-old".to_owned(), "child-new".to_owned())].into();
    let resp = srv.client.fork_workflow(req).await.unwrap().into_inner();
    assert_eq!(resp.forked_workflow_id, "f");
    let result = resp.result.unwrap();
    assert_eq!(
        (result.outcome(), result.forked_workflow_id.as_str()),
        (Outcome::Forked, "f")
    );
    assert_eq!(
        result.status(),
        WorkflowStatus::Success,
        "the source is unchanged"
    );

    let row = db
        .query_one(
            "SELECT status, name, class_name, config_name, application_id, authenticated_user,
                    authenticated_roles, assumed_role, serialization, attributes::text, application_name,
                    queue_name, queue_partition_key, forked_from, application_version, workflow_timeout_ms,
                    priority, recovery_attempts, deduplication_id, parent_workflow_id, was_forked_from,
                    owner_xid, completed_at
             FROM dbos.workflow_status WHERE workflow_uuid = 'f'",
            &[],
        )
        .await
        .unwrap();
    let text = |i: usize| row.get::<_, Option<String>>(i);
    let copied: Vec<Option<String>> = (0..15).map(text).collect();
    let some = |s: &str| Some(s.to_owned());
    assert_eq!(
        copied,
        [
            some("ENQUEUED"),
            some("multi_step"),
            some("C"),
            some("K"),
            some("aid"),
            some("alice"),
            some("[\"r\"]"),
            some("admin"),
            some("portable_json"),
            some("{\"a\": 1}"),
            some("src-app"),
            some("q2"),
            some("pk"),
            some("src"),
            None,
        ],
        "copied columns; the version is not pinned by default (as Python forks)"
    );
    assert_eq!(row.get::<_, Option<i64>>(15), Some(5000));
    assert_eq!(row.get::<_, i32>(16), 0, "priority takes its default");
    assert_eq!(row.get::<_, Option<i64>>(17), Some(0));
    assert_eq!((text(18), text(19)), (None, None));
    assert!(!row.get::<_, bool>(20));
    assert_eq!((text(21), row.get::<_, Option<i64>>(22)), (None, None));
    let source_marked: bool = db
        .query_one(
            "SELECT was_forked_from FROM dbos.workflow_status WHERE workflow_uuid = 'src'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(source_marked);
    assert_eq!(
        texts(
            &db,
            "SELECT inputs FROM dbos.workflow_input WHERE workflow_uuid = 'f'"
        )
        .await,
        [r#"{"positionalArgs":[4],"namedArgs":{}}"#]
    );
    assert_eq!(
        texts(
            &db,
            "SELECT function_id || ':' || output || ':' || coalesce(child_workflow_id, '-') || ':'
                    || started_at_epoch_ms || ':' || serialization || ':' || application_name
             FROM dbos.operation_outputs WHERE workflow_uuid = 'f' ORDER BY function_id"
        )
        .await,
        [
            "1:gAR1:-:101:py_pickle:src-app",
            "2:gAR2:child-new:102:py_pickle:src-app"
        ],
        "steps below 3, the child replaced"
    );
    assert_eq!(
        texts(
            &db,
            "SELECT function_id || key || value FROM dbos.workflow_events_history
             WHERE workflow_uuid = 'f' ORDER BY function_id"
        )
        .await,
        ["1k\"a\"", "2j\"x\""]
    );
    assert_eq!(
        texts(
            &db,
            "SELECT key || value FROM dbos.workflow_events WHERE workflow_uuid = 'f' ORDER BY key"
        )
        .await,
        ["j\"x\"", "k\"a\""],
        "the latest value below the cut per key"
    );
    assert_eq!(
        texts(
            &db,
            "SELECT \"offset\" || value FROM dbos.streams WHERE workflow_uuid = 'f' ORDER BY \"offset\""
        )
        .await,
        ["0\"v0\""]
    );
    let messages: i64 = db
        .query_one(
            "SELECT count(*) FROM dbos.notifications WHERE destination_uuid = 'f'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(messages, 0, "messages are not copied");
    srv.stop().await;
}

#[tokio::test]
async fn fork_versions_step_numbering_and_errors() {
    let db = TestDb::new().await;
    let mut srv = TestServer::start_on(db, |s| s.application_name = Some("shop".into())).await;
    let db = srv.db.client().await;
    insert(&db, "py", "SUCCESS", "application_version = 'v1'").await;
    add_steps(&db, "py", &[1, 2]).await;
    insert(&db, "ts", "ERROR", "application_name = 'ts-app'").await;
    add_steps(&db, "ts", &[0, 1, 2]).await;
    insert(&db, "bare", "ENQUEUED", "").await;

    // (application_version, application_name) of a workflow.
    let owner_of = |id: String| {
        let db = &db;
        async move {
            let row = db
                .query_one(
                    "SELECT application_version, application_name FROM dbos.workflow_status WHERE workflow_uuid = $1",
                    &[&id],
                )
                .await
                .unwrap();
            (
                row.get::<_, Option<String>>(0),
                row.get::<_, Option<String>>(1),
            )
        }
    };
    let some = |s: &str| Some(s.to_owned());
    let fork_id = |req: pb::ForkWorkflowRequest| {
        let mut client = srv.client.clone();
        async move {
            client
                .fork_workflow(req)
                .await
                .map(|r| r.into_inner().forked_workflow_id)
        }
    };
    let latest = fork_id(fork("py")).await.unwrap();
    assert_eq!(
        owner_of(latest).await,
        (None, some("shop")),
        "not pinned (as Python forks); an unclaimed source's fork is claimed for dbosd's application"
    );
    let mut keep = fork("py");
    keep.keep_app_version = true;
    let kept = fork_id(keep).await.unwrap();
    assert_eq!(owner_of(kept).await, (some("v1"), some("shop")));
    let mut pinned = fork("py");
    pinned.app_version = Some("v2".into());
    let pinned = fork_id(pinned).await.unwrap();
    assert_eq!(owner_of(pinned).await, (some("v2"), some("shop")));

    // TypeScript and Go number steps from 0: step 0 is valid only with that numbering.
    let mut ts = fork("ts");
    ts.step_numbering = StepNumbering::FromZero as i32;
    ts.start_step = Some(2);
    let ts_fork = fork_id(ts.clone()).await.unwrap();
    assert_eq!(
        texts(
            &db,
            &format!("SELECT function_id::text FROM dbos.operation_outputs WHERE workflow_uuid = '{ts_fork}' ORDER BY 1")
        )
        .await,
        ["0", "1"]
    );
    assert_eq!(
        owner_of(ts_fork).await,
        (None, some("ts-app")),
        "the source's owner runs the fork"
    );
    ts.start_step = Some(0);
    fork_id(ts.clone())
        .await
        .expect("step 0 with zero-based numbering");
    let mut bare = fork("bare");
    bare.start_step = Some(1);
    fork_id(bare)
        .await
        .expect("a workflow without steps forks from its first step");

    let mut cases: Vec<(pb::ForkWorkflowRequest, Code, &str)> = Vec::new();
    let mut below = ts.clone();
    below.step_numbering = StepNumbering::Unspecified as i32;
    cases.push((below, Code::InvalidArgument, "STEP_NUMBERING_FROM_ZERO"));
    let mut beyond = ts.clone();
    beyond.start_step = Some(3);
    cases.push((
        beyond,
        Code::InvalidArgument,
        "beyond the last recorded step",
    ));
    let mut bare_beyond = fork("bare");
    bare_beyond.start_step = Some(2);
    cases.push((bare_beyond, Code::InvalidArgument, "beyond"));
    let mut both = fork("py");
    both.app_version = Some("v3".into());
    both.keep_app_version = true;
    cases.push((both, Code::InvalidArgument, "keep_app_version"));
    let mut zero_timeout = fork("py");
    zero_timeout.timeout = Some(prost_types::Duration::default());
    cases.push((zero_timeout, Code::InvalidArgument, "timeout"));
    let mut reserved = fork("py");
    reserved.queue_name = Some("_dbos_other".into());
    cases.push((reserved, Code::InvalidArgument, "queue_name"));
    cases.push((fork(""), Code::InvalidArgument, "workflow_id"));
    cases.push((fork("nope"), Code::NotFound, "nope"));
    let mut taken = fork("py");
    taken.forked_workflow_id = Some("ts".into());
    cases.push((taken, Code::AlreadyExists, "ts"));
    for (req, code, needle) in cases {
        assert_status(srv.client.fork_workflow(req).await, code, needle);
    }
    srv.stop().await;
}

#[tokio::test]
async fn bulk_forks_report_each_workflow() {
    let mut srv = TestServer::start().await;
    let db = srv.db.client().await;
    for id in ["a", "b"] {
        insert(&db, id, "ERROR", "name = 'multi_step'").await;
    }
    add_steps(&db, "a", &[1, 2, 3]).await;
    add_steps(&db, "b", &[1]).await;
    let request = |dry_run| pb::ForkWorkflowsRequest {
        workflow_ids: vec!["a".into(), "b".into(), "nope".into()],
        start_step: Some(3),
        dry_run,
        ..Default::default()
    };
    let dry = srv
        .client
        .fork_workflows(request(true))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((dry.selected_count, dry.changed_count), (2, 1));
    let count = || async {
        db.query_one("SELECT count(*) FROM dbos.workflow_status", &[])
            .await
            .unwrap()
            .get::<_, i64>(0)
    };
    assert_eq!(count().await, 2, "a dry run forks nothing");

    let done = srv
        .client
        .fork_workflows(request(false))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        outcomes(&done.results),
        [
            ("a", Outcome::Forked),
            ("b", Outcome::StepOutOfRange),
            ("nope", Outcome::NotFound),
        ]
    );
    let new_id = &done.results[0].forked_workflow_id;
    assert!(!new_id.is_empty());
    assert_eq!(count().await, 3);
    let steps: i64 = db
        .query_one(
            "SELECT count(*) FROM dbos.operation_outputs WHERE workflow_uuid = $1",
            &[new_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(steps, 2);

    let mut below = request(false);
    below.start_step = Some(0);
    assert_status(
        srv.client.fork_workflows(below).await,
        Code::InvalidArgument,
        "start_step",
    );
    srv.stop().await;
}
