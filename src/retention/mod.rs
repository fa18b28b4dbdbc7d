//! Retention: the opt-in runner that deletes finished workflows past a policy's age or row bound,
//! in bounded batches, one transaction each (the SQL and the lock are in `repo::retention`).
//!
//! It owns the policy (`--retention-*` flags, [`RetentionArgs`]: the fleet-wide default), a
//! database's own bounds over it (`[databases.NAME]` in the config file, [`per_database`]), one
//! round ([`run_round`]: compute the cutoff once, then batches until one comes back short, or
//! another runner holds the lock), the task that runs a round every interval on ONE database's
//! [`Repo`] ([`start`]; `fleet::tasks` starts one per served database), and the counters it leaves
//! for Prometheus ([`stats`], labelled by database). Several dbosd replicas may run it on one database: the
//! advisory lock lets one batch run at a time, and each batch deletes only rows it has locked and
//! found finished, so every workflow is deleted once and a running one never.

pub mod per_database;
pub mod stats;

use std::{sync::Arc, time::Duration};

use clap::Args;
use tokio::task::JoinHandle;

use crate::{
    error::Result,
    repo::{
        retention::{Batch, Bounds, Doomed},
        Repo,
    },
};
pub use per_database::RetentionOverride;
pub use stats::RetentionStats;

/// The `--retention-*` flags (`dbosd serve` and `dbosd retention`).
#[derive(Debug, Clone, Args)]
pub struct RetentionArgs {
    /// Delete finished workflows (SUCCESS, ERROR, CANCELLED, MAX_RECOVERY_ATTEMPTS_EXCEEDED)
    /// created longer ago than this (`90s`, `15m`, `12h`, `30d`, `500ms`; a bare number is
    /// seconds), with their steps, inputs, outputs, events, streams and messages. Retention is off
    /// unless this or --retention-max-rows is given.
    #[arg(long, env = "DBOSD_RETENTION_MAX_AGE", value_parser = parse_duration)]
    pub retention_max_age: Option<Duration>,
    /// Keep at most this many workflows (the newest by creation time, of any status); finished
    /// workflows beyond them are deleted. With --retention-max-age, the stricter bound wins.
    #[arg(long, env = "DBOSD_RETENTION_MAX_ROWS")]
    pub retention_max_rows: Option<i64>,
    /// How often the retention runner runs a round.
    #[arg(long, env = "DBOSD_RETENTION_INTERVAL", value_parser = parse_duration, default_value = "5m")]
    pub retention_interval: Duration,
    /// Most workflows one retention batch (one transaction) deletes.
    #[arg(long, env = "DBOSD_RETENTION_BATCH_SIZE", default_value_t = 1000)]
    pub retention_batch_size: i64,
    /// Run the policy without deleting: each round logs (and `dbosd retention run --dry-run`
    /// prints) what it would delete.
    #[arg(long, env = "DBOSD_RETENTION_DRY_RUN")]
    pub retention_dry_run: bool,
}

/// Most workflows one batch may delete: a transaction of that many workflows' rows stays short.
pub const MAX_BATCH: i64 = 50_000;

/// A retention policy, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionPolicy {
    pub max_age: Option<Duration>,
    pub max_rows: Option<i64>,
    pub interval: Duration,
    pub batch_size: i64,
    pub dry_run: bool,
}

impl RetentionArgs {
    /// The policy these flags ask for; `None` when retention is off (no bound given).
    pub fn policy(&self) -> Option<RetentionPolicy> {
        let policy = self.pace();
        policy.is_on().then_some(policy)
    }

    /// The flags as a policy, on or not: a database's own bounds run at this pace.
    pub fn pace(&self) -> RetentionPolicy {
        RetentionPolicy {
            max_age: self.retention_max_age,
            max_rows: self.retention_max_rows,
            interval: self.retention_interval,
            batch_size: self.retention_batch_size,
            dry_run: self.retention_dry_run,
        }
    }
}

impl Default for RetentionPolicy {
    /// No bound (off), at the flags' default pace.
    fn default() -> Self {
        RetentionPolicy {
            max_age: None,
            max_rows: None,
            interval: Duration::from_secs(300),
            batch_size: 1000,
            dry_run: false,
        }
    }
}

