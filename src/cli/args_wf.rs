//! `dbosd workflow ...` and `dbosd enqueue` command lines, and the workflow filter flags (one per
//! field of the API's WorkflowFilter).

use clap::{Args, Subcommand};

use super::ClientArgs;

/// `dbosd workflow ...`.
#[derive(Debug, Args)]
pub struct WorkflowArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(subcommand)]
    pub command: WorkflowCommand,
}

/// The workflow commands.
#[derive(Debug, Subcommand)]
pub enum WorkflowCommand {
    /// List workflows (newest first), with filters; --all pages through every match.
    List(ListArgs),
    /// Show one workflow: status, input, output, error, and its steps as a timeline.
    #[command(visible_alias = "get")]
    Describe(DescribeArgs),
    /// Show a workflow's steps as a timeline with durations.
    Show(StepsArgs),
    /// List a workflow's steps.
    Steps(StepsArgs),
    /// List the messages sent to a workflow, oldest first, received by its recv or pending.
    Messages(MessagesArgs),
    /// Wait for a workflow's result, showing its status changes on stderr; exit 0 only on SUCCESS.
    #[command(visible_alias = "await")]
    Result(ResultArgs),
    /// Cancel a workflow (and, with --children, its descendants).
    Cancel(CancelArgs),
    /// Resume a workflow from its last recorded step.
    Resume(ResumeArgs),
    /// Start a new workflow re-running a workflow from a step.
    Fork(ForkArgs),
    /// Delete a workflow and its steps, events and streams (and, with --children, its descendants).
    Delete(DeleteArgs),
    /// Count workflows matching the filters, per status.
    Count(CountArgs),
    /// Print workflows as they change (runs until interrupted, or --max updates).
    Watch(WatchArgs),
    /// Write a workflow (steps, events, streams, messages) as a portable file to stdout.
    Export(super::export::ExportArgs),
    /// Import a file `workflow export` wrote, into the database this dbosd serves.
    Import(super::export::ImportArgs),
}

/// A time bound: RFC 3339 (`2026-01-02T03:04:05Z`) or a duration ago (`90s`, `15m`, `2h`, `3d`).
pub type TimeArg = String;

/// The filter flags: each is a field of the API's WorkflowFilter.
#[derive(Debug, Args, Default)]
pub struct FilterArgs {
    /// Only these workflow ids; repeatable.
    #[arg(long = "id")]
    pub ids: Vec<String>,
    /// Only ids starting with this prefix; repeatable.
    #[arg(long = "prefix")]
    pub prefixes: Vec<String>,
    /// Only these statuses (ENQUEUED, PENDING, SUCCESS, ERROR, CANCELLED, DELAYED,
    /// MAX_RECOVERY_ATTEMPTS_EXCEEDED); repeatable.
    #[arg(long = "status")]
    pub statuses: Vec<String>,
    /// Only these workflow names; repeatable.
    #[arg(long = "name")]
    pub names: Vec<String>,
    /// Only these queues; repeatable.
    #[arg(long = "queue")]
    pub queues: Vec<String>,
    /// Only these application versions; repeatable.
    #[arg(long = "app-version")]
    pub app_versions: Vec<String>,
    /// Only these applications; repeatable.
    #[arg(long = "application")]
    pub applications: Vec<String>,
    /// Only these executors; repeatable.
    #[arg(long = "executor")]
    pub executors: Vec<String>,
    /// Only workflows started by these authenticated users; repeatable.
    #[arg(long = "user")]
    pub users: Vec<String>,
    /// Only children of these workflows; repeatable.
    #[arg(long = "parent")]
    pub parents: Vec<String>,
    /// Only forks of these workflows; repeatable.
    #[arg(long = "forked-from")]
    pub forked_from: Vec<String>,
    /// Only workflows started by these schedules; repeatable.
    #[arg(long = "schedule")]
    pub schedules: Vec<String>,
    /// Only these deduplication ids; repeatable.
    #[arg(long = "dedup-id")]
    pub dedup_ids: Vec<String>,
    /// Only workflows whose attribute KEY equals the JSON value; repeatable (all must match).
    #[arg(long = "attr", value_name = "KEY=JSON")]
    pub attributes: Vec<String>,
    /// Created at or after (RFC 3339, or a duration ago such as 15m, 2h, 3d).
    #[arg(long, value_name = "TIME")]
    pub created_after: Option<TimeArg>,
    /// Created before (RFC 3339, or a duration ago).
    #[arg(long, value_name = "TIME")]
    pub created_before: Option<TimeArg>,
    /// Completed at or after (RFC 3339, or a duration ago).
    #[arg(long, value_name = "TIME")]
    pub completed_after: Option<TimeArg>,
    /// Completed before (RFC 3339, or a duration ago).
    #[arg(long, value_name = "TIME")]
    pub completed_before: Option<TimeArg>,
    /// Dequeued at or after (RFC 3339, or a duration ago).
    #[arg(long, value_name = "TIME")]
    pub dequeued_after: Option<TimeArg>,
    /// Dequeued before (RFC 3339, or a duration ago).
    #[arg(long, value_name = "TIME")]
    pub dequeued_before: Option<TimeArg>,
    /// Only workflows that were (true) or were not (false) forked from.
    #[arg(long, value_name = "BOOL")]
    pub was_forked_from: Option<bool>,
    /// Only forks (true) or only non-forks (false).
    #[arg(long, value_name = "BOOL")]
    pub is_fork: Option<bool>,
    /// Only children (true) or only top-level workflows (false).
    #[arg(long, value_name = "BOOL")]
    pub has_parent: Option<bool>,
    /// Only debounced (true) or only not debounced (false) workflows.
    #[arg(long, value_name = "BOOL")]
    pub is_debounced: Option<bool>,
}

