//! The health reporter's checker: SERVING for `""` and `dbosd.v1.WorkflowService` only while the
//! database answers and the schema is compatible, re-checked on an interval.

use std::time::Duration;

use tokio_postgres::NoTls;
use tonic_health::{server::HealthReporter, ServingStatus};

use crate::repo::SchemaInfo;

/// The full name of the API service, as health clients ask for it.
pub const SERVICE_NAME: &str = "dbosd.v1.WorkflowService";

/// Checks now and then every `interval`, forever (the server aborts the task on shutdown).
pub async fn run(reporter: HealthReporter, url: String, schema: String, interval: Duration) {
    let mut last: Option<bool> = None;
    loop {
        let healthy = match check(&url, &schema).await {
            Ok(()) => true,
            Err(reason) => {
                if last != Some(false) {
                    tracing::warn!(%reason, "NOT_SERVING");
                }
                false
            }
        };
        if last != Some(healthy) {
            let status = if healthy {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            };
            reporter.set_service_status("", status).await;
            reporter.set_service_status(SERVICE_NAME, status).await;
            if healthy {
                tracing::info!("SERVING");
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
