//! `dbosd retention`: the retention policy from the command line, straight on the database (the
//! one client command that needs no running dbosd: it is the runner's round, run once). `policy` shows
//! what the `--retention-*` flags (or their `DBOSD_RETENTION_*` variables) configure; `run` runs
//! one round of it against a database now (`--dry-run`: only say what it would delete), taking the
//! same lock as the servers' runners. With `--database NAME` (and the servers' `--config` file)
//! both are about that database: its URL and schema, and its own retention over the flags'
//! (`retention::per_database`), as the server's runner for it has them. (The binary opens the
//! database: the command line sits above the fleet, which reads its `Settings`.)

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::config::Settings;
use crate::fleet_config::{DatabaseSpec, FleetConfig, DEFAULT_NAME};
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

/// Which database of a fleet: a name of the servers' config file.
#[derive(Debug, Clone, Args)]
pub struct FleetDatabase {
    /// The servers' TOML config file of databases (see `serve --config`).
    #[arg(long, env = "DBOSD_SERVER_CONFIG")]
    pub config: Option<PathBuf>,
    /// The database of --config to use, with its own retention keys over the flags; `default`
    /// (or none) is --database-url's, under the flags alone.
    #[arg(long = "database", value_name = "NAME")]
    pub database: Option<String>,
}

/// `dbosd retention policy`.
#[derive(Debug, Clone, Args)]
pub struct PolicyArgs {
    #[command(flatten)]
    pub retention: RetentionArgs,
    #[command(flatten)]
    pub fleet: FleetDatabase,
}

/// `dbosd retention run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub database: crate::config::DatabaseArgs,
    #[command(flatten)]
    pub retention: RetentionArgs,
    #[command(flatten)]
    pub fleet: FleetDatabase,
    /// Delete nothing: print what the round would delete.
    #[arg(long)]
    pub dry_run: bool,
}

/// The policy `dbosd retention policy` prints, in one line.
pub fn policy(args: &PolicyArgs) -> Result<String, String> {
    Ok(selected(&args.fleet, &args.retention)?.1.describe())
}

/// What `dbosd retention run` runs: the database's settings (to open it with; it is not migrated)
/// and its policy. The binary opens it (`fleet::open::prepare`) and calls [`run_once`].
pub fn run_target(args: &RunArgs) -> Result<(Settings, RetentionPolicy), String> {
    let (spec, policy) = selected(&args.fleet, &args.retention)?;
    let given = |url: &Option<String>| url.clone().filter(|u| !u.is_empty());
    let (url, direct, schema) = match spec {
        Some(spec) => (Some(spec.url), spec.direct_url, spec.schema),
        None => (
            given(&args.database.database_url),
            given(&args.database.direct_database_url),
            None,
        ),
    };
    let mut settings = Settings::new(url.ok_or(NO_URL)?);
    settings.schema = schema.unwrap_or_else(|| args.database.schema.clone());
    settings.direct_database_url = direct;
    Ok((settings, policy))
}

const NO_URL: &str =
    "no database URL: pass --database-url (or set DBOS_SYSTEM_DATABASE_URL), or --database NAME with --config";

/// The database `fleet` names (`None`: --database-url's) and its checked policy.
fn selected(
    fleet: &FleetDatabase,
    flags: &RetentionArgs,
) -> Result<(Option<DatabaseSpec>, RetentionPolicy), String> {
    let Some(name) = fleet.database.as_deref().filter(|n| *n != DEFAULT_NAME) else {
        return Ok((None, policy_of(flags)?));
    };
    let Some(path) = &fleet.config else {
        return Err(format!(
            "--database {name:?} names a database of the config file: give --config FILE"
        ));
    };
    let spec = FleetConfig::load(path)?
        .databases
        .into_iter()
        .find(|d| d.name == name)
        .ok_or_else(|| {
            format!(
                "--database {name:?}: no such database in {}",
                path.display()
            )
        })?;
    flags.pace().check()?;
    let policy = spec
        .retention
        .apply(flags.policy().as_ref(), &flags.pace())
        .ok_or_else(|| match spec.retention.off {
            true => format!("retention is off for database {name:?} (retention = false in its table)"),
            false => format!("retention is off for database {name:?}: give --retention-max-age or --retention-max-rows, or retention_max_age / retention_max_rows in its table"),
        })?;
    policy.check()?;
    Ok((Some(spec), policy))
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
