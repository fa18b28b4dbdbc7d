//! Telemetry: Prometheus metrics (RPCs by method, code and database, the pool, the hub, open
//! streams), served on a port of their own, and the per-RPC layer that counts calls and gives each
//! a request id span (and an OpenTelemetry span when traces are on, `traces.rs`). Gauges are read
//! from their owners at scrape time; the workflow health series (`workflow_metrics.rs`) are
//! refreshed by one task per database and interval, so a scrape never queries a database. The
//! series of each database ([`DatabaseSeries`]: workflow health, retention, the calls' `database`
//! label) are written by that database's tasks (`fleet::tasks`) and labelled with its name.

pub mod database_label;
pub mod databases;
pub mod endpoint;
pub mod histogram;
pub mod intercept;
pub mod layer;
pub mod panics;
pub mod traces;
pub mod workflow_metrics;

use std::{collections::HashMap, sync::atomic::Ordering, sync::Arc, time::Duration};

use prometheus_client::{
    encoding::{text::encode, EncodeLabelSet},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};
use prost::Message;
use tonic::Code;

use crate::{
    hub::Hub,
    overload::Streams,
    pb,
    repo::{workflows::coalescer::EnqueueStats, Repo},
};

/// RPC latency buckets, in seconds: from sub-millisecond reads to long waits.
const LATENCY_BUCKETS: [f64; 16] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0,
    300.0,
];

/// Unary RPCs that wait (bounded by their own `timeout` field), so the default deadline skips them.
const UNARY_WAITS: [&str; 1] = ["/dbosd.v1.WorkflowService/GetEvent"];

/// The streaming reflection RPCs, which have no descriptor of their own in the sets dbosd registers.
const REFLECTION_METHODS: [&str; 2] = [
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
];

/// The labels of an RPC sample (the names grpc-ecosystem's Prometheus interceptors use), and the
/// call's database (`database_label`: a served name or `unknown`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RpcLabels {
    pub grpc_service: Arc<str>,
    pub grpc_method: Arc<str>,
    pub grpc_code: &'static str,
    pub database: Arc<str>,
}

/// The series labelled by database: made before the fleet, which keeps them as its databases come
/// and go (each database's refresher and retention runner write its own series), and registered
/// with the others by [`Metrics::new`].
#[derive(Clone, Default)]
pub struct DatabaseSeries {
    /// The `database` label of calls.
    pub labels: database_label::DatabaseLabels,
    /// Workflow health, refreshed per database (`workflow_metrics::spawn`).
    pub workflows: Arc<workflow_metrics::WorkflowHealth>,
    /// The retention runners' counters.
    pub retention: Arc<crate::retention::RetentionStats>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

/// A served method, split for labels; unknown paths share one label pair so that clients cannot
/// grow the label space. Made once per served method: a call clones its `Arc`s, allocating nothing.
#[derive(Clone, Debug)]
pub struct Method {
    pub path: Arc<str>,
    service: Arc<str>,
    method: Arc<str>,
    /// Whether the call may wait on purpose (a stream, or GetEvent): no default deadline applies.
    pub waits: bool,
}

/// Every metric dbosd exports, and where the scrape-time values come from.
pub struct Metrics {
    registry: Registry,
    handled: Family<RpcLabels, Counter>,
    latency: Family<RpcLabels, Histogram, fn() -> Histogram>,
    pool: Family<StateLabels, Gauge>,
    hub_waiting_keys: Gauge,
    hub_watchers: Gauge,
    hub_poll_queries: Counter,
    hub_notifications: Counter,
    listen_reconnects: Counter,
    streams_open: Gauge,
    connections_open: Gauge,
    connections_max: Gauge,
    enqueue_statements: Counter,
    enqueue_workflows: Counter,
    panics: Counter,
    /// Pool and hub gauges of every served database, labelled by database.
    pub databases: databases::DatabaseGauges,
    /// The series each database's tasks write, and the calls' `database` label.
    pub per_database: DatabaseSeries,
    /// Served method paths, each with its labels and whether it waits.
    known_methods: HashMap<String, Method>,
    sources: Option<Sources>,
}

/// Where the gauges and counters kept elsewhere are read at scrape time.
struct Sources {
    repo: Repo,
    hub: Arc<Hub>,
    streams: Streams,
    enqueues: Arc<EnqueueStats>,
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

impl Metrics {
    /// The metrics of one server, reading the default database's pool, hub and stream counts from
    /// their owners, with the series of every database in `per_database`.
    pub fn new(
        repo: Repo,
        hub: Arc<Hub>,
        streams: Streams,
        enqueues: Arc<EnqueueStats>,
        per_database: DatabaseSeries,
    ) -> Arc<Metrics> {
        let mut metrics = Metrics::unattached(per_database);
        metrics.sources = Some(Sources {
            repo,
            hub,
            streams,
            enqueues,
        });
        Arc::new(metrics)
    }

