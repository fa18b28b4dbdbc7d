//! The CLI's command line: every command takes `--address` (env `DBOSD_ADDRESS`) and `--output`.

use clap::{Args, Subcommand, ValueEnum};

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns for people.
    Table,
    /// One JSON document (field names as in the proto's JSON form) for scripts.
    Json,
}

/// Where dbosd is and how to print.
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// dbosd's gRPC address, `host:port` or `http://host:port`.
    #[arg(
        long,
        env = "DBOSD_ADDRESS",
        default_value = "localhost:50051",
        global = true
    )]
    pub address: String,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value = "table", global = true)]
    pub output: OutputFormat,
    /// Seconds to wait for the connection to dbosd.
    #[arg(long, default_value_t = 10, global = true)]
    pub connect_timeout: u64,
    /// Bearer token, for a dbosd started with --tokens-file.
    #[arg(long, env = "DBOSD_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// PEM CA certificate to trust for an `https://` address (dbosd with --tls-cert).
    #[arg(long, env = "DBOSD_TLS_CA", global = true)]
    pub tls_ca: Option<std::path::PathBuf>,
}

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
    /// List workflows (newest first), with filters.
    List(ListArgs),
    /// Show one workflow with its input, output and error.
    Get(GetArgs),
    /// Cancel a workflow (and, with --children, its descendants).
    Cancel(CancelArgs),
    /// Resume a workflow from its last recorded step.
    Resume(ResumeArgs),
    /// Start a new workflow re-running a workflow from a step.
    Fork(ForkArgs),
    /// Wait for a workflow to finish, showing its status changes; exits 0 only on SUCCESS.
    Await(AwaitArgs),
}

/// A workflow id.
#[derive(Debug, Args)]
pub struct IdArg {
    /// The workflow id.
    pub workflow_id: String,
}

/// `workflow get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// The workflow id.
    pub workflow_id: String,
    /// Leave the input out (for a workflow whose payloads are too big for one response).
    #[arg(long)]
    pub no_input: bool,
    /// Leave the output and error out.
    #[arg(long)]
    pub no_output: bool,
}

/// `workflow list` filters.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only these statuses (ENQUEUED, PENDING, SUCCESS, ERROR, CANCELLED, DELAYED, ...); repeatable.
    #[arg(long = "status")]
    pub statuses: Vec<String>,
    /// Only these workflow names; repeatable.
    #[arg(long = "name")]
    pub names: Vec<String>,
    /// Only these queues; repeatable.
    #[arg(long = "queue")]
    pub queues: Vec<String>,
    /// Only ids starting with this prefix; repeatable.
    #[arg(long = "prefix")]
    pub prefixes: Vec<String>,
    /// At most this many workflows (1 to 1000).
    #[arg(long, default_value_t = 20)]
    pub limit: i32,
    /// Oldest first instead of newest first.
    #[arg(long)]
    pub oldest_first: bool,
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
}

/// `workflow await`.
#[derive(Debug, Args)]
pub struct AwaitArgs {
    /// The workflow id.
    pub workflow_id: String,
    /// Give up after this many seconds (exit code 2).
    #[arg(long)]
    pub timeout: Option<u64>,
    /// Leave the output and error out of the outcome (for an output too big for one response).
    #[arg(long)]
    pub no_output: bool,
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
    /// Then wait for the workflow to finish, as `workflow await` does.
    #[arg(long = "await")]
    pub wait: bool,
    /// With --await: give up after this many seconds.
    #[arg(long)]
    pub timeout: Option<u64>,
}

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
