//! Command lines of `dbosd send`, `event`, `stream`, `queue`, `schedule`, `version`, `config` and
//! `completion`.

use clap::{Args, Subcommand};

use super::ClientArgs;

/// `dbosd send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// The destination workflow id.
    pub destination_id: String,
    /// The message, a JSON value (text that is not JSON is taken as a string).
    pub message: String,
    /// The topic (default: the default topic).
    #[arg(long)]
    pub topic: Option<String>,
    /// Deliver at most once per key and destination.
    #[arg(long)]
    pub idempotency_key: Option<String>,
}

/// `dbosd event ...`.
#[derive(Debug, Args)]
pub struct EventArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(subcommand)]
    pub command: EventCommand,
}

/// The event commands.
#[derive(Debug, Subcommand)]
pub enum EventCommand {
    /// Print an event's value, waiting up to --timeout for it to be set; exit 3 when it is not.
    Get(EventGetArgs),
    /// Print an event's value each time it changes (until interrupted, --max values or --timeout).
    Watch(EventWatchArgs),
    /// Print every event a workflow has set.
    List(WorkflowIdArg),
}

/// A workflow id.
#[derive(Debug, Args)]
pub struct WorkflowIdArg {
    /// The workflow id.
    pub workflow_id: String,
}

/// `event get`.
#[derive(Debug, Args)]
pub struct EventGetArgs {
    /// The workflow that sets the event.
    pub workflow_id: String,
    /// The event key.
    pub key: String,
    /// Seconds to wait for the key to be set (0 reads once).
    #[arg(long, default_value_t = 0)]
    pub timeout: u64,
}

/// `event watch`.
#[derive(Debug, Args)]
pub struct EventWatchArgs {
    /// The workflow that sets the event.
    pub workflow_id: String,
    /// The event key.
    pub key: String,
    /// Stop after this many seconds (exit 0 after at least one value, else 3).
    #[arg(long)]
    pub timeout: Option<u64>,
    /// Exit after this many values.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max: Option<u64>,
}

/// `dbosd stream ...`.
#[derive(Debug, Args)]
pub struct StreamArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(subcommand)]
    pub command: StreamCommand,
}

/// The stream commands.
#[derive(Debug, Subcommand)]
pub enum StreamCommand {
    /// Print a stream's values from --offset as they are written, until the stream closes.
    Read(StreamReadArgs),
    /// List the streams a workflow wrote: key, number of values, last offset, closed or open.
    Keys(WorkflowIdArg),
}

/// `stream read`.
#[derive(Debug, Args)]
pub struct StreamReadArgs {
    /// The workflow writing the stream.
    pub workflow_id: String,
    /// The stream key.
    pub key: String,
    /// The first offset to read.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(i32).range(0..))]
    pub offset: i32,
    /// Give up waiting for more after this many seconds (exit 3).
    #[arg(long)]
    pub timeout: Option<u64>,
}

/// `dbosd queue ...`.
#[derive(Debug, Args)]
pub struct QueueArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(subcommand)]
    pub command: QueueCommand,
}

/// The queue commands.
#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// List the registered queues.
    List(ApplicationFilter),
    /// Show one queue's limits.
    Describe(NameArg),
    /// Change a queue's limits (each flag given is written; `none` clears a limit).
    Update(QueueUpdateArgs),
}

/// Only some applications.
#[derive(Debug, Args)]
pub struct ApplicationFilter {
    /// Only these applications; repeatable.
    #[arg(long = "application")]
    pub applications: Vec<String>,
}

/// A name.
#[derive(Debug, Args)]
pub struct NameArg {
    /// The name.
    pub name: String,
}

/// `queue update`.
#[derive(Debug, Args)]
pub struct QueueUpdateArgs {
    /// The queue name.
    pub name: String,
    /// Most workflows running at once across all workers (a number, or `none`).
    #[arg(long, value_name = "N|none")]
    pub concurrency: Option<String>,
    /// Most workflows running at once per worker process (a number, or `none`).
    #[arg(long, value_name = "N|none")]
    pub worker_concurrency: Option<String>,
    /// Per partition across all workers (a number, or `none`).
    #[arg(long, value_name = "N|none")]
    pub partition_concurrency: Option<String>,
    /// Per partition and worker process (a number, or `none`).
    #[arg(long, value_name = "N|none")]
    pub partition_worker_concurrency: Option<String>,
    /// Rate limit: at most N starts per SECS seconds (`N/SECS`), or `none`.
    #[arg(long, value_name = "N/SECS|none")]
    pub rate_limit: Option<String>,
    /// Seconds between worker polls of the queue (or `none` for the DBOS default).
    #[arg(long, value_name = "SECS|none")]
    pub polling_interval: Option<String>,
}

/// `dbosd schedule ...`.
#[derive(Debug, Args)]
pub struct ScheduleArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(subcommand)]
    pub command: ScheduleCommand,
}

