//! Schema handling: `dbosd migrate` creates exactly the schema Python dbos 3.4.0 creates, dbosd serves
//! the one TypeScript dbos 5.3.0 creates, and older and incompatible schemas are detected at startup.

use std::process::Command;

use dbosd::{config::Settings, server};
use serde_json::json;

use crate::harness::{
    enqueue_req, get_workflow, payload_json, TestDb, TestServer, Worker, WorkerLang, WorkerOptions,
};

const CATALOG_SQL: &str = include_str!("../../../src/repo/db/schema/catalog.sql");

async fn catalog(db: &TestDb) -> Vec<String> {
    let client = db.client().await;
    client
        .query(CATALOG_SQL.replace("{{schema}}", "\"dbos\"").as_str(), &[])
        .await
        .expect("catalog query")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

async fn version(db: &TestDb) -> i64 {
    db.client()
        .await
        .query_one("SELECT version FROM dbos.dbos_migrations", &[])
        .await
        .unwrap()
        .get(0)
}

fn dbosd_migrate(url: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_dbosd"))
        .args(["migrate", "--database-url", url])
        .output()
        .expect("run dbosd migrate");
    assert!(
        out.status.success(),
        "dbosd migrate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn diff(ours: &[String], theirs: &[String]) -> String {
    let only_ours: Vec<&String> = ours.iter().filter(|i| !theirs.contains(i)).collect();
    let only_theirs: Vec<&String> = theirs.iter().filter(|i| !ours.contains(i)).collect();
    format!("only in dbosd's schema: {only_ours:#?}\nonly in Python's: {only_theirs:#?}")
}

#[tokio::test]
async fn dbosd_migrate_creates_the_schema_python_dbos_creates() {
    // Python dbos 3.4.0 migrates an empty database at launch.
    let py_db = TestDb::empty().await;
    Worker::start(WorkerLang::Python, &py_db.url, WorkerOptions::default())
        .await
        .stop()
        .await;
    let python = catalog(&py_db).await;
    assert!(
        python.len() > 50,
        "the catalog query sees the Python schema: {python:?}"
    );
    assert_eq!(version(&py_db).await, 125);

    let our_db = TestDb::empty().await;
    dbosd_migrate(&our_db.url);
    let ours = catalog(&our_db).await;
    assert_eq!(version(&our_db).await, 125);
    assert!(ours == python, "schemas differ:\n{}", diff(&ours, &python));

    // Idempotent, and a no-op on a Python-made database even when it reads as one version behind.
    dbosd_migrate(&our_db.url);
    assert_eq!(catalog(&our_db).await, python);
    py_db
        .client()
        .await
        .execute("UPDATE dbos.dbos_migrations SET version = 124", &[])
        .await
        .unwrap();
    dbosd_migrate(&py_db.url);
    assert_eq!(version(&py_db).await, 125);
    let again = catalog(&py_db).await;
    assert!(
        again == python,
        "converge changed a Python schema:\n{}",
        diff(&again, &python)
    );

    // A worker started on the dbosd-created database accepts it as is and runs enqueued work.
    let worker = Worker::start(WorkerLang::Python, &our_db.url, WorkerOptions::default()).await;
    assert_eq!(
        catalog(&our_db).await,
        python,
        "the worker found nothing to migrate"
    );
    echo_runs_through_dbosd(our_db, "on dbosd's schema").await;
    worker.stop().await;
}

/// Serves `db` and has the worker already running on it echo `value` that dbosd enqueued.
async fn echo_runs_through_dbosd(db: TestDb, value: &str) {
    let mut srv = TestServer::start_on(db, |_| {}).await;
    let id = srv
        .client
        .enqueue_workflow(enqueue_req("echo", "test_queue", vec![json!(value)]))
        .await
        .unwrap()
        .into_inner()
        .workflow_id;
    let done = crate::harness::wait_terminal(&srv.client, &id).await;
    assert_eq!(payload_json(&done.output), json!(value));
    srv.stop().await;
}

#[tokio::test]
async fn dbosd_serves_the_schema_typescript_dbos_creates() {
    // @dbos-inc/dbos-sdk 5.3.0 migrates an empty database to its own last migration, 123.
    let db = TestDb::empty().await;
    let worker = Worker::start(WorkerLang::TypeScript, &db.url, WorkerOptions::default()).await;
    assert_eq!(version(&db).await, 123);
    echo_runs_through_dbosd(db, "on TS's schema").await;
    worker.stop().await;
}

#[tokio::test]
async fn older_schemas_without_payload_tables_get_inputs_inline() {
    let db = TestDb::new().await;
    db.client()
        .await
        .batch_execute(
            "DROP TABLE dbos.workflow_input; DROP TABLE dbos.workflow_output;
             ALTER TABLE dbos.workflow_status DROP COLUMN creator_xid, DROP COLUMN application_name;
             UPDATE dbos.dbos_migrations SET version = 47;",
        )
        .await
        .unwrap();
    let mut srv = TestServer::start_on(db, |_| {}).await;
    let mut req = enqueue_req("echo", "test_queue", vec![json!("inline")]);
    req.workflow_id = Some("old".into());
    req.application_name = Some("ignored-on-this-schema".into());
    let first = srv
        .client
        .enqueue_workflow(req.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.outcome(), dbosd::pb::EnqueueOutcome::Created);
    let again = srv
        .client
        .enqueue_workflow(req.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        again.outcome(),
        dbosd::pb::EnqueueOutcome::Existing,
        "creation is told without creator_xid"
    );
    req.workflow_name = "add".into();
    let conflict = srv.client.enqueue_workflow(req).await;
    assert_eq!(conflict.unwrap_err().code(), tonic::Code::AlreadyExists);
    let inline: String = srv
        .db
        .client()
        .await
        .query_one(
            "SELECT inputs FROM dbos.workflow_status WHERE workflow_uuid = 'old'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(inline, r#"{"positionalArgs":["inline"],"namedArgs":{}}"#);
    let wf = get_workflow(&mut srv.client, "old").await;
    assert_eq!(
        payload_json(&wf.input),
        json!({"positionalArgs": ["inline"], "namedArgs": {}})
    );
    assert_eq!(wf.application_name, "");
    let listed = srv
        .client
        .list_workflows(dbosd::pb::ListWorkflowsRequest {
            load_input: true,
            load_output: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.workflows.len(), 1);
    srv.stop().await;
}

#[tokio::test]
async fn missing_or_sharded_schemas_are_refused_at_startup() {
    let empty = TestDb::empty().await;
    let err = server::prepare(&Settings::new(empty.url.clone()))
        .await
        .err()
        .expect("refused");
    let text = err.to_string();
    assert!(
        text.contains("does not exist") && text.contains("dbosd migrate"),
        "{text}"
    );

    let mut settings = Settings::new(empty.url.clone());
    settings.migrate = true;
    server::prepare(&settings)
        .await
        .expect("--migrate creates the schema");

    let sharded = TestDb::new().await;
    sharded
        .client()
        .await
        .batch_execute("ALTER TABLE dbos.workflow_status ADD COLUMN shard_key text")
        .await
        .unwrap();
    let err = server::prepare(&Settings::new(sharded.url.clone()))
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("sharded"), "{err}");
}
