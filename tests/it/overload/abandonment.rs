//! Abandonment is bounded: a call whose deadline passes or whose client leaves takes its statement
//! with it (nothing is left waiting in PostgreSQL, holding a pool connection), and every statement
//! carries a `statement_timeout` derived from its call's deadline, capped by the configured ceiling
//! and restored after it. The table lock a test session holds keeps dbosd's statements waiting.

use std::time::{Duration, Instant};

use dbosd::pb::{CancelWorkflowRequest, ListWorkflowsRequest};
use futures::future::join_all;
use tonic::{Code, Request};

use crate::harness::{assert_status, enqueue_req, eventually, TestDb, TestServer, WAIT};

/// A session holding `dbos.workflow_status` locked (ACCESS EXCLUSIVE) until it rolls back.
pub async fn lock_status_table(db: &TestDb) -> tokio_postgres::Client {
    let locker = db.client().await;
    locker
        .batch_execute("BEGIN; LOCK TABLE dbos.workflow_status IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock workflow_status");
    locker
}

/// Statements of the test database waiting for a lock now (the locker never waits).
pub async fn waiting_on_locks(db: &TestDb) -> i64 {
    db.count(
        "SELECT count(*) FROM pg_stat_activity \
         WHERE datname = current_database() AND wait_event_type = 'Lock'",
    )
    .await
}

/// A ListWorkflows request with a grpc-timeout.
fn list_within(timeout: Duration) -> Request<ListWorkflowsRequest> {
    let mut req = Request::new(ListWorkflowsRequest::default());
    req.set_timeout(timeout);
    req
}

#[tokio::test]
async fn calls_past_their_deadline_leave_no_statement_waiting_and_the_pool_serves_at_once() {
    const CALLERS: usize = 8;
    // No ceiling: the statements end only because their calls' deadlines passed.
    let srv = TestServer::start_on(TestDb::new().await, |s| {
        s.pool.size = CALLERS as u32;
        s.pool.statement_timeout = None;
    })
    .await;
    let locker = lock_status_table(&srv.db).await;

    let calls = (0..CALLERS).map(|_| {
        let mut client = srv.client.clone();
        // A second: dbosd answers 100 ms before the caller's own timer (a tenth, at most 100 ms),
        // room enough on a loaded machine for DEADLINE_EXCEEDED to arrive before tonic's CANCELLED.
        async move {
            client
                .list_workflows(list_within(Duration::from_secs(1)))
                .await
        }
    });
    let results = tokio::time::timeout(WAIT, join_all(calls))
        .await
        .expect("calls end");
    for result in results {
        assert_status(result, Code::DeadlineExceeded, "");
    }
    eventually("no dbosd statement to wait on the lock", || async {
        (waiting_on_locks(&srv.db).await == 0).then_some(())
    })
    .await;

    // The lock gone, every pooled connection serves a call at once.
    locker.batch_execute("ROLLBACK").await.unwrap();
    let calls = (0..CALLERS).map(|_| {
        let mut client = srv.client.clone();
        async move {
            client
                .list_workflows(list_within(Duration::from_secs(5)))
                .await
        }
    });
    for result in join_all(calls).await {
        result.expect("a call after the lock is released");
    }
    srv.stop().await;
}

#[tokio::test]
async fn a_call_its_client_drops_mid_statement_leaves_nothing_behind() {
    // No ceiling and no default deadline: only the cancel can end the statements.
    let srv = TestServer::start_on(TestDb::new().await, |s| {
        s.pool.statement_timeout = None;
        s.rpc_timeout = None;
        s.pool.size = 2;
    })
    .await;
    let mut req = enqueue_req("wf", "q", vec![]);
    req.workflow_id = Some("victim".into());
    srv.client.clone().enqueue_workflow(req).await.unwrap();
    let locker = lock_status_table(&srv.db).await;

    // A plain read, and a write inside a transaction.
    for round in 0..2 {
        let mut client = srv.client.clone();
        let call = tokio::spawn(async move {
            match round {
                0 => client
                    .list_workflows(ListWorkflowsRequest::default())
                    .await
                    .map(drop),
                _ => {
                    let req = CancelWorkflowRequest {
                        workflow_id: "victim".into(),
                        ..Default::default()
                    };
                    client.cancel_workflow(req).await.map(drop)
                }
            }
        });
        eventually("the call's statement to wait on the lock", || async {
            (waiting_on_locks(&srv.db).await == 1).then_some(())
        })
        .await;
        call.abort();
        eventually("the abandoned statement to be cancelled", || async {
            (waiting_on_locks(&srv.db).await == 0).then_some(())
        })
        .await;
    }

    locker.batch_execute("ROLLBACK").await.unwrap();
    for _ in 0..4 {
        let listed = srv.client.clone().list_workflows(list_within(WAIT)).await;
        assert_eq!(
            listed
                .expect("the pool still serves")
                .into_inner()
                .workflows
                .len(),
            1
        );
    }
    srv.stop().await;
}

#[tokio::test]
async fn statements_time_out_by_the_call_deadline_then_by_the_ceiling_again() {
    const CEILING: Duration = Duration::from_secs(4);
    // One connection, so the second call runs on the session the first one set.
    let srv = TestServer::start_on(TestDb::new().await, |s| {
        s.pool.size = 1;
        s.pool.statement_timeout = Some(CEILING);
        s.rpc_timeout = None;
    })
    .await;
    let locker = lock_status_table(&srv.db).await;

    // The statement itself times out (PostgreSQL's error, not the call's deadline), before the
    // ceiling: its timeout came from the call's deadline.
    let started = Instant::now();
    let short = srv
        .client
        .clone()
        .list_workflows(list_within(Duration::from_secs(2)))
        .await;
    assert_status(
        short,
        Code::DeadlineExceeded,
        "database statement timed out",
    );
    assert!(started.elapsed() < CEILING, "{:?}", started.elapsed());

    // A call without a deadline gets the ceiling back, not the last call's timeout.
    let started = Instant::now();
    let unbounded = srv
        .client
        .clone()
        .list_workflows(ListWorkflowsRequest::default())
        .await;
    assert_status(
        unbounded,
        Code::DeadlineExceeded,
        "database statement timed out",
    );
    let took = started.elapsed();
    assert!(took >= CEILING - Duration::from_millis(100), "{took:?}");
    assert_eq!(waiting_on_locks(&srv.db).await, 0);

    locker.batch_execute("ROLLBACK").await.unwrap();
    srv.client
        .clone()
        .list_workflows(list_within(Duration::from_secs(5)))
        .await
        .expect("served once the lock is gone");
    srv.stop().await;
}
