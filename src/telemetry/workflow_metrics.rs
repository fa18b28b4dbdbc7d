//! Workflow health metrics read from the system database: per queue the backlog by status, the age
//! of its oldest ENQUEUED / DELAYED workflow and dequeue latency; per workflow name completions by
//! final status; step durations. Every series is labelled `database` (the configured name). Each
//! database has its refresher task ([`spawn`], started and stopped with the database by
//! `fleet::tasks`): ONE bounded statement per interval (`repo::telemetry`) against that database's
//! [`Repo`], updating its series here, so a scrape only reads memory. Counters grow by the window
//! since the previous refresh, so each refresh's work follows the traffic of one interval.
//! Workflow, step and queue names are labels, capped in number per database
//! (`--workflow-metrics-max-names`): names past the cap share the label `other`. When a database
//! is removed its gauges go (a stale `database_up` would lie); its counters keep their totals.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
};
use tokio::task::JoinHandle;

use super::histogram::BucketedHistogram;
use crate::repo::{
    telemetry::{HealthSnapshot, WINDOW_LAG_MS},
    Repo,
};

/// Dequeue latency buckets, in seconds: from an idle worker's poll to a long backlog.
pub static DEQUEUE_BUCKETS: [f64; 12] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0,
];
/// Step duration buckets, in seconds.
pub static STEP_BUCKETS: [f64; 14] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0, 300.0,
];
/// The label of names past the cap.
pub const OTHER: &str = "other";
/// The statuses counted as backlog, each always reported (0 when empty) for every known queue.
const BACKLOG: [&str; 3] = ["ENQUEUED", "PENDING", "DELAYED"];

/// How the refresher runs.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowMetricsSettings {
    /// Time between refreshes; zero turns the refresher off.
    pub interval: Duration,
    /// Most distinct workflow names (and, separately, step and queue names) with a label of their own.
    pub max_names: usize,
}

