//! The retention runner's Prometheus metrics: what it deleted, how many batches and rounds (by how
//! they ended), failures, and when the last round finished. Registered in dbosd's registry by the
//! server (`telemetry::Metrics::new_with`), updated by the runner after each round.

use std::time::{SystemTime, UNIX_EPOCH};

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
};

use super::{RoundEnd, RoundReport};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TableLabels {
    table: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// The runner's counters (cheap clones of shared atomics).
#[derive(Debug, Default)]
pub struct RetentionStats {
    workflows: Counter,
    rows: Family<TableLabels, Counter>,
    batches: Counter,
    rounds: Family<OutcomeLabels, Counter>,
    errors: Counter,
    last_run: Gauge,
    dry_run_would_delete: Gauge,
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

    /// Counts a finished round (`dry_run`: it only counted what it would delete).
    pub fn record(&self, report: &RoundReport, dry_run: bool) {
        self.workflows.inc_by(report.workflows);
        self.batches.inc_by(report.batches);
        for (table, n) in &report.rows {
            self.rows.get_or_create(&TableLabels { table }).inc_by(*n);
        }
        let outcome = match report.end {
            RoundEnd::Done if dry_run => {
                let total: i64 = report.would_delete.iter().map(|d| d.workflows).sum();
                self.dry_run_would_delete.set(total);
                "dry_run"
            }
            RoundEnd::Done => "done",
            RoundEnd::Busy => "busy",
            RoundEnd::NoCutoff => "no_cutoff",
        };
        self.rounds.get_or_create(&OutcomeLabels { outcome }).inc();
        self.touch();
    }

    /// Counts a failed round.
    pub fn record_failure(&self) {
        self.errors.inc();
        self.rounds
            .get_or_create(&OutcomeLabels { outcome: "failed" })
            .inc();
        self.touch();
    }

    fn touch(&self) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        self.last_run.set(now.as_secs() as i64);
    }
}
