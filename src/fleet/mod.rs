//! The fleet: every system database dbosd serves, each isolated from the others. For each database
//! it owns the lifecycle: opening it (retrying with backoff while it is unreachable, so one
//! database down at startup or at a reload delays nobody else), its service (`WorkflowApi` over its
//! own pool, enqueue coalescer and hub), its background tasks (`tasks.rs`: hub, workflow metrics,
//! retention, bulk jobs), its health check (its own health service name) and its drain token (a
//! removed database's open waits end with UNAVAILABLE). It writes the routing table
//! (`api::Databases`) every call resolves its database in, and the names the call metrics may
//! label a call with (`telemetry::database_label`). [`Fleet::apply`] diffs a new list of databases
//! against the served ones: added ones open, removed ones close, changed ones are replaced, and the
//! others are untouched (`reload.rs`).
//!
//! The default database (`--database-url`, or the config file's `default`) is prepared before the
//! port opens, as dbosd always did, and is not changed by a reload.

pub mod migrate;
pub mod open;
pub mod reload;
pub mod tasks;

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use tonic_health::server::HealthReporter;

use self::tasks::{OpenDatabase, Tasks};
use crate::{
    api::{service::databases::health_service, Databases, HealthCell, Streams, WorkflowApi},
    backoff::Backoff,
    config::Settings,
    fleet_config::DatabaseSpec,
    health,
    hub::Hub,
    repo::{workflows::coalescer::EnqueueCoalescer, Repo},
    shutdown::Drain,
    sync::lock_unpoisoned,
    telemetry::DatabaseSeries,
};

/// What every database's service shares.
#[derive(Clone)]
struct Shared {
    /// The server's settings; a configured database's are derived from them (`open::settings_for`).
    base: Settings,
    /// The stream cap and the server's drain.
    streams: Streams,
    databases: Databases,
    reporter: HealthReporter,
    /// Each database's metric series, and the names calls are labelled with.
    series: DatabaseSeries,
}

/// One served database's lifecycle; dropping it closes the database.
struct Running {
    /// `None` for the default database (not reloadable).
    spec: Option<DatabaseSpec>,
    /// Its health names, cleared when it is removed.
    health_names: Vec<String>,
    /// Opening it, then its background tasks.
    _life: Tasks,
    health: Option<Tasks>,
    /// Ends its open waits when it is removed (a child of the server's drain).
    drain: Drain,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.drain.start();
    }
}

/// What [`Fleet::apply`] changed, by name.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub replaced: Vec<String>,
}

/// The served databases.
pub struct Fleet {
    shared: Shared,
    running: Mutex<BTreeMap<String, Running>>,
}

impl Fleet {
    /// A fleet serving nothing yet, routing through `databases`, reporting health to `reporter`
    /// and each database's metrics into `series`.
    pub fn new(
        base: &Settings,
        streams: Streams,
        databases: Databases,
        reporter: HealthReporter,
        series: DatabaseSeries,
    ) -> Arc<Fleet> {
        Arc::new(Fleet {
            shared: Shared {
                base: base.clone(),
                streams,
                databases,
                reporter,
                series,
            },
            running: Mutex::new(BTreeMap::new()),
        })
    }

    /// Serves the default database `name` (already prepared: `repo`), waking its waiters through
    /// `hub`; calls naming no database go to it. Returns its service (the metrics read its enqueue
    /// counters).
    pub fn add_default(&self, name: &str, repo: Repo, hub: Arc<Hub>) -> WorkflowApi {
        let shared = &self.shared;
        let drain = shared.streams.drain().child();
        let cell = HealthCell::default();
        shared.databases.add(name, cell.clone());
        shared.databases.set_default(name);
        shared.series.labels.set_default(name);
        let mut settings = shared.base.clone();
        settings.retention = (settings.default_retention)
            .apply(settings.retention.as_ref(), &settings.retention_pace);
        let api = service(
            shared,
            &settings,
            repo.clone(),
            Arc::clone(&hub),
            drain.clone(),
        );
        shared.databases.open(name, api.clone());
        let db_name = name.to_owned();
        let series = shared.series.clone();
        let life = tokio::spawn(async move {
            let _tasks = tasks::spawn(&OpenDatabase {
                name: &db_name,
                repo: &repo,
                hub: &hub,
                settings: &settings,
                series: &series,
            });
            std::future::pending::<()>().await
        });
        // The default database speaks for the process too.
        let names: Vec<String> = health::PROCESS_NAMES
            .into_iter()
            .map(str::to_owned)
            .chain([health_service(name)])
            .collect();
        let health = self.health_task(&shared.base, names.clone(), cell);
        lock_unpoisoned(&self.running).insert(
            name.to_owned(),
            Running {
                spec: None,
                health_names: names,
                _life: Tasks::one(life),
                health: Some(health),
                drain,
            },
        );
        api
    }

