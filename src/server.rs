//! Startup and serving: connect and check (or migrate) the schema, then serve WorkflowService, health
//! and reflection on a listener until the shutdown future resolves, then drain in order. The same
//! port serves gRPC-Web, Connect and `/openapi.json` through the HTTP front (`crate::http`), and MCP
//! at `/mcp` when on (`crate::mcp::http`).

use std::{future::Future, sync::Arc, time::Duration};

use prometheus_client::metrics::gauge::Gauge;
use tokio::{net::TcpListener, task::JoinHandle, time::Instant};
use tokio_util::sync::CancellationToken;
use tonic::{codec::CompressionEncoding, service::Routes, transport::Server};
use tonic_health::{server::HealthReporter, ServingStatus};
use tower::{util::BoxCloneSyncService, ServiceExt};
use tower_layer::{Layer, Stack};

pub use crate::fleet::open::{prepare, StartupError};
use crate::{
    api::{Databases, FleetApi, Streams},
    auth::{layer::AuthLayer, Tokens},
    config::Settings,
    connections,
    fleet::{reload, Fleet},
    health::{self, DrainingHealth},
    http::HttpLayer,
    hub::Hub,
    overload::CallLimit,
    pb::{self, workflow_service_server::WorkflowServiceServer},
    repo::Repo,
    shutdown::Drain,
    telemetry::{
        self,
        layer::{RpcLayer, RpcService},
        panics::CatchPanicLayer,
        Metrics,
    },
};

/// How long a pinged client has to answer before its connection is closed (`--keepalive-ms` pings).
const KEEPALIVE_ANSWER: Duration = Duration::from_secs(20);

/// Where dbosd serves: gRPC, and optionally Prometheus metrics and plaintext health. Bound by the
/// caller, so a port taken is a startup error and tests can bind port 0 and know the address.
pub struct Listeners {
    pub grpc: TcpListener,
    pub metrics: Option<TcpListener>,
    pub health: Option<TcpListener>,
}

impl From<TcpListener> for Listeners {
    fn from(grpc: TcpListener) -> Self {
        Listeners {
            grpc,
            metrics: None,
            health: None,
        }
    }
}

/// Serves until `shutdown` resolves, then drains. Background tasks (hub listener and poller, health
/// checks, metrics) stop with it.
pub async fn serve(
    repo: Repo,
    settings: &Settings,
    listeners: impl Into<Listeners>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), StartupError> {
    serve_with_hub(repo, Hub::new(), settings, listeners, shutdown).await
}

