//! The retention runners' Prometheus metrics, labelled `database` (each database has its runner):
//! what each deleted, how many batches and rounds (by how they ended), failures, and when its last
//! round finished. Registered in dbosd's registry with the other per-database series
//! (`telemetry::DatabaseSeries`), updated by each runner after each round.

use std::{
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
};

use super::{RoundEnd, RoundReport};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DatabaseLabel {
    database: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TableLabels {
    database: Arc<str>,
    table: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    database: Arc<str>,
    outcome: &'static str,
}

/// The runners' counters, by database (cheap clones of shared atomics).
#[derive(Debug, Default)]
pub struct RetentionStats {
    workflows: Family<DatabaseLabel, Counter>,
    rows: Family<TableLabels, Counter>,
    batches: Family<DatabaseLabel, Counter>,
    rounds: Family<OutcomeLabels, Counter>,
    errors: Family<DatabaseLabel, Counter>,
    last_run: Family<DatabaseLabel, Gauge>,
    dry_run_would_delete: Family<DatabaseLabel, Gauge>,
}

impl RetentionStats {
    /// Adds the metrics to `registry` (prefixed `dbosd_` by it).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "retention_deleted_workflows",
            "Finished workflows deleted by the retention runner",
            self.workflows.clone(),
        );
        registry.register(
            "retention_deleted_rows",
            "Rows deleted with them, by owned table (operation_outputs, streams, notifications, ...)",
            self.rows.clone(),
        );
        registry.register(
            "retention_batches",
            "Retention transactions that deleted workflows",
            self.batches.clone(),
        );
        registry.register(
            "retention_rounds",
            "Retention rounds, by outcome (done, busy = another runner held the lock, no_cutoff, dry_run, failed)",
            self.rounds.clone(),
        );
        registry.register(
            "retention_errors",
            "Retention rounds that failed (the next round retries)",
            self.errors.clone(),
        );
        registry.register(
            "retention_last_run_timestamp_seconds",
            "When the last retention round ended, successfully or not (Unix seconds)",
            self.last_run.clone(),
        );
        registry.register(
            "retention_dry_run_would_delete",
            "Workflows the last dry-run round would have deleted",
            self.dry_run_would_delete.clone(),
        );
    }

    /// Counts a finished round of `database`'s runner (`dry_run`: it only counted what it would
    /// delete).
    pub fn record(&self, database: &Arc<str>, report: &RoundReport, dry_run: bool) {
        let db = DatabaseLabel {
            database: Arc::clone(database),
        };
        self.workflows.get_or_create(&db).inc_by(report.workflows);
        // So a runner with no failure shows 0, not no series.
        let _ = self.errors.get_or_create(&db);
        self.batches.get_or_create(&db).inc_by(report.batches);
        for (table, n) in &report.rows {
            let key = TableLabels {
                database: Arc::clone(database),
                table,
            };
            self.rows.get_or_create(&key).inc_by(*n);
        }
        let outcome = match report.end {
            RoundEnd::Done if dry_run => {
                let total: i64 = report.would_delete.iter().map(|d| d.workflows).sum();
                self.dry_run_would_delete.get_or_create(&db).set(total);
                "dry_run"
            }
            RoundEnd::Done => "done",
            RoundEnd::Busy => "busy",
            RoundEnd::NoCutoff => "no_cutoff",
        };
        self.round(&db, outcome);
    }

    /// Counts a failed round of `database`'s runner.
    pub fn record_failure(&self, database: &Arc<str>) {
        let db = DatabaseLabel {
            database: Arc::clone(database),
        };
        self.errors.get_or_create(&db).inc();
        self.round(&db, "failed");
    }

    fn round(&self, db: &DatabaseLabel, outcome: &'static str) {
        let key = OutcomeLabels {
            database: Arc::clone(&db.database),
            outcome,
        };
        self.rounds.get_or_create(&key).inc();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        self.last_run.get_or_create(db).set(now.as_secs() as i64);
    }
}