    /// Serves exactly `specs` besides the default database: opens the new ones, closes the ones
    /// no longer listed, replaces the changed ones, and leaves the rest (and their calls) alone.
    pub fn apply(&self, specs: &[DatabaseSpec]) -> Changes {
        let mut running = lock_unpoisoned(&self.running);
        let mut changes = Changes::default();
        let wanted: BTreeMap<&str, &DatabaseSpec> =
            specs.iter().map(|s| (s.name.as_str(), s)).collect();
        let gone: Vec<String> = running
            .iter()
            .filter(|(name, r)| r.spec.is_some() && !wanted.contains_key(name.as_str()))
            .map(|(name, _)| name.clone())
            .collect();
        for name in gone {
            self.close(&mut running, &name);
            changes.removed.push(name);
        }
        for (name, spec) in wanted {
            match running.get(name) {
                // The default database keeps its flags' settings until a restart.
                Some(r) if r.spec.is_none() => {
                    tracing::warn!(
                        database = name,
                        "the default database is not reloaded; restart dbosd to change it"
                    );
                    continue;
                }
                Some(r) if r.spec.as_ref() == Some(spec) => continue,
                Some(_) => {
                    self.close(&mut running, name);
                    changes.replaced.push(name.to_owned());
                }
                None => changes.added.push(name.to_owned()),
            }
            let opened = self.open(spec);
            running.insert(name.to_owned(), opened);
        }
        changes
    }

    /// Health turns NOT_SERVING for every database and for `also` (the process-wide names), and
    /// stays so (the first step of the drain). Each name is set once: a second NOT_SERVING would
    /// reach health watchers as a second update.
    pub async fn stop_health(&self, also: &[&str]) {
        let mut names: std::collections::BTreeSet<String> =
            also.iter().map(|n| (*n).to_owned()).collect();
        {
            let mut running = lock_unpoisoned(&self.running);
            for r in running.values_mut() {
                r.health = None;
                names.extend(r.health_names.iter().cloned());
            }
        }
        for name in names {
            self.shared
                .reporter
                .set_service_status(&name, tonic_health::ServingStatus::NotServing)
                .await;
        }
    }

    /// Closes every database (the end of the drain).
    pub fn shutdown(&self) {
        std::mem::take(&mut *lock_unpoisoned(&self.running));
    }

    /// Starts serving a configured database: routed at once (UNAVAILABLE until it opens).
    fn open(&self, spec: &DatabaseSpec) -> Running {
        let shared = self.shared.clone();
        let settings = open::settings_for(&shared.base, spec);
        let drain = shared.streams.drain().child();
        let cell = HealthCell::default();
        shared.databases.add(&spec.name, cell.clone());
        shared.series.labels.add(&spec.name);
        let names = vec![health_service(&spec.name)];
        let health = self.health_task(&settings, names.clone(), cell);
        let life = tokio::spawn(open_and_run(
            shared,
            spec.name.clone(),
            settings,
            drain.clone(),
        ));
        Running {
            spec: Some(spec.clone()),
            health_names: names,
            _life: Tasks::one(life),
            health: Some(health),
            drain,
        }
    }

    /// Stops serving `name`: unrouted first, so no new call reaches it; its open waits end.
    fn close(&self, running: &mut BTreeMap<String, Running>, name: &str) {
        self.shared.databases.remove(name);
        self.shared.series.labels.remove(name);
        if let Some(r) = running.remove(name) {
            let mut reporter = self.shared.reporter.clone();
            let names = r.health_names.clone();
            drop(r);
            tokio::spawn(async move {
                for name in names {
                    reporter.clear_service_status(&name).await;
                }
            });
        }
    }

    fn health_task(&self, settings: &Settings, names: Vec<String>, cell: HealthCell) -> Tasks {
        let check = health::Check {
            url: settings.database_url.clone(),
            schema: settings.schema.clone(),
            names,
            cell,
        };
        Tasks::one(tokio::spawn(health::run(
            self.shared.reporter.clone(),
            check,
            settings.health_interval,
        )))
    }
}

/// One database's service over its own repository, coalescer and hub; its waits end on `drain`.
fn service(
    shared: &Shared,
    settings: &Settings,
    repo: Repo,
    hub: Arc<Hub>,
    drain: Drain,
) -> WorkflowApi {
    hub.set_max_keys(settings.max_hub_keys);
    let enqueues = EnqueueCoalescer::start(repo.clone(), settings.enqueue_slots);
    WorkflowApi::new(
        repo,
        enqueues,
        hub,
        settings.application_name.clone(),
        shared.streams.with_drain(drain),
    )
    .with_payload_limit(settings.payload_limit())
    .with_response_limit(settings.max_message_bytes)
    .with_native_policy(settings.native.clone())
}

/// Opens a configured database (retrying while it is unreachable or unmigrated), routes its calls,
/// then runs its background tasks until the database is closed (this task aborted).
async fn open_and_run(shared: Shared, name: String, settings: Settings, drain: Drain) {
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    let repo = loop {
        match open::prepare(&settings).await {
            Ok(repo) => break repo,
            Err(e) => {
                tracing::warn!(database = %name, error = %e, retry_in_ms = backoff.peek().as_millis() as u64, "cannot open the database; retrying");
                tokio::time::sleep(backoff.pause()).await;
            }
        }
    };
    let hub = Hub::new();
    let api = service(
        &shared,
        &settings,
        repo.clone(),
        Arc::clone(&hub),
        drain.clone(),
    );
    let db = OpenDatabase {
        name: &name,
        repo: &repo,
        hub: &hub,
        settings: &settings,
        series: &shared.series,
    };
    let _tasks = tasks::spawn(&db);
    let _jobs = tasks::spawn_job_runner(&db, &drain);
    shared.databases.open(&name, api);
    tracing::info!(database = %name, "database open");
    std::future::pending::<()>().await
}
