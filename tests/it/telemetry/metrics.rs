//! Observability: Prometheus metrics on their own port (RPCs by method and code, pool, hub, LISTEN
//! reconnects, open streams), a request id per RPC (echoed, and on the RPC's log lines), and the
//! caller's W3C trace context stamped on enqueued rows as the DBOS clients' OTel carrier.

use dbosd::pb::GetWorkflowRequest;
use serde_json::json;
use tokio_stream::StreamExt;
use tonic::{Code, Request};

use crate::harness::{
    enqueue_req, eventually, finish_as_worker, open_await, pv, telemetry_sample as sample, Dbosd,
    TestDb, TestServer, WAIT,
};

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn with_metadata<T>(message: T, pairs: &[(&'static str, &str)]) -> Request<T> {
    let mut request = Request::new(message);
    for (key, value) in pairs {
        request.metadata_mut().insert(*key, value.parse().unwrap());
    }
    request
}

fn get(id: &str) -> GetWorkflowRequest {
    GetWorkflowRequest {
        workflow_id: id.into(),
        ..Default::default()
    }
}

fn rpc(method: &str, code: &str) -> String {
    format!(
        r#"{{grpc_service="dbosd.v1.WorkflowService",grpc_method="{method}",grpc_code="{code}",database="default"}}"#
    )
}

#[tokio::test]
async fn metrics_count_rpcs_by_method_and_code_and_expose_pool_and_hub() {
    let srv = TestServer::start().await;
    let mut client = srv.client.clone();
    for _ in 0..2 {
        let missing = client.get_workflow(get("no-such-workflow")).await;
        assert_eq!(missing.unwrap_err().code(), Code::NotFound);
    }
    let mut req = enqueue_req("wf", "q", vec![json!(1)]);
    req.workflow_id = Some("metrics-1".into());
    client.enqueue_workflow(req).await.expect("enqueue");
    // A stream, finished by the database: its status comes in trailers, after the messages.
    let mut waiting = open_await(&client, "metrics-1")
        .await
        .expect("AwaitWorkflow");
    finish_as_worker(&srv.db, "metrics-1", "1").await;
    let db = srv.db.client().await;
    while tokio::time::timeout(WAIT, waiting.next())
        .await
        .expect("stream ends")
        .is_some()
    {}

    let scrape = eventually("the stream's status to be counted", || async {
        let scrape = srv.scrape().await;
        let done = sample(
            &scrape,
            &format!(
                "dbosd_grpc_server_handled_total{}",
                rpc("AwaitWorkflow", "OK")
            ),
        );
        (done == Some(1.0)).then_some(scrape)
    })
    .await;
    let handled = |method, code| {
        sample(
            &scrape,
            &format!("dbosd_grpc_server_handled_total{}", rpc(method, code)),
        )
    };
    assert_eq!(handled("GetWorkflow", "NotFound"), Some(2.0), "{scrape}");
    assert_eq!(handled("EnqueueWorkflow", "OK"), Some(1.0), "{scrape}");
    let latency = format!(
        "dbosd_grpc_server_handling_seconds_count{}",
        rpc("GetWorkflow", "NotFound")
    );
    assert_eq!(sample(&scrape, &latency), Some(2.0), "{scrape}");
    for gauge in [
        r#"dbosd_pool_connections{state="in_use"}"#,
        r#"dbosd_pool_connections{state="idle"}"#,
        r#"dbosd_pool_connections{state="waiting"}"#,
        "dbosd_hub_waiting_keys ",
        "dbosd_hub_watchers ",
        "dbosd_streams_open ",
    ] {
        assert!(sample(&scrape, gauge).is_some(), "no {gauge} in {scrape}");
    }
    // The wait was answered by the hub's poll (DBOS notifies no status change): one query per tick.
    // The poller goes on ticking while the test reads: compare figures read with no tick between
    // (the query count unchanged across the scrape and the tick count).
    let hub = &srv.hub.stats;
    let queries = || hub.poll_queries.load(std::sync::atomic::Ordering::Relaxed);
    let (polls, scraped) = eventually(
        "one poll query per tick, scraped between two ticks",
        || async {
            let before = queries();
            let scrape = srv.scrape().await;
            let polls = hub.poll_ticks.load(std::sync::atomic::Ordering::Relaxed);
            let scraped = sample(&scrape, "dbosd_hub_poll_queries_total");
            (queries() == before && polls == before).then_some((polls, scraped))
        },
    )
    .await;
    assert!(polls >= 1, "the AwaitWorkflow was never polled for");
    assert_eq!(scraped, Some(polls as f64), "the metric is the hub's count");
    assert_eq!(
        sample(&scrape, "dbosd_hub_listen_reconnects_total"),
        Some(0.0)
    );

    // Kill the hub's LISTEN connection: it reconnects, and the metric says so.
    db.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        &[],
    )
    .await
    .unwrap();
    eventually("a LISTEN reconnect to be counted", || async {
        let scrape = srv.scrape().await;
        (sample(&scrape, "dbosd_hub_listen_reconnects_total") == Some(1.0)).then_some(())
    })
    .await;
    srv.stop().await;
}

#[tokio::test]
async fn each_rpc_has_a_request_id_echoed_to_the_caller() {
    let srv = TestServer::start().await;
    let mut client = srv.client.clone();
    let ok = client
        .list_workflows(with_metadata(
            Default::default(),
            &[("x-request-id", "req-42")],
        ))
        .await
        .expect("list");
    assert_eq!(ok.metadata().get("x-request-id").unwrap(), "req-42");
    // Errors carry it too; without one (or with an unusable one) dbosd makes one up.
    let err = client
        .get_workflow(with_metadata(get("nope"), &[("x-request-id", "req-43")]))
        .await
        .unwrap_err();
    assert_eq!(err.metadata().get("x-request-id").unwrap(), "req-43");
    let long = "x".repeat(200);
    for sent in [None, Some(long.as_str())] {
        let pairs: Vec<(&'static str, &str)> =
            sent.map(|v| ("x-request-id", v)).into_iter().collect();
        let resp = client
            .list_workflows(with_metadata(Default::default(), &pairs))
            .await
            .expect("list");
        let id = resp
            .metadata()
            .get("x-request-id")
            .unwrap()
            .to_str()
            .unwrap();
        assert!(
            id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{id}"
        );
    }
    srv.stop().await;
}

#[tokio::test]
async fn json_logs_carry_the_request_id() {
    let db = TestDb::new().await;
    let args = [
        "--database-url",
        &db.url,
        "--listen",
        "127.0.0.1:0",
        "--log-format",
        "json",
    ];
    let dbosd = Dbosd::spawn(&args, &[("DBOSD_LOG", "dbosd=debug")], Dbosd::READY).await;
    let mut client =
        dbosd::pb::workflow_service_client::WorkflowServiceClient::new(dbosd.channel.clone());
    let request = with_metadata(get("nope"), &[("x-request-id", "log-me-7")]);
    assert_eq!(
        client.get_workflow(request).await.unwrap_err().code(),
        Code::NotFound
    );
    let line = dbosd.logged("log-me-7").await;
    let entry: serde_json::Value = serde_json::from_str(&line).expect("a JSON log line");
    assert_eq!(entry["span"]["request_id"], "log-me-7", "{line}");
    assert_eq!(
        entry["span"]["method"], "/dbosd.v1.WorkflowService/GetWorkflow",
        "{line}"
    );
    assert_eq!(entry["fields"]["message"], "rpc finished", "{line}");
}

#[tokio::test]
async fn text_logs_to_a_pipe_are_plain_text() {
    let db = TestDb::new().await;
    let args = ["--database-url", &db.url, "--listen", "127.0.0.1:0"];
    let dbosd = Dbosd::spawn(&args, &[("DBOSD_LOG", "dbosd=debug")], Dbosd::READY).await;
    let mut client =
        dbosd::pb::workflow_service_client::WorkflowServiceClient::new(dbosd.channel.clone());
    let request = with_metadata(get("nope"), &[("x-request-id", "log-me-8")]);
    assert!(client.get_workflow(request).await.is_err());
    // A log collector (kubectl logs, journald) keeps colour escapes as text: greppable `key=value`
    // only when nobody is at a terminal.
    let line = dbosd.logged("log-me-8").await;
    assert!(line.contains("request_id=log-me-8"), "{line:?}");
    let log = dbosd.log();
    assert!(
        !log.contains('\u{1b}'),
        "escape codes in a piped log: {log:?}"
    );
}

#[tokio::test]
async fn trace_context_from_metadata_is_stamped_as_the_otel_carrier() {
    let srv = TestServer::start().await;
    let mut client = srv.client.clone();
    let enqueue = |id: &str| {
        let mut req = enqueue_req("wf", "q", vec![]);
        req.workflow_id = Some(id.into());
        req.attributes = Some(prost_types::Struct {
            fields: [("team".to_owned(), pv(json!("a")))].into(),
        });
        req
    };
    let traced = with_metadata(
        enqueue("traced"),
        &[
            ("traceparent", TRACEPARENT),
            ("tracestate", "congo=t61rcWkgMzE"),
        ],
    );
    client
        .enqueue_workflow(traced)
        .await
        .expect("enqueue traced");
    let untraced = with_metadata(enqueue("bad-trace"), &[("traceparent", "00-nonsense")]);
    client
        .enqueue_workflow(untraced)
        .await
        .expect("an invalid traceparent is ignored");

    let db = srv.db.client().await;
    let attributes = |id: &'static str| {
        let db = &db;
        async move {
            let row = db
                .query_one(
                    "SELECT attributes FROM dbos.workflow_status WHERE workflow_uuid = $1",
                    &[&id],
                )
                .await
                .unwrap();
            row.get::<_, serde_json::Value>(0)
        }
    };
    // The shape the Python client's attributes_with_otel_context writes.
    assert_eq!(
        attributes("traced").await,
        json!({"team": "a", "dbos.otelContext":
            {"traceparent": TRACEPARENT, "tracestate": "congo=t61rcWkgMzE"}})
    );
    assert_eq!(attributes("bad-trace").await, json!({"team": "a"}));
    srv.stop().await;
}
