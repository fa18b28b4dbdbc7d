//! The span tree across caller, dbosd and worker, as a real OTLP receiver sees it.

use dbosd::{
    pb::GetWorkflowRequest,
    telemetry::traces::{SamplerSetting, TraceSettings},
};
use serde_json::json;
use tonic::{Code, Request};

use super::receiver::{Received, Receiver};
use crate::harness::{
    enqueue_req, eventually, wait_terminal, TestDb, TestServer, Worker, WorkerLang, WorkerOptions,
};

/// OTLP's SpanKind SERVER.
const SERVER: i32 = 2;
const ENQUEUE: &str = "dbosd.v1.WorkflowService/EnqueueWorkflow";

fn traced(receiver: &Receiver) -> impl FnOnce(&mut dbosd::config::Settings) {
    let endpoint = receiver.grpc_url.clone();
    move |s| {
        s.traces = TraceSettings {
            endpoint: Some(endpoint),
            sampler: SamplerSetting::ParentBasedAlwaysOn,
            service_name: "dbosd-under-test".into(),
        }
    }
}

fn with_traceparent<T>(message: T, traceparent: &str) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("traceparent", traceparent.parse().unwrap());
    request
}

async fn carrier(db: &TestDb, id: &str) -> String {
    let sql = format!(
        "SELECT attributes->'dbos.otelContext'->>'traceparent' FROM dbos.workflow_status \
         WHERE workflow_uuid = '{id}'"
    );
    db.texts(&sql).await.pop().expect("the workflow's carrier")
}

#[tokio::test]
async fn rpc_spans_continue_the_callers_trace_and_are_flushed_at_shutdown() {
    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const CALLER_SPAN: &str = "00f067aa0ba902b7";
    let receiver = Receiver::start().await;
    let srv = TestServer::start_on(TestDb::new().await, traced(&receiver)).await;
    let mut client = srv.client.clone();
    let mut req = enqueue_req("add", "otel_q", vec![json!(1), json!(2)]);
    req.workflow_id = Some("otel-1".into());
    let caller = format!("00-{TRACE}-{CALLER_SPAN}-01");
    client
        .enqueue_workflow(with_traceparent(req, &caller))
        .await
        .expect("enqueue");
    // No trace context: the call starts a trace of its own.
    let missing = client
        .get_workflow(GetWorkflowRequest {
            workflow_id: "no-such-workflow".into(),
            ..Default::default()
        })
        .await;
    assert_eq!(missing.unwrap_err().code(), Code::NotFound);
    let stamped = carrier(&srv.db, "otel-1").await;
    // The batch exporter waits 5 s between exports; stopping the server must flush at once.
    srv.stop().await;
    let spans = receiver.spans();
    let named = |name: &str| -> Received {
        let found = spans.iter().find(|s| s.name.ends_with(name));
        found
            .unwrap_or_else(|| panic!("no {name} span in {spans:#?}"))
            .clone()
    };
    let enqueue = named(ENQUEUE);
    assert_eq!(enqueue.trace_id, TRACE, "{enqueue:?}");
    assert_eq!(enqueue.parent_span_id, CALLER_SPAN, "{enqueue:?}");
    assert_eq!(enqueue.kind, SERVER);
    assert_eq!(enqueue.service, "dbosd-under-test");
    assert_eq!(enqueue.attributes["rpc.system"], "grpc");
    assert_eq!(enqueue.attributes["rpc.method"], "EnqueueWorkflow");
    assert_eq!(enqueue.attributes["rpc.grpc.status_code"], "0");
    // The workflow's carrier names the RPC span, not the caller's.
    assert_eq!(stamped, format!("00-{TRACE}-{}-01", enqueue.span_id));
    let get = named("/GetWorkflow");
    assert_eq!(get.parent_span_id, "", "{get:?}");
    assert_ne!(get.trace_id, TRACE);
    assert_eq!(get.attributes["rpc.grpc.status_code"], "5");
}

#[tokio::test]
async fn the_workers_workflow_span_joins_the_callers_trace_under_the_rpc_span() {
    const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
    let receiver = Receiver::start().await;
    let srv = TestServer::start_on(TestDb::new().await, traced(&receiver)).await;
    let opts = WorkerOptions {
        otlp_traces_endpoint: Some(receiver.http_url.clone()),
        ..Default::default()
    };
    let worker = Worker::start(WorkerLang::Python, &srv.db.url, opts).await;
    let mut client = srv.client.clone();
    let mut req = enqueue_req("add", "_dbos_internal_queue", vec![json!(2), json!(40)]);
    req.workflow_id = Some("otel-worker-1".into());
    let caller = format!("00-{TRACE}-b7ad6b7169203331-01");
    client
        .enqueue_workflow(with_traceparent(req, &caller))
        .await
        .expect("enqueue");
    let done = wait_terminal(&client, "otel-worker-1").await;
    assert_eq!(done.status(), dbosd::pb::WorkflowStatus::Success);
    srv.stop().await;
    let enqueue = receiver
        .find(|s| s.name == ENQUEUE && s.trace_id == TRACE)
        .unwrap_or_else(|| panic!("no dbosd span in {:#?}", receiver.spans()));
    let workflow = eventually("the worker's workflow span", || async {
        receiver.find(|s| s.service != "dbosd-under-test" && s.trace_id == TRACE)
    })
    .await;
    assert_eq!(
        workflow.parent_span_id, enqueue.span_id,
        "the worker's span {workflow:#?} is not a child of dbosd's {enqueue:#?}"
    );
    assert!(workflow.name.contains("add"), "{workflow:#?}");
    worker.stop().await;
}

#[tokio::test]
async fn a_sampler_that_drops_exports_nothing_and_the_carrier_says_unsampled() {
    const TRACE: &str = "5b8aa5a2d2c872e8321cf37308d69df2";
    let receiver = Receiver::start().await;
    let endpoint = receiver.grpc_url.clone();
    let srv = TestServer::start_on(TestDb::new().await, move |s| {
        s.traces = TraceSettings {
            endpoint: Some(endpoint),
            sampler: SamplerSetting::AlwaysOff,
            service_name: "dbosd-under-test".into(),
        }
    })
    .await;
    let mut client = srv.client.clone();
    let mut req = enqueue_req("add", "otel_q", vec![json!(1), json!(2)]);
    req.workflow_id = Some("otel-unsampled".into());
    let caller = format!("00-{TRACE}-051581bf3cb55c13-01");
    client
        .enqueue_workflow(with_traceparent(req, &caller))
        .await
        .expect("enqueue");
    let stamped = carrier(&srv.db, "otel-unsampled").await;
    srv.stop().await;
    assert!(receiver.spans().is_empty(), "{:#?}", receiver.spans());
    // Still the caller's trace, through dbosd's (unrecorded) span, flagged not sampled so the
    // worker records nothing either.
    assert!(stamped.starts_with(&format!("00-{TRACE}-")), "{stamped}");
    assert!(!stamped.contains("051581bf3cb55c13"), "{stamped}");
    assert!(stamped.ends_with("-00"), "{stamped}");
}
