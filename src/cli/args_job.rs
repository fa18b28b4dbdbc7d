//! `dbosd job ...` command lines: bulk jobs (StartBulkJob and the calls that follow one).

use clap::{Args, Subcommand, ValueEnum};

use super::{args_wf::FilterArgs, ClientArgs};

/// `dbosd job ...`.
#[derive(Debug, Args)]
pub struct JobArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(subcommand)]
    pub command: JobCommand,
}

/// The bulk-job commands.
// Parsed once per process: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// Start a bulk job: cancel, resume, fork or delete every workflow matching the filters.
    Start(JobStartArgs),
    /// List bulk jobs, newest first.
    List(JobListArgs),
    /// Show a bulk job and its progress.
    #[command(visible_alias = "get")]
    Describe(JobIdArgs),
    /// Print a bulk job's progress as it runs; exit 0 only when it completes.
    Watch(JobIdArgs),
    /// Abort a running bulk job (the batch in progress finishes, no later batch starts).
    Abort(JobIdArgs),
}

/// What a job does to each workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum JobOperation {
    Cancel,
    Resume,
    Fork,
    Delete,
}

/// `job start`.
#[derive(Debug, Args)]
pub struct JobStartArgs {
    /// The operation: cancel, resume, fork or delete.
    #[arg(value_enum)]
    pub operation: JobOperation,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// The job's id (default: generated).
    #[arg(long = "job-id")]
    pub job_id: Option<String>,
    /// At most this many workflows per second (0: no limit).
    #[arg(long, value_name = "ROWS_PER_SECOND", default_value_t = 0)]
    pub rate: u32,
    /// Workflows per batch (one transaction each).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub batch_size: u32,
    /// Cancel or delete: the descendants of each workflow too.
    #[arg(long)]
    pub children: bool,
    /// Resume or fork: the queue to enqueue on (default: the internal queue, which starts at once).
    #[arg(long = "to-queue", value_name = "QUEUE")]
    pub to_queue: Option<String>,
    /// Fork: the step to restart from (default: the first).
    #[arg(long)]
    pub start_step: Option<i32>,
    /// Fork: steps are numbered from 0 (TypeScript and Go workers) instead of 1 (Python).
    #[arg(long)]
    pub steps_from_zero: bool,
    /// Only count the matching workflows; start nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Then print its progress until it ends (as `job watch`).
    #[arg(long)]
    pub watch: bool,
}

/// `job list`.
#[derive(Debug, Args)]
pub struct JobListArgs {
    /// Only jobs in these states (RUNNING, COMPLETED, ABORTED, FAILED); repeatable.
    #[arg(long = "state")]
    pub states: Vec<String>,
    /// At most this many jobs.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(i32).range(1..=1000))]
    pub limit: i32,
}

/// A command naming one job.
#[derive(Debug, Args)]
pub struct JobIdArgs {
    /// The job id.
    pub job_id: String,
}
