//! Database trouble reaches callers as retryable statuses: RESOURCE_EXHAUSTED when no pooled
//! connection frees up in time, DEADLINE_EXCEEDED when a statement outlives `statement_timeout`,
//! UNAVAILABLE when the database refuses connections; dbosd recovers.

use std::time::Duration;

use dbosd::pb;
use serde_json::json;
use tonic::Code;

use crate::harness::{assert_status, enqueue_req, eventually, TestDb, TestServer, WAIT};

/// A server with `tweak`ed settings, a workflow `locked` enqueued, and a client holding its row lock
/// in an open transaction (`ROLLBACK` on that client releases it), so a re-enqueue of the same id
/// (the returned request) waits inside dbosd holding a pool connection.
async fn server_with_locked_row(
    tweak: impl FnOnce(&mut dbosd::config::Settings),
) -> (
    TestServer,
    pb::EnqueueWorkflowRequest,
    tokio_postgres::Client,
) {
    let srv = TestServer::start_on(TestDb::new().await, tweak).await;
    let mut req = enqueue_req("echo", "q", vec![json!(1)]);
    req.workflow_id = Some("locked".into());
    srv.client
        .clone()
        .enqueue_workflow(req.clone())
        .await
        .unwrap();
    let locker = srv.db.client().await;
    locker
        .batch_execute(
            "BEGIN; SELECT 1 FROM dbos.workflow_status WHERE workflow_uuid = 'locked' FOR UPDATE",
        )
        .await
        .unwrap();
    (srv, req, locker)
}

#[tokio::test]
async fn pool_exhaustion_is_resource_exhausted_and_recovers() {
    // A batch re-enqueue of the locked id waits inside dbosd holding the only pooled connection
    // (single enqueues have sessions of their own).
    let (srv, req, locker) = server_with_locked_row(|s| {
        s.pool.size = 1;
        s.pool.acquire_timeout = Duration::from_millis(300);
    })
    .await;
    let mut blocked_client = srv.client.clone();
    let batch = pb::EnqueueWorkflowsRequest {
        workflows: vec![req],
    };
    let blocked = tokio::spawn(async move { blocked_client.enqueue_workflows(batch).await });
    let mut probe = srv.client.clone();
    let err = eventually("a request to find the pool exhausted", || {
        let mut probe = probe.clone();
        async move {
            let r = probe
                .get_workflow(pb::GetWorkflowRequest {
                    workflow_id: "locked".into(),
                    ..Default::default()
                })
                .await;
            r.err().filter(|s| s.code() == Code::ResourceExhausted)
        }
    })
    .await;
    assert!(
        err.message().contains("no database connection became free"),
        "{err:?}"
    );

    locker.batch_execute("ROLLBACK").await.unwrap();
    let done = tokio::time::timeout(WAIT, blocked)
        .await
        .unwrap()
        .unwrap()
        .unwrap()
        .into_inner();
    assert_eq!(done.results[0].outcome(), pb::EnqueueOutcome::Existing);
    probe
        .get_workflow(pb::GetWorkflowRequest {
            workflow_id: "locked".into(),
            ..Default::default()
        })
        .await
        .expect("recovered");
    srv.stop().await;
}

#[tokio::test]
async fn refused_connections_are_unavailable_and_dbosd_recovers() {
    let mut srv = TestServer::start().await;
    let admin = crate::harness::connect(&crate::harness::with_db(&srv.db.url, "postgres"))
        .await
        .unwrap();
    let name = srv.db.name.clone();
    admin
        .execute(
            &format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"),
            &[],
        )
        .await
        .unwrap();
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            &[&name],
        )
        .await
        .unwrap();
    let err = eventually("UNAVAILABLE while the database refuses connections", || {
        let mut c = srv.client.clone();
        async move {
            let r = c
                .enqueue_workflow(enqueue_req("echo", "q", vec![json!(1)]))
                .await;
            r.err().filter(|s| s.code() == Code::Unavailable)
        }
    })
    .await;
    assert!(err.message().contains("retry"), "{err:?}");
    assert_status(
        srv.client
            .list_workflows(pb::ListWorkflowsRequest::default())
            .await,
        Code::Unavailable,
        "system database",
    );

    admin
        .execute(
            &format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"),
            &[],
        )
        .await
        .unwrap();
    eventually("dbosd to serve again", || {
        let mut c = srv.client.clone();
        async move {
            c.list_workflows(pb::ListWorkflowsRequest::default())
                .await
                .ok()
        }
    })
    .await;
    srv.stop().await;
}

