//! Overload is bounded: unary calls beyond --max-concurrent-calls, waits beyond --max-streams, keys
//! beyond --max-hub-keys and a token's calls beyond its rate limit are answered at once with
//! RESOURCE_EXHAUSTED and a retry pushback (`grpc-retry-pushback-ms`), and served again once
//! the load is gone.

use std::io::Write;

use dbosd::{
    cli::Bearer,
    pb::{
        workflow_service_client::WorkflowServiceClient, AwaitWorkflowRequest, GetEventRequest,
        ListWorkflowsRequest,
    },
};
use tokio_stream::StreamExt;
use tonic::{service::interceptor::InterceptedService, transport::Channel, Code, Status};

use crate::{
    harness::{
        assert_status, enqueue_req, eventually, get_event_in_flight, health_status, open_await,
        TestDb, TestServer, WAIT,
    },
    overload::abandonment::{lock_status_table, waiting_on_locks},
};

/// The retry pushback a status carries, in ms.
fn pushback_ms(status: &Status) -> u64 {
    let value = status.metadata().get("grpc-retry-pushback-ms");
    let value = value.unwrap_or_else(|| panic!("no retry pushback in {status:?}"));
    value.to_str().unwrap().parse().expect("a number of ms")
}

fn refused<T: std::fmt::Debug>(result: Result<T, Status>, needle: &str) -> Status {
    let status = result.expect_err("refused");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains(needle), "{status:?}");
    status
}

async fn enqueue(srv: &TestServer, id: &str) {
    let mut req = enqueue_req("wf", "q", vec![]);
    req.workflow_id = Some(id.into());
    srv.client
        .clone()
        .enqueue_workflow(req)
        .await
        .expect("enqueue");
}

#[tokio::test]
async fn calls_beyond_the_limit_are_shed_with_pushback_and_served_after() {
    let srv = TestServer::start_on(TestDb::new().await, |s| {
        s.max_concurrent_calls = 2;
        s.rpc_timeout = None;
    })
    .await;
    let locker = lock_status_table(&srv.db).await;
    let held: Vec<_> = (0..2)
        .map(|_| {
            let mut client = srv.client.clone();
            tokio::spawn(
                async move { client.list_workflows(ListWorkflowsRequest::default()).await },
            )
        })
        .collect();
    eventually("both calls to wait on the lock", || async {
        (waiting_on_locks(&srv.db).await == 2).then_some(())
    })
    .await;

    let shed = srv
        .client
        .clone()
        .list_workflows(ListWorkflowsRequest::default())
        .await;
    let shed = refused(shed, "--max-concurrent-calls");
    assert_eq!(pushback_ms(&shed), 100);
    // A wait is not a unary call in flight: it is not shed.
    let event = GetEventRequest {
        workflow_id: "none".into(),
        key: "k".into(),
        timeout: Some(prost_types::Duration::default()),
    };
    // It reads through the owning workflow's (locked) row, so it is admitted and then waits on the
    // lock like any reader until its own deadline: anything but RESOURCE_EXHAUSTED.
    let mut event = tonic::Request::new(event);
    event.set_timeout(std::time::Duration::from_millis(500));
    let admitted = srv.client.clone().get_event(event).await;
    assert!(
        !matches!(&admitted, Err(s) if s.code() == Code::ResourceExhausted),
        "GetEvent was shed: {admitted:?}"
    );
    // Health answers under overload (a shed liveness probe would restart dbosd).
    assert!(
        health_status(&srv.channel).await.is_some(),
        "health was shed"
    );

    locker.batch_execute("ROLLBACK").await.unwrap();
    for call in held {
        let done = tokio::time::timeout(WAIT, call)
            .await
            .expect("ends")
            .unwrap();
        done.expect("the calls admitted are served");
    }
    srv.client
        .clone()
        .list_workflows(ListWorkflowsRequest::default())
        .await
        .expect("served again");
    let scrape = srv.scrape().await;
    let shed_count =
        r#"grpc_method="ListWorkflows",grpc_code="ResourceExhausted",database="default"} 1"#;
    assert!(scrape.contains(shed_count), "{scrape}");
    srv.stop().await;
}