impl Default for WorkflowMetricsSettings {
    fn default() -> Self {
        WorkflowMetricsSettings {
            interval: Duration::from_secs(15),
            max_names: 100,
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueStatus {
    database: Arc<str>,
    queue: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabel {
    database: Arc<str>,
    queue: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NameStatus {
    database: Arc<str>,
    name: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StepLabel {
    database: Arc<str>,
    step: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    database: Arc<str>,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DatabaseLabel {
    database: Arc<str>,
}

fn dequeue_histogram() -> BucketedHistogram {
    BucketedHistogram::new(&DEQUEUE_BUCKETS)
}

fn step_histogram() -> BucketedHistogram {
    BucketedHistogram::new(&STEP_BUCKETS)
}

/// The workflow health series of every database, by `database` label.
pub struct WorkflowHealth {
    backlog: Family<QueueStatus, Gauge>,
    oldest_age: Family<QueueStatus, Gauge<f64, std::sync::atomic::AtomicU64>>,
    dequeue_latency: Family<QueueLabel, BucketedHistogram, fn() -> BucketedHistogram>,
    queue_completed: Family<QueueStatus, Counter>,
    completed: Family<NameStatus, Counter>,
    step_duration: Family<StepLabel, BucketedHistogram, fn() -> BucketedHistogram>,
    refreshes: Family<ResultLabel, Counter>,
    database_up: Family<DatabaseLabel, Gauge>,
    last_refresh: Family<DatabaseLabel, Gauge<f64, std::sync::atomic::AtomicU64>>,
}

/// One database's names admitted to labels of their own, and the queues seen (their backlog goes
/// back to 0), kept by its refresher.
#[derive(Default)]
struct Names {
    workflows: Capped,
    steps: Capped,
    queues: Capped,
    backlog_seen: HashSet<QueueStatus>,
}

/// First come, first labelled: a name keeps its label once admitted, later ones fold into `other`.
#[derive(Default)]
struct Capped {
    admitted: HashSet<String>,
}

impl Capped {
    fn label(&mut self, name: &str, max: usize) -> String {
        if self.admitted.contains(name) {
            return name.to_owned();
        }
        if self.admitted.len() < max {
            self.admitted.insert(name.to_owned());
            return name.to_owned();
        }
        OTHER.to_owned()
    }
}

impl Default for WorkflowHealth {
    fn default() -> Self {
        WorkflowHealth {
            backlog: Family::default(),
            oldest_age: Family::default(),
            dequeue_latency: Family::new_with_constructor(dequeue_histogram),
            queue_completed: Family::default(),
            completed: Family::default(),
            step_duration: Family::new_with_constructor(step_histogram),
            refreshes: Family::default(),
            database_up: Family::default(),
            last_refresh: Family::default(),
        }
    }
}

impl WorkflowHealth {
    /// Registers the series in `registry` (under its `dbosd` prefix).
    pub fn register(&self, registry: &mut Registry) {
        let health = self;
        let r = registry;
        r.register(
            "queue_workflows",
            "Workflows waiting or running per queue, by status (ENQUEUED, PENDING, DELAYED), at the last refresh",
            health.backlog.clone(),
        );
        r.register(
            "queue_oldest_workflow_age_seconds",
            "Age (since created_at) of the oldest ENQUEUED or DELAYED workflow per queue, 0 when none",
            health.oldest_age.clone(),
        );
        r.register(
            "queue_dequeue_latency_seconds",
            "Time from enqueue to dequeue (created_at to started_at) of workflows dequeued per queue",
            health.dequeue_latency.clone(),
        );
        r.register(
            "queue_workflows_completed",
            "Workflows of a queue that reached a final status, by status",
            health.queue_completed.clone(),
        );
        r.register(
            "workflows_completed",
            "Workflows that reached a final status (SUCCESS, ERROR, CANCELLED, MAX_RECOVERY_ATTEMPTS_EXCEEDED), by workflow name",
            health.completed.clone(),
        );
        r.register(
            "step_duration_seconds",
            "Duration of completed steps (operation_outputs started_at to completed_at), by step name",
            health.step_duration.clone(),
        );
        r.register(
            "workflow_metrics_refreshes",
            "Refreshes of the workflow metrics from the system database, by result (ok, error)",
            health.refreshes.clone(),
        );
        r.register(
            "database_up",
            "1 when the last workflow-metrics refresh read the system database, 0 when it failed",
            health.database_up.clone(),
        );
        r.register(
            "workflow_metrics_last_success_timestamp_seconds",
            "When the workflow metrics were last refreshed successfully (Unix time)",
            health.last_refresh.clone(),
        );
    }

    /// Applies one refresh's snapshot of `database` (whose `names` these are); `max_names` caps the
    /// labels of names.
    fn apply(&self, database: &Arc<str>, names: &mut Names, s: &HealthSnapshot, max_names: usize) {
        let db = || Arc::clone(database);
        let now_ms = s.window_end_ms + WINDOW_LAG_MS;
        // Every queue and status reported before is reported again, 0 if it emptied.
        let mut backlog: HashMap<QueueStatus, (i64, Option<i64>)> = names
            .backlog_seen
            .iter()
            .map(|k| (k.clone(), (0, None)))
            .collect();
        for b in &s.backlog {
            let queue = names.queues.label(&b.queue, max_names);
            for status in BACKLOG {
                let key = QueueStatus {
                    database: db(),
                    queue: queue.clone(),
                    status: status.to_owned(),
                };
                backlog.entry(key).or_insert((0, None));
            }
            let entry = backlog
                .entry(QueueStatus {
                    database: db(),
                    queue,
                    status: b.status.clone(),
                })
                .or_insert((0, None));
            entry.0 += b.count;
            entry.1 = Some(
                entry
                    .1
                    .map_or(b.oldest_created_ms, |o| o.min(b.oldest_created_ms)),
            );
        }
        for (key, (count, oldest)) in backlog {
            self.backlog.get_or_create(&key).set(count);
            if key.status != "PENDING" {
                let age = oldest.map_or(0.0, |o| (now_ms - o).max(0) as f64 / 1000.0);
                self.oldest_age.get_or_create(&key).set(age);
            }
            names.backlog_seen.insert(key);
        }
        for c in &s.completions {
            let n = c.count.max(0) as u64;
            let name = names.workflows.label(&c.name, max_names);
            let key = NameStatus {
                database: db(),
                name,
                status: c.status.clone(),
            };
            self.completed.get_or_create(&key).inc_by(n);
            if let Some(queue) = &c.queue {
                let key = QueueStatus {
                    database: db(),
                    queue: names.queues.label(queue, max_names),
                    status: c.status.clone(),
                };
                self.queue_completed.get_or_create(&key).inc_by(n);
            }
        }
        for d in &s.dequeues {
            let queue = names.queues.label(&d.label, max_names);
            self.dequeue_latency
                .get_or_create(&QueueLabel {
                    database: db(),
                    queue,
                })
                .add(d.bucket, d.count.max(0) as u64, d.sum_seconds);
        }
        for st in &s.steps {
            let step = names.steps.label(&st.label, max_names);
            let key = StepLabel {
                database: db(),
                step,
            };
            self.step_duration.get_or_create(&key).add(
                st.bucket,
                st.count.max(0) as u64,
                st.sum_seconds,
            );
        }
    }

    fn record(&self, database: &Arc<str>, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        let database = Arc::clone(database);
        let key = ResultLabel {
            database: Arc::clone(&database),
            result,
        };
        self.refreshes.get_or_create(&key).inc();
        let db = DatabaseLabel { database };
        self.database_up.get_or_create(&db).set(i64::from(ok));
        if ok {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            self.last_refresh.get_or_create(&db).set(now.as_secs_f64());
        }
    }

    /// Removes the gauges of `database` (it is no longer served): its backlog, ages and up-ness
    /// would otherwise stay at their last values.
    fn forget(&self, database: &Arc<str>, names: &Names) {
        for key in &names.backlog_seen {
            self.backlog.remove(key);
            self.oldest_age.remove(key);
        }
        let db = DatabaseLabel {
            database: Arc::clone(database),
        };
        self.database_up.remove(&db);
        self.last_refresh.remove(&db);
    }
}

/// One database's refresher state; its gauges are removed when the refresher stops (the task is
/// aborted as the database closes).
struct Refresher {
    health: Arc<WorkflowHealth>,
    database: Arc<str>,
    names: Names,
}

impl Drop for Refresher {
    fn drop(&mut self) {
        self.health.forget(&self.database, &self.names);
    }
}

/// Starts the refresher of database `database`'s workflow metrics (read through `repo`) into
/// `health`; `None` when turned off. The task is self-contained (one per database): abort it to
/// stop, which removes the database's gauges.
pub fn spawn(
    repo: Repo,
    health: Arc<WorkflowHealth>,
    settings: &WorkflowMetricsSettings,
    database: &str,
) -> Option<JoinHandle<()>> {
    if settings.interval.is_zero() {
        return None;
    }
    let refresher = Refresher {
        health,
        database: Arc::from(database),
        names: Names::default(),
    };
    Some(tokio::spawn(run(repo, refresher, settings.clone())))
}

async fn run(repo: Repo, mut r: Refresher, settings: WorkflowMetricsSettings) {
    let mut tick = tokio::time::interval(settings.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // A window never reaches further back than this, so a refresh after an outage stays bounded
    // (what completed before it is not counted).
    let longest = max_window(settings.interval);
    // The first window starts at the first refresh's end: counters count from dbosd's start.
    let mut since: Option<i64> = None;
    let mut failing = false;
    loop {
        tick.tick().await;
        let from = since.unwrap_or(i64::MAX);
        match repo
            .workflow_health(from, longest, &DEQUEUE_BUCKETS, &STEP_BUCKETS)
            .await
        {
            Ok(snapshot) => {
                r.health
                    .apply(&r.database, &mut r.names, &snapshot, settings.max_names);
                r.health.record(&r.database, true);
                since = Some(snapshot.window_end_ms.max(since.unwrap_or(i64::MIN)));
                if failing {
                    tracing::info!(database = %r.database, "workflow metrics refreshed again");
                    failing = false;
                }
            }
            Err(e) => {
                r.health.record(&r.database, false);
                // Once per outage, not once per interval.
                if !failing {
                    tracing::warn!(database = %r.database, error = %e, "cannot refresh the workflow metrics");
                    failing = true;
                }
            }
        }
    }
}

/// The longest window one refresh reads: ten intervals, and at least a minute.
fn max_window(interval: Duration) -> i64 {
    (interval.as_millis() as i64).saturating_mul(10).max(60_000)
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::text::encode;

    use super::*;
    use crate::repo::telemetry::{Backlog, Bucketed, Completions};

    fn render(registry: &Registry) -> String {
        let mut text = String::new();
        encode(&mut text, registry).unwrap();
        text
    }

    #[test]
    fn names_past_the_cap_fold_into_other_and_emptied_queues_report_zero() {
        let mut registry = Registry::with_prefix("dbosd");
        let health = WorkflowHealth::default();
        health.register(&mut registry);
        let db: Arc<str> = Arc::from("a");
        let mut names = Names::default();
        let done = |name: &str, status: &str, count| Completions {
            queue: Some("q".into()),
            name: name.into(),
            status: status.into(),
            count,
        };
        let snapshot = HealthSnapshot {
            window_end_ms: 10_000,
            backlog: vec![Backlog {
                queue: "q".into(),
                status: "ENQUEUED".into(),
                count: 4,
                oldest_created_ms: 9_000,
            }],
            completions: vec![
                done("a", "SUCCESS", 2),
                done("b", "ERROR", 1),
                done("c", "ERROR", 5),
            ],
            dequeues: vec![],
            steps: vec![Bucketed {
                label: "s".into(),
                bucket: 0,
                count: 1,
                sum_seconds: 0.001,
            }],
        };
        health.apply(&db, &mut names, &snapshot, 2);
        let text = render(&registry);
        for line in [
            r#"dbosd_workflows_completed_total{database="a",name="a",status="SUCCESS"} 2"#,
            r#"dbosd_workflows_completed_total{database="a",name="b",status="ERROR"} 1"#,
            r#"dbosd_workflows_completed_total{database="a",name="other",status="ERROR"} 5"#,
            r#"dbosd_queue_workflows_completed_total{database="a",queue="q",status="ERROR"} 6"#,
            r#"dbosd_queue_workflows{database="a",queue="q",status="ENQUEUED"} 4"#,
            r#"dbosd_queue_workflows{database="a",queue="q",status="DELAYED"} 0"#,
            r#"dbosd_queue_oldest_workflow_age_seconds{database="a",queue="q",status="ENQUEUED"} 3.0"#,
            r#"dbosd_step_duration_seconds_count{database="a",step="s"} 1"#,
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
        // The queue emptied: its series stay, at 0; counters keep their totals.
        let empty = HealthSnapshot {
            window_end_ms: 20_000,
            ..Default::default()
        };
        health.apply(&db, &mut names, &empty, 2);
        let text = render(&registry);
        for line in [
            r#"dbosd_queue_workflows{database="a",queue="q",status="ENQUEUED"} 0"#,
            r#"dbosd_queue_oldest_workflow_age_seconds{database="a",queue="q",status="ENQUEUED"} 0.0"#,
            r#"dbosd_workflows_completed_total{database="a",name="other",status="ERROR"} 5"#,
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
        // The database is removed: its gauges go, its counters stay.
        health.record(&db, true);
        assert!(render(&registry).contains(r#"dbosd_database_up{database="a"} 1"#));
        drop(Refresher {
            health: Arc::new(health),
            database: db,
            names,
        });
        let text = render(&registry);
        assert!(!text.contains("dbosd_database_up{"), "{text}");
        assert!(!text.contains("dbosd_queue_workflows{"), "{text}");
        assert!(text.contains(r#"name="other",status="ERROR"} 5"#), "{text}");
    }
}