/// With `statement_timeout` set, a call stuck behind a held row lock fails with DEADLINE_EXCEEDED
/// within the bound; a burst of such calls on a small pool ends in DEADLINE_EXCEEDED or
/// RESOURCE_EXHAUSTED, every one in bounded time; once the lock is released everything works again.
#[tokio::test]
async fn statement_timeout_bounds_calls_behind_a_held_lock() {
    let (mut srv, req, locker) = server_with_locked_row(|s| {
        s.pool.size = 2;
        s.pool.acquire_timeout = Duration::from_millis(300);
        s.pool.statement_timeout = Some(Duration::from_millis(300));
    })
    .await;

    // Each call: at most the acquire timeout plus the statement timeouts of its few statements.
    let bound = Duration::from_secs(5);
    let started = tokio::time::Instant::now();
    let err = tokio::time::timeout(bound, srv.client.enqueue_workflow(req.clone()))
        .await
        .expect("a blocked call ends within its bound");
    assert_status(err, Code::DeadlineExceeded, "timed out");
    assert!(started.elapsed() >= Duration::from_millis(250));

    let burst = (0..10).map(|_| {
        let (mut c, req) = (srv.client.clone(), req.clone());
        async move { tokio::time::timeout(bound, c.enqueue_workflow(req)).await }
    });
    for r in futures::future::join_all(burst).await {
        let code = r.expect("nothing hangs").expect_err("blocked").code();
        assert!(
            matches!(code, Code::DeadlineExceeded | Code::ResourceExhausted),
            "{code:?}"
        );
    }

    locker.batch_execute("ROLLBACK").await.unwrap();
    let again = srv.client.enqueue_workflow(req).await.expect("recovered");
    assert_eq!(again.into_inner().outcome(), pb::EnqueueOutcome::Existing);
    srv.stop().await;
}

/// Asserts that a status message says nothing of the database's insides.
fn assert_no_sql(status: &tonic::Status) {
    let message = status.message().to_lowercase();
    for leak in [
        "workflow_status",
        "dbos.",
        "secret_",
        "constraint",
        "violates",
        "insert",
        "select",
        "column",
        "relation",
        "db error",
    ] {
        assert!(!message.contains(leak), "{leak:?} leaked in {message:?}");
    }
}

#[tokio::test]
async fn database_side_failures_leak_no_sql_and_internal_ones_carry_the_request_id() {
    let srv = TestServer::start().await;
    // Rules the database enforces that dbosd does not know of: a check constraint (a violation is
    // internal: dbosd's rows should never break the schema) and a trigger refusing a value with a
    // message naming the table and column (a data exception: the caller's value).
    srv.db
        .client()
        .await
        .batch_execute(
            "ALTER TABLE dbos.workflow_status ADD CONSTRAINT secret_name_rule \
                 CHECK (name <> 'refused-by-check');
             CREATE FUNCTION dbos.secret_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
               IF NEW.name = 'refused-by-trigger' THEN
                 RAISE EXCEPTION 'column dbos.workflow_status.name: SELECT refused'
                   USING ERRCODE = '22023';
               END IF;
               RETURN NEW;
             END $$;
             CREATE TRIGGER secret_refuse BEFORE INSERT ON dbos.workflow_status
               FOR EACH ROW EXECUTE FUNCTION dbos.secret_refuse();",
        )
        .await
        .unwrap();
    let mut client = srv.client.clone();

    let mut request = tonic::Request::new(enqueue_req("refused-by-check", "q", vec![json!(1)]));
    request
        .metadata_mut()
        .insert("x-request-id", "leak-check-1".parse().unwrap());
    let status = client.enqueue_workflow(request).await.unwrap_err();
    assert_eq!(status.code(), Code::Internal, "{status:?}");
    assert_no_sql(&status);
    let echoed = status
        .metadata()
        .get("x-request-id")
        .expect("request id echoed");
    assert_eq!(echoed, "leak-check-1");
    assert!(
        status.message().contains("request id leak-check-1"),
        "{:?}",
        status.message()
    );

    // Without a caller's id, the generated one is in both the metadata and the message.
    let status = client
        .enqueue_workflow(enqueue_req("refused-by-check", "q", vec![json!(2)]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Internal, "{status:?}");
    let id = status
        .metadata()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(status.message().contains(id), "{:?}", status.message());

    let status = client
        .enqueue_workflow(enqueue_req("refused-by-trigger", "q", vec![json!(3)]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_no_sql(&status);
    assert!(status.message().contains("22023"), "{:?}", status.message());

    // The batch path (its own statement and error handling) says no more.
    let status = client
        .enqueue_workflows(pb::EnqueueWorkflowsRequest {
            workflows: vec![enqueue_req("refused-by-check", "q", vec![json!(4)])],
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Internal, "{status:?}");
    assert_no_sql(&status);
}