    /// The count of open gRPC-port connections, kept by the listener (`crate::connections`), whose
    /// cap is `max` (reported beside it, so an alert can compare the two).
    pub fn connections_open(&self, max: usize) -> Gauge {
        self.connections_max
            .set(i64::try_from(max).unwrap_or(i64::MAX));
        self.connections_open.clone()
    }

    /// Metrics of calls only, with no pool, hub or streams to read (for a server of test services).
    pub fn detached() -> Arc<Metrics> {
        Arc::new(Metrics::unattached(DatabaseSeries::default()))
    }

    fn unattached(per_database: DatabaseSeries) -> Metrics {
        let mut registry = Registry::with_prefix("dbosd");
        let handled = Family::<RpcLabels, Counter>::default();
        let latency = Family::new_with_constructor(latency_histogram as fn() -> Histogram);
        let pool = Family::<StateLabels, Gauge>::default();
        let (hub_waiting_keys, hub_watchers, streams_open) =
            (Gauge::default(), Gauge::default(), Gauge::default());
        let (connections_open, connections_max) = (Gauge::default(), Gauge::default());
        let (hub_poll_queries, hub_notifications, listen_reconnects) =
            (Counter::default(), Counter::default(), Counter::default());
        let (enqueue_statements, enqueue_workflows) = (Counter::default(), Counter::default());
        let panics = Counter::default();
        let databases = databases::DatabaseGauges::default();
        let r = &mut registry;
        databases.register(r);
        r.register(
            "audit_records",
            "Audit records of mutating calls, by RPC and result (see the dbosd::audit log target)",
            crate::audit::counter(),
        );
        r.register(
            "grpc_server_handled",
            "RPCs completed, by method and status code",
            handled.clone(),
        );
        r.register(
            "grpc_server_handling_seconds",
            "RPC latency to the final status (streams: their whole life)",
            latency.clone(),
        );
        r.register(
            "pool_connections",
            "Database pool connections by state (in_use, idle, waiting = requests waiting for one)",
            pool.clone(),
        );
        r.register(
            "hub_waiting_keys",
            "Distinct workflows, events and streams some call waits on",
            hub_waiting_keys.clone(),
        );
        r.register(
            "hub_watchers",
            "WatchWorkflows streams on the status feed",
            hub_watchers.clone(),
        );
        r.register(
            "hub_poll_queries",
            "Batched poll queries run by the hub",
            hub_poll_queries.clone(),
        );
        r.register(
            "hub_notifications",
            "Notifications received on the LISTEN connection",
            hub_notifications.clone(),
        );
        r.register(
            "hub_listen_reconnects",
            "Times the LISTEN connection was re-established after the first",
            listen_reconnects.clone(),
        );
        r.register(
            "streams_open",
            "Streaming calls open now",
            streams_open.clone(),
        );
        r.register(
            "connections_open",
            "Client connections open now on the gRPC port (bounded by --max-connections)",
            connections_open.clone(),
        );
        r.register(
            "connections_max",
            "The most client connections the gRPC port accepts at once (--max-connections)",
            connections_max.clone(),
        );
        r.register(
            "enqueue_statements",
            "Statements that wrote single EnqueueWorkflow calls (fewer than enqueue_workflows when calls shared one)",
            enqueue_statements.clone(),
        );
        r.register(
            "enqueue_workflows",
            "Workflows written by single EnqueueWorkflow calls",
            enqueue_workflows.clone(),
        );
        r.register(
            "panics",
            "Calls that panicked and ended with INTERNAL while dbosd kept serving",
            panics.clone(),
        );
        per_database.workflows.register(r);
        per_database.retention.register(r);
        Metrics {
            registry,
            handled,
            latency,
            pool,
            hub_waiting_keys,
            hub_watchers,
            hub_poll_queries,
            hub_notifications,
            listen_reconnects,
            streams_open,
            connections_open,
            connections_max,
            enqueue_statements,
            enqueue_workflows,
            panics,
            databases,
            per_database,
            known_methods: known_methods(),
            sources: None,
        }
    }

    /// The labels for a request path.
    pub fn method(&self, path: &str) -> Method {
        if let Some(known) = self.known_methods.get(path) {
            return known.clone();
        }
        let unknown: Arc<str> = Arc::from("unknown");
        Method {
            path: Arc::from(path),
            service: Arc::clone(&unknown),
            method: unknown,
            waits: false,
        }
    }