impl RetentionPolicy {
    /// Whether a bound is given (without one there is nothing to delete).
    pub fn is_on(&self) -> bool {
        self.max_age.is_some() || self.max_rows.is_some()
    }

    /// Rejects values that cannot work, in the flags' terms.
    pub fn check(&self) -> Result<(), String> {
        if self.max_age.is_some_and(|a| a.is_zero()) {
            return Err("--retention-max-age must be more than zero".to_owned());
        }
        if self.max_rows.is_some_and(|n| n < 1) {
            return Err("--retention-max-rows must be at least 1".to_owned());
        }
        if self.interval < Duration::from_millis(100) {
            return Err("--retention-interval must be at least 100ms".to_owned());
        }
        if !(1..=MAX_BATCH).contains(&self.batch_size) {
            return Err(format!(
                "--retention-batch-size must be between 1 and {MAX_BATCH}"
            ));
        }
        Ok(())
    }

    /// The policy in one line, for logs and `dbosd retention policy`.
    pub fn describe(&self) -> String {
        let age = match self.max_age {
            Some(a) => format!("older than {}", show_duration(a)),
            None => "any age".to_owned(),
        };
        let rows = match self.max_rows {
            Some(n) => format!("beyond the newest {n} workflows"),
            None => "no row bound".to_owned(),
        };
        format!(
            "delete finished workflows {age}, {rows}; every {}, {} per batch{}",
            show_duration(self.interval),
            self.batch_size,
            if self.dry_run { " (dry run)" } else { "" }
        )
    }

    fn bounds(&self) -> Bounds {
        Bounds {
            max_age_ms: self
                .max_age
                .map(|a| i64::try_from(a.as_millis()).unwrap_or(i64::MAX)),
            max_rows: self.max_rows,
        }
    }
}

/// How a round ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoundEnd {
    /// Every finished workflow below the cutoff is gone (or, in a dry run, was counted).
    Done,
    /// Another runner (a dbosd replica or a DBOS SDK) held the retention lock; it does the work.
    Busy,
    /// No bound applies yet (fewer workflows than --retention-max-rows).
    NoCutoff,
}

/// What one round did (or, in a dry run, would do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundReport {
    /// Finished workflows created before this (epoch ms) were the round's target.
    pub cutoff_ms: Option<i64>,
    pub end: RoundEnd,
    /// Transactions that deleted something.
    pub batches: u64,
    pub workflows: u64,
    /// Rows deleted per owned table (steps, inputs, events, ...), summed over the batches.
    pub rows: Vec<(&'static str, u64)>,
    /// A dry run's findings: what would be deleted, per status.
    pub would_delete: Vec<Doomed>,
}

/// Runs one round of `policy` on `repo` now: the cutoff once, then batches until one comes back
/// short or the lock is taken. A dry run counts what would go instead.
pub async fn run_round(
    repo: &Repo,
    policy: &RetentionPolicy,
    dry_run: bool,
) -> Result<RoundReport> {
    let mut report = RoundReport {
        cutoff_ms: None,
        end: RoundEnd::NoCutoff,
        batches: 0,
        workflows: 0,
        rows: Vec::new(),
        would_delete: Vec::new(),
    };
    let Some(cutoff) = repo.retention_cutoff(&policy.bounds()).await? else {
        return Ok(report);
    };
    report.cutoff_ms = Some(cutoff);
    if dry_run {
        report.would_delete = repo.retention_preview(cutoff).await?;
        report.end = RoundEnd::Done;
        return Ok(report);
    }
    loop {
        match repo.retention_batch(cutoff, policy.batch_size).await? {
            Batch::Busy => {
                report.end = RoundEnd::Busy;
                return Ok(report);
            }
            Batch::Deleted { workflows, rows } => {
                if workflows > 0 {
                    report.batches += 1;
                    report.workflows += workflows;
                    add_rows(&mut report.rows, &rows);
                }
                // A short batch: nothing below the cutoff is left (rows locked by a concurrent
                // call wait for the next round).
                if (workflows as i64) < policy.batch_size {
                    report.end = RoundEnd::Done;
                    return Ok(report);
                }
            }
        }
    }
}

