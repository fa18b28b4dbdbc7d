//! Workflow health metrics from the system database: the series a real DBOS worker's completions,
//! failures, steps and dequeues produce (`series.rs`), the refresh statement's plan on a large
//! table (`plan.rs`), a refresh that fails (`outage.rs`), and the Grafana dashboard and Prometheus
//! rules in `deploy/` checked against a live dbosd and promtool (`deploy.rs`).

mod deploy;
mod outage;
mod plan;
mod series;

use std::time::Duration;

use dbosd::telemetry::workflow_metrics::WorkflowMetricsSettings;

use crate::harness::{TestDb, TestServer};

/// A server refreshing its workflow metrics every 200 ms.
pub async fn metered_server(db: TestDb) -> TestServer {
    TestServer::start_on(db, |s| {
        s.workflow_metrics = WorkflowMetricsSettings {
            interval: Duration::from_millis(200),
            max_names: 100,
        }
    })
    .await
}