/// [`serve`] with a hub the caller keeps (tests and benchmarks read its counters).
pub async fn serve_with_hub(
    repo: Repo,
    hub: Arc<Hub>,
    settings: &Settings,
    listeners: impl Into<Listeners>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), StartupError> {
    let listeners = listeners.into();
    let default_app = settings.application_name.clone();
    // Before any task starts, so a bad file stops startup cleanly.
    let tls = settings
        .tls
        .server_config(settings.connections.handshake_timeout)
        .map_err(StartupError::Other)?;
    let tokens = match &settings.tokens_file {
        Some(path) => Some(Arc::new(Tokens::load(path).map_err(StartupError::Other)?)),
        None => None,
    };
    let traces = telemetry::traces::Traces::start(&settings.traces).map_err(StartupError::Other)?;
    let drain = Drain::new();
    let reporter = HealthReporter::new();
    // NOT_SERVING until the first check passes (the reporter starts "" as SERVING).
    for name in health::PROCESS_NAMES {
        reporter
            .set_service_status(name, ServingStatus::NotServing)
            .await;
    }
    reporter
        .set_service_status(health::LIVENESS, ServingStatus::Serving)
        .await;
    let streams = Streams::new(drain.clone(), settings.max_streams);
    // Every database, the default first; each call is routed through `databases`. Each database's
    // tasks (hub, workflow metrics, retention) start and stop with it, writing into `series`.
    let databases = Databases::new();
    let series = telemetry::DatabaseSeries::default();
    let fleet = Fleet::new(
        settings,
        streams.clone(),
        databases.clone(),
        reporter.clone(),
        series.clone(),
    );
    let default_api = fleet.add_default(&settings.default_database, repo.clone(), Arc::clone(&hub));
    fleet.apply(&settings.databases);
    let reload_task = settings.config_file.clone().map(|path| {
        reload::start(
            Arc::clone(&fleet),
            reload::Reload {
                path,
                flags: settings.flag_databases.clone(),
                default: settings.default_database.clone(),
                poll: settings.config_poll,
            },
        )
    });

    let reflection = |b: tonic_reflection::server::Builder<'static>| {
        b.register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection(tonic_reflection::server::Builder::configure())
        .build_v1()
        .map_err(|e| StartupError::Other(format!("reflection: {e}")))?;
    let reflection_v1alpha = reflection(tonic_reflection::server::Builder::configure())
        .build_v1alpha()
        .map_err(|e| StartupError::Other(format!("reflection: {e}")))?;

    // Bulk jobs: this database's runner, stopped (giving back its job) as the drain starts, and
    // aborted with this future if it is dropped.
    let jobs_stop = CancellationToken::new();
    let jobs_task = settings.bulk_job_lease.map(|lease| {
        let runner = crate::api::jobs::runner::RunnerSettings { lease, default_app };
        AbortOnDrop(crate::api::jobs::runner::spawn(
            repo.clone(),
            runner,
            jobs_stop.clone(),
        ))
    });
    let shutdown = {
        let jobs_stop = jobs_stop.clone();
        async move {
            shutdown.await;
            jobs_stop.cancel();
        }
    };
    let metrics = Metrics::new(
        repo,
        hub,
        streams.clone(),
        default_api.enqueue_stats(),
        series,
    );
    let connections_open = metrics.connections_open(settings.connections.max_connections);
    let table = databases.clone();
    metrics
        .databases
        .set_source(Arc::new(move || table.samples()));
    let metrics_task = listeners
        .metrics
        .map(|l| tokio::spawn(telemetry::endpoint::serve(l, Arc::clone(&metrics))));
    let api = FleetApi::new(databases);
    let mut rpc_layer = RpcLayer::new(metrics, settings.rpc_timeout).with_traces(traces.clone());
    let calls =
        (settings.max_concurrent_calls > 0).then(|| CallLimit::new(settings.max_concurrent_calls));
    if let Some(calls) = &calls {
        rpc_layer = rpc_layer.with_call_limit(Arc::clone(calls));
    }
    let stop = CancellationToken::new();
    // Pings find clients that vanished without closing (a crashed host, a dropped network), whose
    // waits would otherwise stay open: hyper closes a connection whose ping goes unanswered.
    let mut builder = Server::builder()
        .http2_keepalive_interval(settings.keepalive)
        .http2_keepalive_timeout(settings.keepalive.map(|k| k.min(KEEPALIVE_ANSWER)));
    if let Some(tls) = tls {
        builder = builder
            .tls_config(tls)
            .map_err(|e| StartupError::Other(format!("TLS: {e}")))?;
    }
    let http = HttpLayer::new(settings.max_message_bytes, &settings.cors_origins)
        .map_err(StartupError::Other)?
        .with_console(settings.ui);
    // Requests may come gzip-compressed (grpc-go and grpc-java clients can be set to); tonic
    // inflates them within --max-message-bytes. Responses stay uncompressed: most clients
    // advertise gzip, and compressing every answer would cost CPU on both sides for little on a
    // fast network.
    let workflow_service = WorkflowServiceServer::new(api)
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(settings.max_message_bytes)
        .max_encoding_message_size(settings.max_message_bytes);
    // MCP's tools call WorkflowService in-process through the same call layers (sharing their
    // metrics, call limit and tokens), so an MCP call is checked, limited and counted as gRPC's.
    let mcp = settings.mcp.as_ref().map(|mcp| {
        let auth = AuthLayer::new(
            tokens.clone(),
            settings.auth_exempt.clone(),
            crate::api::rpcs::called_method,
        );
        let grpc = grpc_stack(
            rpc_layer.clone(),
            auth,
            Routes::new(workflow_service.clone()),
        );
        crate::mcp::http::service(in_process(grpc), mcp, tokens.clone(), stop.clone())
    });
    let server = builder
        // HTTP/1.1 too: browsers and curl speak Connect and gRPC-Web over it.
        .accept_http1(true)
        // Outermost: `/mcp` is MCP's own HTTP transport; every other path goes on to the call stack.
        .layer(crate::mcp::http::McpLayer::new(mcp))
        .layer(call_stack(http, rpc_layer, settings, tokens))
        .add_service(DrainingHealth::server(&reporter, drain.clone()))
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(workflow_service)
        .serve_with_incoming_shutdown(
            connections::incoming(
                listeners.grpc,
                settings.connections,
                connections_open.clone(),
            ),
            stop.clone().cancelled_owned(),
        );
    // Health alone, in plaintext, for probes that cannot speak TLS; it drains with the rest.
    let health_server = listeners.health.map(|listener| {
        Server::builder()
            .add_service(DrainingHealth::server(&reporter, drain.clone()))
            .serve_with_incoming_shutdown(
                connections::incoming(listener, settings.connections, Default::default()),
                stop.clone().cancelled_owned(),
            )
    });
    let servers = async move {
        let health = async {
            match health_server {
                Some(server) => server.await,
                None => Ok(()),
            }
        };
        let (api, health) = tokio::join!(server, health);
        api.and(health)
    };
    let draining = Draining {
        left: Left {
            connections: connections_open,
            streams,
            calls,
        },
        fleet: Arc::clone(&fleet),
        drain,
        stop,
        grace: settings.drain_grace,
        timeout: settings.drain_timeout,
    };
    let result = draining.serve(servers, shutdown).await;
    jobs_stop.cancel();
    if let Some(mut task) = jobs_task {
        // The runner gives its job back in one statement; a database that is away must not hold
        // the exit.
        if tokio::time::timeout(Duration::from_secs(5), &mut task.0)
            .await
            .is_err()
        {
            task.0.abort();
        }
    }
    drop(reload_task);
    fleet.shutdown();
    if let Some(task) = metrics_task {
        task.abort();
    }
    // Last, so the spans of the calls that drained are exported too.
    if let Some(traces) = traces {
        traces.shutdown().await;
    }
    result
}

