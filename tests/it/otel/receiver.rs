//! A real OTLP trace receiver for the tests: the collector's `TraceService` over gRPC (what dbosd's
//! exporter speaks) and `POST /v1/traces` with protobuf bodies over HTTP (what DBOS Python's
//! exporter speaks), both decoding the standard opentelemetry-proto messages into [`Received`].

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::{body::Bytes, extract::State, http::StatusCode, response::IntoResponse, routing::post};
use opentelemetry_proto::tonic::{
    collector::trace::v1::{
        trace_service_server::{TraceService, TraceServiceServer},
        ExportTraceServiceRequest, ExportTraceServiceResponse,
    },
    common::v1::{any_value::Value, KeyValue},
};
use prost::Message;
use tokio::{net::TcpListener, task::JoinHandle};
use tonic::{transport::server::TcpIncoming, Request, Response, Status};

/// One span as the receiver got it, ids in lowercase hex ("" for no parent).
#[derive(Debug, Clone)]
pub struct Received {
    pub service: String,
    pub name: String,
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: String,
    /// `SpanKind` as its protobuf number (2 = SERVER).
    pub kind: i32,
    pub attributes: HashMap<String, String>,
}

type Spans = Arc<Mutex<Vec<Received>>>;

/// The receiver's two endpoints, stopped on drop.
pub struct Receiver {
    /// For dbosd's OTLP/gRPC exporter (`OTEL_EXPORTER_OTLP_ENDPOINT`).
    pub grpc_url: String,
    /// For an OTLP/HTTP exporter (the full traces URL).
    pub http_url: String,
    spans: Spans,
    tasks: Vec<JoinHandle<()>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let spans = Spans::default();
        let grpc = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let grpc_url = format!("http://{}", grpc.local_addr().expect("addr"));
        let service = TraceServiceServer::new(Collector(Arc::clone(&spans)));
        let grpc_task = tokio::spawn(async move {
            let _ = tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(TcpIncoming::from(grpc))
                .await;
        });
        let http = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let http_url = format!("http://{}/v1/traces", http.local_addr().expect("addr"));
        let app = axum::Router::new()
            .route("/v1/traces", post(http_export))
            .with_state(Arc::clone(&spans));
        let http_task = tokio::spawn(async move {
            let _ = axum::serve(http, app).await;
        });
        Receiver {
            grpc_url,
            http_url,
            spans,
            tasks: vec![grpc_task, http_task],
        }
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<Received> {
        self.spans.lock().unwrap().clone()
    }

    /// The first received span matching `pred`.
    pub fn find(&self, pred: impl Fn(&Received) -> bool) -> Option<Received> {
        self.spans().into_iter().find(|s| pred(s))
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

struct Collector(Spans);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        record(&self.0, request.into_inner());
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

async fn http_export(State(spans): State<Spans>, body: Bytes) -> impl IntoResponse {
    match ExportTraceServiceRequest::decode(body) {
        Ok(request) => {
            record(&spans, request);
            let reply = ExportTraceServiceResponse::default().encode_to_vec();
            (
                StatusCode::OK,
                [(axum::http::header::CONTENT_TYPE, "application/x-protobuf")],
                reply,
            )
                .into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}

fn record(spans: &Spans, request: ExportTraceServiceRequest) {
    let mut spans = spans.lock().unwrap();
    for resource_spans in request.resource_spans {
        let resource = resource_spans
            .resource
            .map(|r| attributes(&r.attributes))
            .unwrap_or_default();
        let service = resource.get("service.name").cloned().unwrap_or_default();
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                spans.push(Received {
                    service: service.clone(),
                    name: span.name,
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    kind: span.kind,
                    attributes: attributes(&span.attributes),
                });
            }
        }
    }
}

fn attributes(kvs: &[KeyValue]) -> HashMap<String, String> {
    kvs.iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(Value::StringValue(s)) => s.clone(),
                Some(Value::IntValue(i)) => i.to_string(),
                Some(Value::BoolValue(b)) => b.to_string(),
                Some(Value::DoubleValue(d)) => d.to_string(),
                other => format!("{other:?}"),
            };
            (kv.key.clone(), value)
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
