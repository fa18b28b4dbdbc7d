//! `dbosd retention`: the retention policy from the command line, straight on the database (the
//! one client command that needs no running dbosd: it is the runner's round, run once). `policy` shows
//! what the `--retention-*` flags (or their `DBOSD_RETENTION_*` variables) configure; `run` runs
//! one round of it against a database now (`--dry-run`: only say what it would delete), taking the
//! same lock as the servers' runners.

use clap::{Args, Subcommand};

use crate::repo::Repo;
use crate::retention::{run_round, RetentionArgs, RetentionPolicy, RoundEnd, RoundReport};

/// `dbosd retention ...`.
#[derive(Debug, Clone, Args)]
pub struct RetentionCommandArgs {
    #[command(subcommand)]
    pub command: RetentionCommand,
}

/// What to do.
#[derive(Debug, Clone, Subcommand)]
pub enum RetentionCommand {
    /// Show the retention policy the flags and environment configure.
    Policy(PolicyArgs),
    /// Run one retention round against the database now, then exit.
    Run(RunArgs),
}

/// `dbosd retention policy`.
#[derive(Debug, Clone, Args)]
pub struct PolicyArgs {
    #[command(flatten)]
    pub retention: RetentionArgs,
}

/// `dbosd retention run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub database: crate::config::DatabaseArgs,
    #[command(flatten)]
    pub retention: RetentionArgs,
    /// Delete nothing: print what the round would delete.
    #[arg(long)]
    pub dry_run: bool,
}

/// The checked policy of `args`, or why there is none.
pub fn policy_of(args: &RetentionArgs) -> Result<RetentionPolicy, String> {
    let policy = args.policy().ok_or_else(|| {
        "retention is off: give --retention-max-age or --retention-max-rows (or DBOSD_RETENTION_MAX_AGE / DBOSD_RETENTION_MAX_ROWS)".to_owned()
    })?;
    policy.check()?;
    Ok(policy)
}

/// Runs one round of `policy` on `repo` and says what it did, one fact a line.
pub async fn run_once(
    repo: &Repo,
    policy: &RetentionPolicy,
    dry_run: bool,
) -> Result<String, String> {
    let report = run_round(repo, policy, dry_run)
        .await
        .map_err(|e| format!("retention round failed: {e}"))?;
    Ok(render(&report, dry_run))
}

fn render(report: &RoundReport, dry_run: bool) -> String {
    let mut out = String::new();
    let Some(cutoff) = report.cutoff_ms else {
        out.push_str(
            "nothing to do: no bound applies (fewer workflows than --retention-max-rows)\n",
        );
        return out;
    };
    out.push_str(&format!("cutoff_created_at_ms: {cutoff}\n"));
    if dry_run {
        let total: i64 = report.would_delete.iter().map(|d| d.workflows).sum();
        out.push_str(&format!("would_delete_workflows: {total}\n"));
        for d in &report.would_delete {
            out.push_str(&format!(
                "  {}: {} (created_at {} .. {})\n",
                d.status, d.workflows, d.oldest_created_at, d.newest_created_at
            ));
        }
        return out;
    }
    if report.end == RoundEnd::Busy {
        out.push_str("another runner holds the retention lock; it will do the rest\n");
    }
    out.push_str(&format!("deleted_workflows: {}\n", report.workflows));
    out.push_str(&format!("batches: {}\n", report.batches));
    for (table, n) in &report.rows {
        out.push_str(&format!("  {table}: {n}\n"));
    }
    out
}
