//! The health reporter's checker: SERVING for a database's health names (`""` and
//! `dbosd.v1.WorkflowService` for the default database, `dbosd.v1.WorkflowService/NAME` for each
//! database of a fleet) only while it answers and its schema is compatible, re-checked on an interval. Plus the health service
//! itself, whose `Watch` streams (which never end on their own) end when dbosd drains.

use std::{future::ready, pin::Pin, time::Duration};

use futures::{stream, Stream, StreamExt};
use tokio_postgres::NoTls;
use tonic::{Request, Response, Status};
use tonic_health::{
    pb::{
        health_server::{Health, HealthServer},
        HealthCheckRequest, HealthCheckResponse,
    },
    server::{HealthReporter, HealthService},
    ServingStatus,
};

use crate::{api::HealthCell, error::Error, repo::SchemaInfo, shutdown::Drain};

/// The full name of the API service, as health clients ask for it.
pub const SERVICE_NAME: &str = "dbosd.v1.WorkflowService";

/// The names that speak for the whole process: the empty name probes ask by default, and the API
/// service's. NOT_SERVING until the first database check passes, and again from the drain on.
pub const PROCESS_NAMES: [&str; 2] = ["", SERVICE_NAME];

/// A health name that is SERVING whenever the process answers, whatever the database's state: the
/// liveness probe's, so a database outage marks replicas unready without restarting them.
pub const LIVENESS: &str = "liveness";

/// One database's health check: where it is, the names it reports under, and the cell
/// `ListDatabases` reads.
pub struct Check {
    pub url: String,
    pub schema: String,
    pub names: Vec<String>,
    pub cell: HealthCell,
}

/// Checks now and then every `interval`, forever (the fleet aborts the task on shutdown).
pub async fn run(reporter: HealthReporter, db: Check, interval: Duration) {
    let mut last: Option<bool> = None;
    loop {
        let healthy = match check(&db.url, &db.schema).await {
            Ok(()) => true,
            Err(reason) => {
                if last != Some(false) {
                    tracing::warn!(%reason, service = ?db.names.last(), "NOT_SERVING");
                }
                false
            }
        };
        db.cell.set(healthy);
        if last != Some(healthy) {
            let status = if healthy {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            };
            for name in &db.names {
                reporter.set_service_status(name, status).await;
            }
            if healthy {
                tracing::info!(service = ?db.names.last(), "SERVING");
            }
            last = Some(healthy);
        }
        tokio::time::sleep(interval).await;
    }
}

/// One check on a fresh connection (the pool's connections may all be busy; health must not queue behind them).
async fn check(url: &str, schema: &str) -> Result<(), String> {
    let connect = tokio_postgres::connect(url, NoTls);
    let (client, connection) = tokio::time::timeout(Duration::from_secs(5), connect)
        .await
        .map_err(|_| "connecting to the database timed out".to_owned())?
        .map_err(|e| format!("database unreachable: {e}"))?;
    let driver = tokio::spawn(connection);
    let info = SchemaInfo::detect(&client, schema)
        .await
        .map_err(|e| e.to_string());
    drop(client);
    let _ = driver.await;
    info?.check().map_err(|e| e.to_string())
}

/// tonic-health's service, with `Watch` streams that end (UNAVAILABLE, retry) when draining starts:
/// graceful shutdown waits for every open stream, and a health watch would otherwise hold it forever.
pub struct DrainingHealth {
    inner: HealthService,
    drain: Drain,
}

impl DrainingHealth {
    /// The health server for `reporter`'s statuses.
    pub fn server(reporter: &HealthReporter, drain: Drain) -> HealthServer<DrainingHealth> {
        HealthServer::new(DrainingHealth {
            inner: HealthService::from_health_reporter(reporter.clone()),
            drain,
        })
    }
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<HealthCheckResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Health for DrainingHealth {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        self.inner.check(request).await
    }

    type WatchStream = WatchStream;

    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<WatchStream>, Status> {
        let statuses = self.inner.watch(request).await?.into_inner();
        let drain = self.drain.clone();
        let drained = stream::once(async move {
            drain.draining().await;
            Err(Status::from(Error::Draining))
        });
        // The statuses until draining, then the draining status, then the end.
        let mut ended = false;
        let watch = stream::select(statuses, drained).take_while(move |item| {
            let keep = !ended;
            ended = item.is_err();
            ready(keep)
        });
        Ok(Response::new(Box::pin(watch)))
    }
}