/// The schedule commands.
#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// List schedules.
    List(ScheduleListArgs),
    /// Show one schedule.
    Describe(NameArg),
    /// Create a schedule.
    Create(ScheduleCreateArgs),
    /// Pause a schedule (it stops firing).
    Pause(NameArg),
    /// Resume a paused schedule.
    Resume(NameArg),
    /// Start the schedule's workflow now, once.
    Trigger(NameArg),
    /// Start the workflows the schedule would have started in a past time window.
    Backfill(ScheduleBackfillArgs),
    /// Delete a schedule.
    Delete(NameArg),
}

/// `schedule list`.
#[derive(Debug, Args)]
pub struct ScheduleListArgs {
    /// Only ACTIVE or PAUSED schedules; repeatable.
    #[arg(long = "status")]
    pub statuses: Vec<String>,
    /// Only schedules of these workflows; repeatable.
    #[arg(long = "workflow")]
    pub workflows: Vec<String>,
    /// Only names starting with this prefix; repeatable.
    #[arg(long = "prefix")]
    pub prefixes: Vec<String>,
    /// Only these applications; repeatable.
    #[arg(long = "application")]
    pub applications: Vec<String>,
}

/// `schedule create`.
#[derive(Debug, Args)]
pub struct ScheduleCreateArgs {
    /// The schedule name.
    pub name: String,
    /// The workflow to start.
    #[arg(long)]
    pub workflow: String,
    /// Cron expression (5 fields, or 6 with seconds first).
    #[arg(long)]
    pub cron: String,
    /// IANA time zone of the cron expression (default UTC).
    #[arg(long)]
    pub timezone: Option<String>,
    /// The queue the workflows are enqueued on.
    #[arg(long)]
    pub queue: Option<String>,
    /// The workflow's class (Python/TypeScript class-based workflows).
    #[arg(long)]
    pub class_name: Option<String>,
    /// Start missed runs after downtime.
    #[arg(long)]
    pub automatic_backfill: bool,
    /// Context passed to every run, a JSON value.
    #[arg(long, value_name = "JSON")]
    pub context: Option<String>,
    /// The language of the workers that fire it (the context is stored in its native format).
    #[arg(long, value_enum, default_value = "python")]
    pub language: Language,
    /// The owning application.
    #[arg(long)]
    pub application: Option<String>,
}

/// A worker language.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Language {
    Python,
    Typescript,
}

/// `schedule backfill`.
#[derive(Debug, Args)]
pub struct ScheduleBackfillArgs {
    /// The schedule name.
    pub name: String,
    /// Window start (RFC 3339, or a duration ago such as 2h).
    #[arg(long, value_name = "TIME")]
    pub start: String,
    /// Window end (RFC 3339, or a duration ago; default now).
    #[arg(long, value_name = "TIME")]
    pub end: Option<String>,
}

/// `dbosd version ...`.
#[derive(Debug, Args)]
pub struct VersionArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(subcommand)]
    pub command: VersionCommand,
}

/// The version commands.
#[derive(Debug, Subcommand)]
pub enum VersionCommand {
    /// List application versions, newest first.
    List(ApplicationFilter),
    /// Make a version the latest (new workflows of the application run on it).
    SetLatest(SetLatestArgs),
}

/// `version set-latest`.
#[derive(Debug, Args)]
pub struct SetLatestArgs {
    /// The version name.
    pub version: String,
    /// The application (default: dbosd's).
    #[arg(long)]
    pub application: Option<String>,
}

/// `dbosd config ...`: the profile file.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// The profile to read or change.
    #[arg(long, env = "DBOSD_PROFILE", default_value = "default", global = true)]
    pub profile: String,
    #[command(subcommand)]
    pub command: ConfigCommand,
}

/// The config commands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Set a key of the profile (address, token, database, tls_ca, tls_client_cert, tls_client_key,
    /// tls_server_name).
    Set(ConfigSetArgs),
    /// Print a key of the profile.
    Get(ConfigKeyArg),
    /// Print the profile's keys (or, with --all, every profile); tokens are masked.
    List(ConfigListArgs),
    /// Delete a key of the profile, or the whole profile when no key is given.
    Delete(ConfigDeleteArgs),
}

/// `config set`.
#[derive(Debug, Args)]
pub struct ConfigSetArgs {
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
}

/// `config get`.
#[derive(Debug, Args)]
pub struct ConfigKeyArg {
    /// The key.
    pub key: String,
}

/// `config list`.
#[derive(Debug, Args)]
pub struct ConfigListArgs {
    /// Every profile, not just --profile.
    #[arg(long)]
    pub all: bool,
}

/// `config delete`.
#[derive(Debug, Args)]
pub struct ConfigDeleteArgs {
    /// The key (none: the whole profile).
    pub key: Option<String>,
}

/// `dbosd completion`.
#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}
