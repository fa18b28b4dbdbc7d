//! EnqueueWorkflow: the rows written, idempotency, deduplication and validation (no worker needed).

use dbosd::pb::{self, DeduplicationPolicy, EnqueueOutcome, WorkflowStatus};
use serde_json::json;
use tonic::Code;

use crate::harness::{assert_status, enqueue_req, pv, TestServer};

#[tokio::test]
async fn enqueue_writes_the_rows_a_dbos_client_writes() {
    let mut srv = TestServer::start().await;
    let mut req = enqueue_req("add", "test_queue", vec![json!(2)]);
    req.named_args = Some(prost_types::Struct {
        fields: [("b".to_owned(), pv(json!(40)))].into_iter().collect(),
    });
    req.workflow_id = Some("wf-rows".into());
    req.app_version = Some("v7".into());
    req.timeout = Some(prost_types::Duration {
        seconds: 3,
        nanos: 500_000_000,
    });
    req.deduplication_id = Some("d1".into());
    req.priority = Some(5);
    req.authenticated_user = Some("alice".into());
    req.authenticated_roles = vec!["admin".into(), "ops".into()];
    req.attributes = Some(prost_types::Struct {
        fields: [("team".to_owned(), pv(json!("core")))]
            .into_iter()
            .collect(),
    });
    req.application_name = Some("billing".into());
    let resp = srv.client.enqueue_workflow(req).await.unwrap().into_inner();
    assert_eq!(resp.workflow_id, "wf-rows");
    assert_eq!(resp.outcome(), EnqueueOutcome::Created);
    assert_eq!(resp.status(), WorkflowStatus::Enqueued);

    let db = srv.db.client().await;
    let row = db
        .query_one(
            "SELECT status, name, queue_name, serialization, class_name, config_name, application_version,
                    workflow_timeout_ms, deduplication_id, priority, authenticated_user, authenticated_roles,
                    attributes::text, application_name, recovery_attempts, owner_xid, executor_id,
                    creator_xid, inputs, parent_workflow_id, delay_until_epoch_ms
             FROM dbos.workflow_status WHERE workflow_uuid = 'wf-rows'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "ENQUEUED");
    assert_eq!(row.get::<_, String>(1), "add");
    assert_eq!(row.get::<_, String>(2), "test_queue");
    assert_eq!(row.get::<_, String>(3), "portable_json");
    assert_eq!(
        row.get::<_, Option<String>>(4),
        None,
        "class_name must be NULL, never ''"
    );
    assert_eq!(
        row.get::<_, Option<String>>(5),
        None,
        "config_name must be NULL, never ''"
    );
    assert_eq!(row.get::<_, String>(6), "v7");
    assert_eq!(row.get::<_, i64>(7), 3500);
    assert_eq!(row.get::<_, String>(8), "d1");
    assert_eq!(row.get::<_, i32>(9), 5);
    assert_eq!(row.get::<_, String>(10), "alice");
    assert_eq!(row.get::<_, String>(11), r#"["admin","ops"]"#);
    assert_eq!(row.get::<_, String>(12), r#"{"team": "core"}"#);
    assert_eq!(row.get::<_, String>(13), "billing");
    assert_eq!(row.get::<_, i64>(14), 0);
    assert_eq!(row.get::<_, Option<String>>(15), None);
    assert_eq!(row.get::<_, Option<String>>(16), None);
    assert!(
        row.get::<_, Option<String>>(17).is_some(),
        "creator_xid is written"
    );
    assert_eq!(
        row.get::<_, Option<String>>(18),
        None,
        "inputs go to workflow_input"
    );
    assert_eq!(row.get::<_, Option<String>>(19), None);
    assert_eq!(row.get::<_, Option<i64>>(20), None);
    let input: String = db
        .query_one(
            "SELECT inputs FROM dbos.workflow_input WHERE workflow_uuid = 'wf-rows'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(input, r#"{"positionalArgs":[2],"namedArgs":{"b":40}}"#);
    srv.stop().await;
}

#[tokio::test]
async fn generated_ids_are_uuids_and_configured_application_is_stamped() {
    let db = crate::harness::TestDb::new().await;
    let mut srv = TestServer::start_on(db, |s| s.application_name = Some("shop".into())).await;
    let resp = srv
        .client
        .enqueue_workflow(enqueue_req("echo", "test_queue", vec![json!("x")]))
        .await
        .unwrap()
        .into_inner();
    assert!(
        uuid::Uuid::parse_str(&resp.workflow_id).is_ok(),
        "{}",
        resp.workflow_id
    );
    let mut unclaimed = enqueue_req("echo", "test_queue", vec![]);
    unclaimed.application_name = Some(String::new());
    let unclaimed = srv
        .client
        .enqueue_workflow(unclaimed)
        .await
        .unwrap()
        .into_inner();
    let db = srv.db.client().await;
    let app = |id: String| {
        let db = &db;
        async move {
            db.query_one(
                "SELECT application_name FROM dbos.workflow_status WHERE workflow_uuid = $1",
                &[&id],
            )
            .await
            .unwrap()
            .get::<_, Option<String>>(0)
        }
    };
    assert_eq!(app(resp.workflow_id).await.as_deref(), Some("shop"));
    assert_eq!(
        app(unclaimed.workflow_id).await,
        None,
        "an explicit empty name leaves the row unclaimed"
    );
    srv.stop().await;
}

#[tokio::test]
async fn same_id_twice_returns_the_existing_workflow_and_a_different_name_is_rejected() {
    let mut srv = TestServer::start().await;
    let mut first = enqueue_req("echo", "test_queue", vec![json!("first")]);
    first.workflow_id = Some("same-id".into());
    let a = srv
        .client
        .enqueue_workflow(first.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a.outcome(), EnqueueOutcome::Created);

    let mut again = first.clone();
    again.positional_args = vec![pv(json!("second"))];
    let b = srv
        .client
        .enqueue_workflow(again)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(b.workflow_id, "same-id");
    assert_eq!(b.outcome(), EnqueueOutcome::Existing);
    assert_eq!(b.status(), WorkflowStatus::Enqueued);
    let db = srv.db.client().await;
    let input: String = db
        .query_one(
            "SELECT inputs FROM dbos.workflow_input WHERE workflow_uuid = 'same-id'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        input.contains("first"),
        "the first enqueue's inputs are kept: {input}"
    );

    let mut other_name = first.clone();
    other_name.workflow_name = "add".into();
    assert_status(
        srv.client.enqueue_workflow(other_name).await,
        Code::AlreadyExists,
        "different workflow name",
    );
    let mut other_class = first.clone();
    other_class.class_name = Some("Cls".into());
    assert_status(
        srv.client.enqueue_workflow(other_class).await,
        Code::AlreadyExists,
        "different class name",
    );
    let mut other_config = first;
    other_config.config_name = Some("inst".into());
    assert_status(
        srv.client.enqueue_workflow(other_config).await,
        Code::AlreadyExists,
        "different config name",
    );
    let count: i64 = db
        .query_one("SELECT count(*) FROM dbos.workflow_status", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 1);
    srv.stop().await;
}

#[tokio::test]
async fn deduplication_rejects_or_returns_the_holder() {
    let mut srv = TestServer::start().await;
    let mut req = enqueue_req("echo", "test_queue", vec![json!(1)]);
    req.deduplication_id = Some("dedup-1".into());
    req.workflow_id = Some("holder".into());
    srv.client.enqueue_workflow(req.clone()).await.unwrap();

    let mut rejected = req.clone();
    rejected.workflow_id = Some("second".into());
    assert_status(
        srv.client.enqueue_workflow(rejected.clone()).await,
        Code::AlreadyExists,
        "deduplication id dedup-1",
    );

    rejected.deduplication_policy = DeduplicationPolicy::ReturnExisting as i32;
    let resp = srv
        .client
        .enqueue_workflow(rejected)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.workflow_id, "holder");
    assert_eq!(resp.outcome(), EnqueueOutcome::Deduplicated);

    // Another queue may use the same deduplication id.
    let mut other_queue = req;
    other_queue.workflow_id = Some("third".into());
    other_queue.queue_name = "serial_queue".into();
    let resp = srv
        .client
        .enqueue_workflow(other_queue)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.outcome(), EnqueueOutcome::Created);
    assert_eq!(
        srv.db.workflow_ids().await,
        ["holder", "third"],
        "no half-written rows"
    );
    srv.stop().await;
}

#[tokio::test]
async fn raw_json_inputs_keep_big_integers_exact() {
    let mut srv = TestServer::start().await;
    let mut req = enqueue_req("echo", "test_queue", vec![]);
    req.inputs_json = r#"[123456789012345678901234567890, {"k": 1.5}]"#.into();
    req.workflow_id = Some("big".into());
    srv.client.enqueue_workflow(req).await.unwrap();
    let mut req = enqueue_req("add", "test_queue", vec![]);
    req.inputs_json = r#"{"positionalArgs": [1], "namedArgs": {"b": 9007199254740993}}"#.into();
    req.workflow_id = Some("env".into());
    srv.client.enqueue_workflow(req).await.unwrap();
    let db = srv.db.client().await;
    let input = |id: &'static str| {
        let db = &db;
        async move {
            db.query_one(
                "SELECT inputs FROM dbos.workflow_input WHERE workflow_uuid = $1",
                &[&id],
            )
            .await
            .unwrap()
            .get::<_, String>(0)
        }
    };
    assert_eq!(
        input("big").await,
        r#"{"positionalArgs":[123456789012345678901234567890,{"k":1.5}],"namedArgs":{}}"#
    );
    assert_eq!(
        input("env").await,
        r#"{"positionalArgs":[1],"namedArgs":{"b":9007199254740993}}"#
    );
    srv.stop().await;
}