/// `workflow list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// At most this many workflows per page (and in all, without --all).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(i32).range(1..=1000))]
    pub limit: i32,
    /// Every match, fetched page by page (--limit per page) and printed as each page arrives.
    #[arg(long)]
    pub all: bool,
    /// Oldest first instead of newest first.
    #[arg(long)]
    pub oldest_first: bool,
    /// Include each workflow's input, output and error.
    #[arg(long)]
    pub payloads: bool,
}

/// `workflow describe`.
#[derive(Debug, Args)]
pub struct DescribeArgs {
    /// The workflow id.
    pub workflow_id: String,
    /// Leave the input out (for a workflow whose payloads are too big for one response).
    #[arg(long)]
    pub no_input: bool,
    /// Leave the output and error out.
    #[arg(long)]
    pub no_output: bool,
    /// Leave the steps out.
    #[arg(long)]
    pub no_steps: bool,
}

/// `workflow show` and `workflow steps`.
#[derive(Debug, Args)]
pub struct StepsArgs {
    /// The workflow id.
    pub workflow_id: String,
    /// Include each step's output and error.
    #[arg(long)]
    pub payloads: bool,
}

/// `workflow messages`.
#[derive(Debug, Args)]
pub struct MessagesArgs {
    /// The workflow the messages were sent to.
    pub workflow_id: String,
    /// Only messages sent with this topic (`--topic ''`: those sent without one).
    #[arg(long)]
    pub topic: Option<String>,
    /// Only messages already received (true) or still pending (false).
    #[arg(long, value_name = "BOOL")]
    pub consumed: Option<bool>,
}

/// `workflow result`.
#[derive(Debug, Args)]
pub struct ResultArgs {
    /// The workflow id.
    pub workflow_id: String,
    /// Give up after this many seconds (exit code 3).
    #[arg(long)]
    pub timeout: Option<u64>,
    /// Leave the output and error out of the outcome (for an output too big for one response).
    #[arg(long)]
    pub no_output: bool,
}

/// `workflow cancel`.
#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The workflow id.
    pub workflow_id: String,
    /// Also cancel its descendants.
    #[arg(long)]
    pub children: bool,
}

/// `workflow delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The workflow id.
    pub workflow_id: String,
    /// Also delete its descendants.
    #[arg(long)]
    pub children: bool,
}

/// `workflow resume`.
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The workflow id.
    pub workflow_id: String,
    /// Re-enqueue on this queue instead of `_dbos_internal_queue`.
    #[arg(long)]
    pub queue: Option<String>,
}

/// `workflow fork`.
#[derive(Debug, Args)]
pub struct ForkArgs {
    /// The workflow to fork.
    pub workflow_id: String,
    /// The first step to run again (default: the first step).
    #[arg(long)]
    pub start_step: Option<i32>,
    /// The worker numbers steps from 0 (TypeScript, Go) instead of 1 (Python).
    #[arg(long)]
    pub steps_from_zero: bool,
    /// The new workflow's id (default: a random UUID).
    #[arg(long)]
    pub new_id: Option<String>,
    /// Enqueue the fork on this queue instead of `_dbos_internal_queue`.
    #[arg(long)]
    pub queue: Option<String>,
    /// Run the fork under this application version.
    #[arg(long)]
    pub app_version: Option<String>,
}

/// `workflow count`.
#[derive(Debug, Args)]
pub struct CountArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
}

/// `workflow watch` (the filters WatchWorkflows takes).
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Only these workflow ids; repeatable.
    #[arg(long = "id")]
    pub ids: Vec<String>,
    /// Only ids starting with this prefix; repeatable.
    #[arg(long = "prefix")]
    pub prefixes: Vec<String>,
    /// Only these statuses; repeatable.
    #[arg(long = "status")]
    pub statuses: Vec<String>,
    /// Only these workflow names; repeatable.
    #[arg(long = "name")]
    pub names: Vec<String>,
    /// Only these queues; repeatable.
    #[arg(long = "queue")]
    pub queues: Vec<String>,
    /// Only these applications; repeatable.
    #[arg(long = "application")]
    pub applications: Vec<String>,
    /// Only workflows whose attribute KEY equals the JSON value; repeatable.
    #[arg(long = "attr", value_name = "KEY=JSON")]
    pub attributes: Vec<String>,
    /// Exit after this many updates.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max: Option<u64>,
}

/// `dbosd enqueue`.
#[derive(Debug, Args)]
pub struct EnqueueArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// The registered workflow name.
    pub workflow_name: String,
    /// Positional arguments, each a JSON value (text that is not JSON is taken as a string).
    pub args: Vec<String>,
    /// The queue (a queue some worker polls).
    #[arg(long, default_value = "_dbos_internal_queue")]
    pub queue: String,
    /// A named argument `key=JSON` (Python workers only); repeatable.
    #[arg(long = "named", value_name = "KEY=JSON")]
    pub named: Vec<String>,
    /// The workflow id (default: a random UUID).
    #[arg(long)]
    pub id: Option<String>,
    /// Then wait for the workflow to finish, as `workflow result` does.
    #[arg(long = "await")]
    pub wait: bool,
    /// With --await: give up after this many seconds (exit code 3).
    #[arg(long)]
    pub timeout: Option<u64>,
}
