//! The client commands' shared command line: where dbosd is (flags > env > profile), how to print,
//! and the top-level command tree that `crate::config::Command` flattens in.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use super::args_job::JobArgs;
use super::args_more::{
    CompletionArgs, ConfigArgs, EventArgs, QueueArgs, ScheduleArgs, SendArgs, StreamArgs,
    VersionArgs,
};
use super::args_wf::{EnqueueArgs, WorkflowArgs};

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns (lists) or `key: value` lines (one object), for people.
    Table,
    /// One JSON document (field names as in the proto's JSON form); lists are one array.
    Json,
    /// One compact JSON object per line (lists stream row by row).
    Jsonl,
    /// YAML; lists are one sequence.
    Yaml,
}

/// When to colour table output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Only when stdout is a terminal and NO_COLOR is unset.
    Auto,
    Always,
    Never,
}

/// Where dbosd is and how to print. Each connection setting comes from its flag, else its
/// environment variable, else the selected profile of the config file, else the default.
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// dbosd's gRPC address, `host:port`, `http://host:port` or `https://host:port`
    /// [default: localhost:50051].
    #[arg(long, env = "DBOSD_ADDRESS", global = true)]
    pub address: Option<String>,
    /// The profile of the config file (`dbosd config`) to take connection settings from.
    #[arg(long, env = "DBOSD_PROFILE", global = true)]
    pub profile: Option<String>,
    /// The system database the command works on, for a dbosd serving several (sent as
    /// `dbos-database` metadata) [default: the server's default database].
    #[arg(long, env = "DBOSD_DATABASE", global = true)]
    pub database: Option<String>,
    /// Bearer token, for a dbosd started with --tokens-file.
    #[arg(long, env = "DBOSD_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// PEM CA certificate to trust for an `https://` address (dbosd with --tls-cert).
    #[arg(long, env = "DBOSD_TLS_CA", global = true)]
    pub tls_ca: Option<PathBuf>,
    /// PEM client certificate, for a dbosd with --tls-client-ca (mTLS); needs --tls-client-key.
    #[arg(long, env = "DBOSD_TLS_CLIENT_CERT", global = true)]
    pub tls_client_cert: Option<PathBuf>,
    /// PEM private key of --tls-client-cert.
    #[arg(long, env = "DBOSD_TLS_CLIENT_KEY", global = true)]
    pub tls_client_key: Option<PathBuf>,
    /// The name to verify dbosd's certificate against (default: the address's host).
    #[arg(long, env = "DBOSD_TLS_SERVER_NAME", global = true)]
    pub tls_server_name: Option<String>,
    /// Output format.
    #[arg(
        long,
        short = 'o',
        value_enum,
        env = "DBOSD_OUTPUT",
        default_value = "table",
        global = true
    )]
    pub output: OutputFormat,
    /// Colour in table output.
    #[arg(long, value_enum, default_value = "auto", global = true)]
    pub color: ColorChoice,
    /// Seconds to wait for the connection to dbosd.
    #[arg(long, default_value_t = 10, global = true)]
    pub connect_timeout: u64,
}

/// The client commands (flattened into `dbosd`'s own command list).
// Parsed once per process: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Inspect and manage workflows through a running dbosd.
    Workflow(WorkflowArgs),
    /// Enqueue a workflow through a running dbosd (and, with --await, wait for its result).
    Enqueue(EnqueueArgs),
    /// Send a message to a workflow through a running dbosd.
    Send(SendArgs),
    /// Read a workflow's events (get one, or watch its changes).
    Event(EventArgs),
    /// List a workflow's streams, or read one.
    Stream(StreamArgs),
    /// List, show and update queues.
    Queue(QueueArgs),
    /// Manage schedules (cron-triggered workflows).
    Schedule(ScheduleArgs),
    /// List application versions and pick the latest.
    Version(VersionArgs),
    /// List the system databases a dbosd serves (pick one with --database NAME).
    Database(super::database::FleetArgs),
    /// Bulk jobs: cancel, resume, fork or delete every workflow matching a filter, in the background.
    Job(JobArgs),
    /// Connection profiles in the config file (like `temporal env`).
    Config(ConfigArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completion(CompletionArgs),
    /// Print dbosd's man page (roff), for `man -l -` or a man directory.
    Man,
}