fn add_rows(total: &mut Vec<(&'static str, u64)>, batch: &[(&'static str, u64)]) {
    for (table, n) in batch {
        match total.iter_mut().find(|(t, _)| t == table) {
            Some((_, sum)) => *sum += n,
            None => total.push((table, *n)),
        }
    }
}

/// Starts the runner for database `database`: a round now and then every `policy.interval`, until
/// the task is aborted (when the database closes). Failures are logged and counted under its
/// name, and the next round tries again.
pub fn start(
    repo: Repo,
    policy: RetentionPolicy,
    stats: Arc<RetentionStats>,
    database: &str,
) -> JoinHandle<()> {
    let database: Arc<str> = Arc::from(database);
    tokio::spawn(async move {
        tracing::info!(%database, policy = %policy.describe(), "retention runner started");
        let mut tick = tokio::time::interval(policy.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match run_round(&repo, &policy, policy.dry_run).await {
                Ok(report) => {
                    log_round(&database, &report, policy.dry_run);
                    stats.record(&database, &report, policy.dry_run);
                }
                Err(error) => {
                    tracing::warn!(%database, %error, "retention round failed; the next round retries");
                    stats.record_failure(&database);
                }
            }
        }
    })
}

fn log_round(database: &str, report: &RoundReport, dry_run: bool) {
    if dry_run {
        for d in &report.would_delete {
            tracing::info!(database, status = %d.status, workflows = d.workflows, cutoff_ms = ?report.cutoff_ms, "retention dry run: would delete");
        }
    } else if report.workflows > 0 {
        tracing::info!(database, workflows = report.workflows, batches = report.batches, cutoff_ms = ?report.cutoff_ms, rows = ?report.rows, "retention deleted finished workflows");
    } else if report.end == RoundEnd::Busy {
        tracing::debug!(
            database,
            "retention round skipped: another runner holds the lock"
        );
    }
}

/// Parses `90s`, `15m`, `12h`, `30d`, `500ms` (a bare number is seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let bad = || format!("{text:?} is not a duration such as 90s, 15m, 12h, 30d or 500ms");
    let n: u64 = number.parse().map_err(|_| bad())?;
    let ms = match unit {
        "ms" => Some(n),
        "" | "s" => n.checked_mul(1_000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        "d" => n.checked_mul(86_400_000),
        _ => None,
    };
    ms.map(Duration::from_millis).ok_or_else(bad)
}

/// A duration in the largest unit that divides it, as [`parse_duration`] reads it.
fn show_duration(d: Duration) -> String {
    let ms = d.as_millis();
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if ms >= size && ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetentionPolicy {
        RetentionPolicy {
            max_age: Some(Duration::from_secs(86_400)),
            max_rows: None,
            interval: Duration::from_secs(300),
            batch_size: 1000,
            dry_run: false,
        }
    }

    #[test]
    fn durations_read_and_print_in_the_flags_units() {
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("3 weeks").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
        assert_eq!(show_duration(Duration::from_secs(7_200)), "2h");
        assert_eq!(show_duration(Duration::from_millis(1_500)), "1500ms");
    }

    #[test]
    fn a_policy_is_checked_in_the_flags_terms() {
        assert_eq!(policy().check(), Ok(()));
        let zero_rows = RetentionPolicy {
            max_rows: Some(0),
            ..policy()
        };
        assert!(zero_rows
            .check()
            .unwrap_err()
            .contains("--retention-max-rows"));
        let huge = RetentionPolicy {
            batch_size: MAX_BATCH + 1,
            ..policy()
        };
        assert!(huge.check().unwrap_err().contains("--retention-batch-size"));
        assert_eq!(
            policy().describe(),
            "delete finished workflows older than 1d, no row bound; every 5m, 1000 per batch"
        );
        assert_eq!(policy().bounds().max_age_ms, Some(86_400_000));
    }

    #[test]
    fn batch_row_counts_add_up_per_table() {
        let mut total = Vec::new();
        add_rows(&mut total, &[("streams", 2), ("notifications", 1)]);
        add_rows(&mut total, &[("streams", 3)]);
        assert_eq!(total, vec![("streams", 5), ("notifications", 1)]);
    }
}