#[tokio::test]
async fn delay_writes_a_delayed_row() {
    let mut srv = TestServer::start().await;
    let mut req = enqueue_req("echo", "test_queue", vec![json!(1)]);
    req.delay = Some(prost_types::Duration {
        seconds: 60,
        nanos: 0,
    });
    let resp = srv.client.enqueue_workflow(req).await.unwrap().into_inner();
    assert_eq!(resp.status(), WorkflowStatus::Delayed);
    let db = srv.db.client().await;
    let row = db
        .query_one(
            "SELECT status, delay_until_epoch_ms - created_at FROM dbos.workflow_status WHERE workflow_uuid = $1",
            &[&resp.workflow_id],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "DELAYED");
    let gap: i64 = row.get(1);
    assert!(
        (59_000..=61_000).contains(&gap),
        "delay_until - created_at = {gap}"
    );
    srv.stop().await;
}

#[tokio::test]
async fn malformed_requests_are_invalid_argument_naming_the_field_and_write_nothing() {
    let mut srv = TestServer::start().await;
    let base = enqueue_req("echo", "test_queue", vec![json!(1)]);
    type Mutation = Box<dyn Fn(&mut pb::EnqueueWorkflowRequest)>;
    let cases: Vec<(&str, Mutation)> = vec![
        ("workflow_name", Box::new(|r| r.workflow_name = " ".into())),
        ("queue_name", Box::new(|r| r.queue_name = String::new())),
        (
            "queue_name",
            Box::new(|r| r.queue_name = "_dbos_private".into()),
        ),
        (
            "workflow_id",
            Box::new(|r| r.workflow_id = Some(String::new())),
        ),
        (
            "workflow_id",
            Box::new(|r| r.workflow_id = Some("a\0b".into())),
        ),
        ("priority", Box::new(|r| r.priority = Some(-1))),
        (
            "timeout",
            Box::new(|r| {
                r.timeout = Some(prost_types::Duration {
                    seconds: -1,
                    nanos: 0,
                })
            }),
        ),
        (
            "timeout",
            Box::new(|r| {
                r.timeout = Some(prost_types::Duration {
                    seconds: 0,
                    nanos: 0,
                })
            }),
        ),
        (
            "delay",
            Box::new(|r| {
                r.delay = Some(prost_types::Duration {
                    seconds: 0,
                    nanos: -5,
                })
            }),
        ),
        (
            "class_name",
            Box::new(|r| r.class_name = Some("x".repeat(256))),
        ),
        (
            "deduplication_id",
            Box::new(|r| {
                r.deduplication_id = Some("d".into());
                r.queue_partition_key = Some("p".into());
            }),
        ),
        (
            "inputs_json",
            Box::new(|r| r.inputs_json = "{not json".into()),
        ),
        ("inputs_json", Box::new(|r| r.inputs_json = "42".into())),
        (
            "inputs_json",
            Box::new(|r| r.inputs_json = r#"{"positionalArgs":{}}"#.into()),
        ),
        (
            "inputs_json",
            Box::new(|r| r.inputs_json = r#"{"args":[]}"#.into()),
        ),
        ("inputs_json", Box::new(|r| r.inputs_json = "[1]".into())), // combined with positional_args
        (
            "inputs_json",
            Box::new(|r| {
                r.positional_args.clear();
                r.inputs_json = format!("{}{}", "[".repeat(200), "]".repeat(200));
            }),
        ),
        (
            "positional_args",
            Box::new(|r| {
                r.positional_args = vec![
                    pv(json!(1)),
                    prost_types::Value {
                        kind: Some(prost_types::value::Kind::NumberValue(f64::INFINITY)),
                    },
                ]
            }),
        ),
        (
            "authenticated_roles",
            Box::new(|r| r.authenticated_roles = vec!["a\0".into()]),
        ),
    ];
    for (field, mutate) in cases {
        let mut req = base.clone();
        mutate(&mut req);
        assert_status(
            srv.client.enqueue_workflow(req).await,
            Code::InvalidArgument,
            field,
        );
    }
    let db = srv.db.client().await;
    let count: i64 = db
        .query_one("SELECT count(*) FROM dbos.workflow_status", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 0, "rejected requests write nothing");
    srv.stop().await;
}