/// The one call path of the gRPC port, as layers around the services: the HTTP front (Connect and
/// gRPC-Web translated into gRPC, other routes) outside the RPC layer (request id, metrics,
/// default deadline) outside the auth layer. gRPC, gRPC-Web and Connect calls all go through the
/// RPC and auth layers and the services' own policy checks once.
fn call_stack(
    http: HttpLayer,
    rpc_layer: RpcLayer,
    settings: &Settings,
    tokens: Option<Arc<Tokens>>,
) -> Stack<Stack<AuthLayer, Stack<CatchPanicLayer, RpcLayer>>, HttpLayer> {
    // Outermost of the call layers: every call, whatever service, is counted and gets its request
    // id span; it sheds calls beyond the limit and carries each call's deadline down to its
    // statements; a panic inside answers INTERNAL with that id (telemetry::call_layers, shared
    // with tests/it/telemetry/panics.rs).
    let rpc = telemetry::call_layers(rpc_layer);
    // Inside it, so unauthenticated calls are counted and logged with their request id.
    let auth = AuthLayer::new(
        tokens,
        settings.auth_exempt.clone(),
        crate::api::rpcs::called_method,
    );
    Stack::new(Stack::new(auth, rpc), http)
}

/// The gRPC services behind the per-call layers as one service, for in-process callers (MCP).
pub type GrpcStack =
    RpcService<telemetry::panics::CatchPanic<crate::auth::layer::AuthService<Routes>>>;

/// Wraps `routes` in the call layers of [`call_stack`] other than the HTTP front: request id,
/// metrics, call limit and deadline, panics, then authentication and policy.
pub fn grpc_stack(rpc: RpcLayer, auth: AuthLayer, routes: Routes) -> GrpcStack {
    telemetry::call_layers(rpc).layer(auth.layer(routes))
}

/// The layered gRPC services as a client channel, for callers inside the process.
pub fn in_process(grpc: GrpcStack) -> crate::mcp::GrpcChannel {
    let grpc = ServiceExt::<http::Request<tonic::body::Body>>::map_response(grpc, |r| {
        r.map(tonic::body::Body::new)
    });
    let grpc =
        ServiceExt::<http::Request<tonic::body::Body>>::map_err(grpc, |never| match never {});
    BoxCloneSyncService::new(grpc)
}

/// What the drain needs to take the server down in order (ARCHITECTURE.md, "Drain").
struct Draining {
    /// Its databases' health checks stop first, and health turns NOT_SERVING.
    fleet: Arc<Fleet>,
    drain: Drain,
    /// Stops the servers accepting (and makes them wait for calls in flight).
    stop: CancellationToken,
    grace: Duration,
    timeout: Duration,
    /// What a drain cut short left open, said when it is.
    left: Left,
}

/// The counts a drain timeout reports, so the log says what held the exit.
struct Left {
    connections: Gauge,
    streams: Streams,
    calls: Option<Arc<CallLimit>>,
}

impl Draining {
    /// Runs `server` until `shutdown` resolves, then drains it.
    async fn serve(
        self,
        server: impl Future<Output = Result<(), tonic::transport::Error>>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), StartupError> {
        let failed =
            |e: tonic::transport::Error| StartupError::Other(format!("gRPC server failed: {e}"));
        tokio::pin!(server);
        tokio::select! {
            result = &mut server => return result.map_err(failed),
            () = shutdown => {}
        }
        let deadline = Instant::now() + self.timeout;
        // 1. NOT_SERVING first, with the checker stopped so it cannot turn it back.
        self.fleet.stop_health(&health::PROCESS_NAMES).await;
        tracing::info!(
            grace_ms = self.grace.as_millis() as u64,
            "health NOT_SERVING; draining"
        );
        // 2. Keep serving through the grace, so load balancers see NOT_SERVING and stop routing here.
        tokio::select! {
            result = &mut server => return result.map_err(failed),
            () = tokio::time::sleep(self.grace) => {}
        }
        // 3. Stop accepting (GOAWAY) and end every open wait with UNAVAILABLE: graceful shutdown waits
        //    for every open call, and a wait may never end on its own. Unary calls in flight go on.
        self.stop.cancel();
        self.drain.start();
        // 4. Wait for the calls in flight, bounded by the drain timeout counted from the signal.
        match tokio::time::timeout_at(deadline, server).await {
            Ok(result) => {
                tracing::info!("drained");
                result.map_err(failed)
            }
            Err(_) => {
                let left = &self.left;
                tracing::warn!(
                    timeout_ms = self.timeout.as_millis() as u64,
                    connections_open = left.connections.get(),
                    streams_open = left.streams.open(),
                    calls_in_flight = left.calls.as_ref().map(|c| c.in_flight()),
                    "drain timeout: calls still in flight were cut off"
                );
                Ok(())
            }
        }
    }
}

/// A task aborted when dropped (when the serving future is dropped rather than shut down).
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