#[tokio::test]
async fn get_event_waits_count_against_the_stream_limit() {
    let srv = TestServer::start_on(TestDb::new().await, |s| s.max_streams = 1).await;
    enqueue(&srv, "ev").await;
    let waiting = get_event_in_flight(&srv.client, "ev", "never", 60);
    eventually("the GetEvent wait to take the slot", || async {
        srv.scrape()
            .await
            .contains("dbosd_streams_open 1")
            .then_some(())
    })
    .await;

    let stream = srv
        .client
        .clone()
        .await_workflow(AwaitWorkflowRequest {
            workflow_id: "ev".into(),
            ..Default::default()
        })
        .await;
    let stream = refused(stream, "--max-streams");
    assert_eq!(pushback_ms(&stream), 1000);
    let another = get_event_in_flight(&srv.client, "ev", "other", 60);
    let another = tokio::time::timeout(WAIT, another).await.unwrap().unwrap();
    refused(another, "--max-streams");

    // The wait's client leaves: its slot frees.
    waiting.abort();
    eventually("the slot to free up", || async {
        let waited = get_event_in_flight(&srv.client, "ev", "never", 1)
            .await
            .unwrap();
        waited.ok().map(|found| assert!(!found.into_inner().found))
    })
    .await;
    srv.stop().await;
}

#[tokio::test]
async fn waits_on_keys_beyond_the_hub_cap_are_refused() {
    let srv = TestServer::start_on(TestDb::new().await, |s| s.max_hub_keys = 2).await;
    for id in ["a", "b", "c"] {
        enqueue(&srv, id).await;
    }
    let _a = open_await(&srv.client, "a").await.expect("a");
    let b = open_await(&srv.client, "b").await.expect("b");
    let await_c = || async {
        let req = AwaitWorkflowRequest {
            workflow_id: "c".into(),
            ..Default::default()
        };
        let mut stream = srv.client.clone().await_workflow(req).await?.into_inner();
        let first = tokio::time::timeout(WAIT, stream.next()).await;
        first.expect("a first message in time").expect("a message")
    };
    let status = refused(await_c().await, "--max-hub-keys");
    assert_eq!(pushback_ms(&status), 1000);
    // A key already waited on costs nothing more.
    let _a_again = open_await(&srv.client, "a").await.expect("a again");

    drop(b);
    eventually("b's key to be released", || async { await_c().await.ok() }).await;
    srv.stop().await;
}

type Client = WorkflowServiceClient<InterceptedService<Channel, Bearer>>;

#[tokio::test]
async fn a_token_over_its_rate_limit_is_refused_with_pushback_while_others_are_not() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    let tokens = r#"{"tokens": [
        {"name": "limited", "token": "tok-limited", "applications": ["*"],
         "rate_limit": {"requests_per_second": 1, "burst": 2}},
        {"name": "free", "token": "tok-free", "applications": ["*"]}
    ]}"#;
    file.write_all(tokens.as_bytes()).unwrap();
    let path = file.path().to_owned();
    let srv = TestServer::start_on(TestDb::new().await, |s| s.tokens_file = Some(path)).await;
    let client = |token: &str| -> Client {
        let bearer = Bearer::new(Some(token)).expect("an ASCII token");
        WorkflowServiceClient::with_interceptor(srv.channel.clone(), bearer)
    };
    let (mut limited, mut free) = (client("tok-limited"), client("tok-free"));
    let list = || ListWorkflowsRequest::default();

    for _ in 0..2 {
        limited
            .list_workflows(list())
            .await
            .expect("within the burst");
    }
    let over = limited.list_workflows(list()).await;
    let status = refused(over, "token \"limited\" is over its rate limit");
    let pushback = pushback_ms(&status);
    assert!((1..=1000).contains(&pushback), "{pushback}");
    for _ in 0..5 {
        free.list_workflows(list())
            .await
            .expect("another token is unaffected");
    }
    eventually("the bucket to refill", || {
        let mut limited = limited.clone();
        async move { limited.list_workflows(list()).await.ok() }
    })
    .await;
    assert_status(
        client("tok-unknown").list_workflows(list()).await,
        Code::Unauthenticated,
        "unknown",
    );
    srv.stop().await;
}