    /// Records one finished RPC on `database` (its `database_label`).
    pub fn observe(&self, method: &Method, database: Arc<str>, code: Code, elapsed: Duration) {
        let labels = RpcLabels {
            grpc_service: Arc::clone(&method.service),
            grpc_method: Arc::clone(&method.method),
            grpc_code: code_name(code),
            database,
        };
        self.handled.get_or_create(&labels).inc();
        self.latency
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// The OpenMetrics text of every metric, with the gauges read now.
    pub fn render(&self) -> String {
        if let Some(Sources {
            repo,
            hub,
            streams,
            enqueues,
        }) = &self.sources
        {
            let pool = repo.pool_state();
            let gauge = |state| self.pool.get_or_create(&StateLabels { state }).clone();
            gauge("in_use").set(i64::from(pool.connections - pool.idle));
            gauge("idle").set(i64::from(pool.idle));
            gauge("waiting").set(pool.waiting as i64);
            self.hub_waiting_keys.set(hub.waiting_keys() as i64);
            self.hub_watchers.set(hub.feed_subscribers() as i64);
            let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
            let set = |counter: &Counter, v: u64| counter.inner().store(v, Ordering::Relaxed);
            set(&self.hub_poll_queries, load(&hub.stats.poll_queries));
            set(&self.hub_notifications, load(&hub.stats.notifications));
            let connects = load(&hub.stats.listen_connects);
            set(&self.listen_reconnects, connects.saturating_sub(1));
            self.streams_open.set(streams.open() as i64);
            set(&self.enqueue_statements, load(&enqueues.statements));
            set(&self.enqueue_workflows, load(&enqueues.workflows));
        }
        self.databases.refresh();
        self.panics
            .inner()
            .store(panics::total(), Ordering::Relaxed);
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}

/// The layers every call passes through first, outermost first: the request id span, counting and
/// the default deadline ([`layer::RpcLayer`]), then catching panics ([`panics::CatchPanicLayer`]) so a
/// panic is counted, logged and answered with the request id like any INTERNAL.
pub fn call_layers(
    rpc: layer::RpcLayer,
) -> tower_layer::Stack<panics::CatchPanicLayer, layer::RpcLayer> {
    tower_layer::Stack::new(panics::CatchPanicLayer, rpc)
}

/// gRPC's canonical code names as Prometheus interceptors spell them (`OK`, `NotFound`).
fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "Cancelled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

/// Every method path dbosd serves, from the descriptor sets it registers for reflection, with its
/// labels and whether it waits.
fn known_methods() -> HashMap<String, Method> {
    let mut paths: HashMap<String, bool> = REFLECTION_METHODS
        .iter()
        .map(|p| (p.to_string(), true))
        .collect();
    for set in [
        pb::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
    ] {
        let Ok(set) = prost_types::FileDescriptorSet::decode(set) else {
            continue;
        };
        for file in set.file {
            let package = file.package();
            for service in &file.service {
                for method in &service.method {
                    let path = format!("/{package}.{}/{}", service.name(), method.name());
                    let waits = method.server_streaming()
                        || method.client_streaming()
                        || UNARY_WAITS.contains(&path.as_str());
                    paths.insert(path, waits);
                }
            }
        }
    }
    paths
        .into_iter()
        .map(|(path, waits)| {
            let (service, method) = path
                .trim_start_matches('/')
                .split_once('/')
                .unwrap_or_default();
            let method = Method {
                path: Arc::from(path.as_str()),
                service: Arc::from(service),
                method: Arc::from(method),
                waits,
            };
            (path, method)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_labels_are_the_code_names() {
        for n in 0..=16 {
            let code = Code::from_i32(n);
            let expected = match code {
                Code::Ok => "OK".to_owned(),
                other => format!("{other:?}"),
            };
            assert_eq!(code_name(code), expected);
        }
    }

    #[test]
    fn served_methods_are_labelled_and_others_are_folded() {
        let metrics = Metrics::unattached(DatabaseSeries::default());
        let m = metrics.method("/dbosd.v1.WorkflowService/GetWorkflow");
        assert_eq!(
            (&*m.service, &*m.method),
            ("dbosd.v1.WorkflowService", "GetWorkflow")
        );
        assert!(!m.waits);
        let m = metrics.method("/grpc.health.v1.Health/Check");
        assert_eq!(&*m.method, "Check");
        assert!(metrics.method("/grpc.health.v1.Health/Watch").waits);
        assert!(metrics.method("/dbosd.v1.WorkflowService/GetEvent").waits);
        assert!(
            metrics
                .method("/dbosd.v1.WorkflowService/AwaitWorkflow")
                .waits
        );
        let m = metrics.method("/dbosd.v1.WorkflowService/NoSuchMethod");
        assert_eq!((&*m.service, &*m.method), ("unknown", "unknown"));
        metrics.observe(
            &metrics.method("/grpc.health.v1.Health/Check"),
            Arc::from("a"),
            Code::NotFound,
            Duration::from_millis(3),
        );
        let text = metrics.render();
        assert!(
            text.contains(r#"dbosd_grpc_server_handled_total{grpc_service="grpc.health.v1.Health",grpc_method="Check",grpc_code="NotFound",database="a"} 1"#),
            "{text}"
        );
    }
}
