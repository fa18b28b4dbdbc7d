//! A panic in a handler answers INTERNAL with the request id, is counted in `dbosd_panics_total`,
//! and the server keeps serving; a panic in a streaming call's task ends that stream with INTERNAL.
//!
//! dbosd has no RPC that panics on purpose, so a tiny test service does: it is served behind the
//! same call layers as production (`telemetry::call_layers`), and its stream runs on the production
//! stream plumbing (`api::Streams`), over real gRPC on loopback.

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use dbosd::{
    api::Streams,
    shutdown::Drain,
    telemetry::{self, layer::RpcLayer, Metrics},
};
use futures::StreamExt;
use http::uri::PathAndQuery;
use tokio::net::TcpListener;
use tonic::{
    body::Body,
    server::{Grpc, NamedService, ServerStreamingService, UnaryService},
    transport::{server::TcpIncoming, Server},
    Code, Request, Response, Status,
};
use tonic_prost::ProstCodec;
use tower_service::Service;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
/// What `Streams::spawn` returns.
type RpcStream<T> = Pin<Box<dyn futures::Stream<Item = Result<T, Status>> + Send>>;

fn codec() -> ProstCodec<(), ()> {
    ProstCodec::default()
}

/// Serves `Fine` (answers), `Panic` (panics in the handler) and `PanicStream` (sends one message,
/// then its task panics).
#[derive(Clone)]
struct Panicky {
    streams: Streams,
}

impl NamedService for Panicky {
    const NAME: &'static str = "dbosd.test.Panicky";
}

struct Fine;
impl UnaryService<()> for Fine {
    type Response = ();
    type Future = BoxFuture<Result<Response<()>, Status>>;
    fn call(&mut self, _: Request<()>) -> Self::Future {
        Box::pin(async { Ok(Response::new(())) })
    }
}

struct PanicNow;
impl UnaryService<()> for PanicNow {
    type Response = ();
    type Future = BoxFuture<Result<Response<()>, Status>>;
    fn call(&mut self, _: Request<()>) -> Self::Future {
        Box::pin(async { panic!("the test handler panics") })
    }
}

struct PanicStream(Streams);
impl ServerStreamingService<()> for PanicStream {
    type Response = ();
    type ResponseStream = RpcStream<()>;
    type Future = BoxFuture<Result<Response<RpcStream<()>>, Status>>;
    fn call(&mut self, _: Request<()>) -> Self::Future {
        let stream = self.0.spawn(|sink| async move {
            sink.send(()).await;
            panic!("the test stream's task panics")
        });
        Box::pin(async move { Ok(Response::new(stream?)) })
    }
}

impl Service<http::Request<Body>> for Panicky {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<http::Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let streams = self.streams.clone();
        Box::pin(async move {
            let response = match req.uri().path() {
                "/dbosd.test.Panicky/Fine" => Grpc::new(codec()).unary(Fine, req).await,
                "/dbosd.test.Panicky/Panic" => Grpc::new(codec()).unary(PanicNow, req).await,
                "/dbosd.test.Panicky/PanicStream" => {
                    Grpc::new(codec())
                        .server_streaming(PanicStream(streams), req)
                        .await
                }
                _ => Status::unimplemented("no such test method").into_http(),
            };
            Ok(response)
        })
    }
}

async fn call_unary(
    grpc: &mut tonic::client::Grpc<tonic::transport::Channel>,
    method: &'static str,
) -> Result<Response<()>, Status> {
    grpc.ready().await.expect("channel ready");
    grpc.unary(Request::new(()), PathAndQuery::from_static(method), codec())
        .await
}

fn panics_total(metrics: &Metrics) -> f64 {
    crate::harness::telemetry_sample(&metrics.render(), "dbosd_panics_total")
        .expect("dbosd_panics_total is exported")
}

#[tokio::test]
async fn a_panicking_handler_answers_internal_and_the_server_keeps_serving() {
    let metrics = Metrics::detached();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let service = Panicky {
        streams: Streams::new(Drain::new(), 16),
    };
    let server = Server::builder()
        .layer(telemetry::call_layers(RpcLayer::new(metrics.clone(), None)))
        .add_service(service)
        .serve_with_incoming(TcpIncoming::from(listener));
    let server = tokio::spawn(server);
    let channel = crate::harness::connect_channel(addr).await;
    let mut grpc = tonic::client::Grpc::new(channel);
    let before = panics_total(&metrics);

    call_unary(&mut grpc, "/dbosd.test.Panicky/Fine")
        .await
        .expect("a call that does not panic answers");
    let status = call_unary(&mut grpc, "/dbosd.test.Panicky/Panic")
        .await
        .expect_err("the panicking call fails");
    assert_eq!(status.code(), Code::Internal, "{status:?}");
    let id = status
        .metadata()
        .get("x-request-id")
        .expect("the response carries its request id")
        .to_str()
        .expect("ascii id")
        .to_owned();
    assert!(
        status.message().contains(&format!("request id {id}")),
        "the message names the request id {id}: {:?}",
        status.message()
    );
    assert!(!status.message().contains("the test handler panics"));
    // The same connection goes on serving.
    call_unary(&mut grpc, "/dbosd.test.Panicky/Fine")
        .await
        .expect("the server still answers after a panic");

    // A streaming call: its first message arrives, then the panic ends it with INTERNAL.
    grpc.ready().await.expect("channel ready");
    let response = grpc
        .server_streaming(
            Request::new(()),
            PathAndQuery::from_static("/dbosd.test.Panicky/PanicStream"),
            codec(),
        )
        .await
        .expect("the stream opens");
    let id = response
        .metadata()
        .get("x-request-id")
        .expect("request id")
        .to_str()
        .expect("ascii id")
        .to_owned();
    let mut stream = response.into_inner();
    let items: Vec<_> = tokio::time::timeout(crate::harness::WAIT, async {
        let mut items = Vec::new();
        while let Some(item) = stream.next().await {
            items.push(item);
        }
        items
    })
    .await
    .expect("the stream ends instead of hanging");
    assert_eq!(items.len(), 2, "one message, then the status: {items:?}");
    assert!(items[0].is_ok());
    let status = items[1]
        .as_ref()
        .expect_err("the stream ends with an error");
    assert_eq!(status.code(), Code::Internal, "{status:?}");
    assert!(status.message().contains(&id), "{:?}", status.message());

    assert!(
        panics_total(&metrics) >= before + 2.0,
        "both panics are counted"
    );
    server.abort();
}
