//! The background work of one open database. **Per-database tasks are spawned here**: the hub's
//! LISTEN connection and its batched poller, the workflow health metrics' refresher and the
//! retention runner (each writing its series under the database's name), and the bulk-job runner
//! ([`spawn_job_runner`]); any runner a feature adds over one database's `Repo` belongs here too,
//! so it starts when its database opens (at startup or a reload) and stops when the database is
//! removed, replaced or drained.

use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{
    api::jobs::runner::{self, RunnerSettings},
    config::Settings,
    hub,
    hub::Hub,
    repo::Repo,
    shutdown::Drain,
    telemetry::DatabaseSeries,
};

/// One open database, as its background tasks need it.
pub struct OpenDatabase<'a> {
    /// Its name (the metrics label and log field of its tasks).
    pub name: &'a str,
    pub repo: &'a Repo,
    pub hub: &'a Arc<Hub>,
    /// Its own settings: the server's, with what its config-file table sets (retention included).
    pub settings: &'a Settings,
    /// Where its workflow health and retention series go.
    pub series: &'a DatabaseSeries,
}

/// Starts every background task of `db`; they stop when the returned [`Tasks`] is dropped.
pub fn spawn(db: &OpenDatabase<'_>) -> Tasks {
    tracing::debug!(
        database = db.name,
        "starting the database's background tasks"
    );
    let mut tasks = vec![
        tokio::spawn(hub::listener::run(
            db.settings.direct_url().to_owned(),
            Arc::clone(db.hub),
        )),
        tokio::spawn(hub::poller::run(
            db.repo.clone(),
            Arc::clone(db.hub),
            db.settings.hub_tick,
            db.settings.hub_watch_rescan,
        )),
    ];
    tasks.extend(crate::telemetry::workflow_metrics::spawn(
        db.repo.clone(),
        Arc::clone(&db.series.workflows),
        &db.settings.workflow_metrics,
        db.name,
    ));
    if let Some(policy) = &db.settings.retention {
        tasks.push(crate::retention::start(
            db.repo.clone(),
            policy.clone(),
            Arc::clone(&db.series.retention),
            db.name,
        ));
    }
    Tasks(tasks)
}

/// The bulk-job runner of a database opened from the fleet's list (when `--bulk-job-runner` is on):
/// jobs live in each database's own `dbosd.bulk_jobs`, so each database needs its runner. It gives
/// its job back when `drain` starts; a runner stopped harder leaves its job to the lease. (The
/// default database's runner is started by `server.rs`, whose shutdown waits for that give-back.)
pub fn spawn_job_runner(db: &OpenDatabase<'_>, drain: &Drain) -> Tasks {
    let Some(lease) = db.settings.bulk_job_lease else {
        return Tasks(Vec::new());
    };
    let stop = CancellationToken::new();
    let runner = RunnerSettings {
        lease,
        default_app: db.settings.application_name.clone(),
    };
    let drain = drain.clone();
    let on_drain = stop.clone();
    Tasks(vec![
        runner::spawn(db.repo.clone(), runner, stop),
        tokio::spawn(async move {
            drain.draining().await;
            on_drain.cancel();
        }),
    ])
}

/// Tasks aborted when this is dropped.
pub struct Tasks(Vec<JoinHandle<()>>);

impl Tasks {
    /// One task, aborted on drop.
    pub fn one(task: JoinHandle<()>) -> Tasks {
        Tasks(vec![task])
    }
}

impl Drop for Tasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}
