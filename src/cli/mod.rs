//! The client commands of the `dbosd` binary: a command line for people that talks to a running
//! dbosd over its public gRPC API only (like the Temporal CLI), printing tables, JSON, JSON lines
//! or YAML.
//!
//! `args*` hold the command lines, `profile` the config file and connection precedence, `client`
//! the connection, `output`/`render` the printing, and one file per command family does the calls.
//!
//! Exit codes: 0 success; 1 dbosd answered with an error (or could not be reached), or the awaited
//! workflow ended other than SUCCESS; 2 a bad command line; 3 a wait timed out; killed by SIGPIPE
//! (a shell shows 141) when stdout's reader went away.

/// `print!` to stdout, ending the process the way SIGPIPE would when the reader went away.
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::write_stdout(format_args!($($arg)*)) };
}

/// `println!` to stdout, ending the process the way SIGPIPE would when the reader went away.
macro_rules! outln {
    () => { out!("\n") };
    ($($arg:tt)*) => { out!("{}\n", format_args!($($arg)*)) };
}

mod args;
mod args_job;
mod args_more;
mod args_wf;
mod await_wf;
mod client;
pub mod database;
mod describe;
mod docs;
mod enqueue;
mod events;
mod export;
mod filter;
mod inbox;
mod job;
mod manage;
pub mod mcp;
pub mod output;
mod profile;
mod queue;
mod render;
pub mod retention;
mod schedule;
mod version;
mod workflow;

pub use args::{ClientArgs, ClientCommand, ColorChoice, OutputFormat};
pub use args_wf::{WorkflowArgs, WorkflowCommand};
pub use client::{channel, Bearer};

use std::process::ExitCode;

use output::Printer;

/// A failed command: the exit code and the one line printed after `dbosd: `.
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    /// A bad command line (exit 2), in the flags' terms.
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError {
            code: 2,
            message: message.into(),
        }
    }
}

impl From<String> for CliError {
    fn from(message: String) -> CliError {
        CliError { code: 1, message }
    }
}

/// The outcome of a CLI command.
pub type CliResult = Result<ExitCode, CliError>;

/// Exit code 3: a wait ended before what it waited for.
pub fn timed_out() -> ExitCode {
    ExitCode::from(3)
}

/// Writes to stdout. When stdout's reader went away (`| head`), ends the process quietly and the
/// conventional way, killed by SIGPIPE (a shell shows 141), instead of Rust's panic. Only stdout
/// gets this: SIGPIPE stays ignored for sockets, whose errors the calls report.
pub fn write_stdout(args: std::fmt::Arguments) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let written = stdout.write_fmt(args).and_then(|_| stdout.flush());
    if let Err(e) = written {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            // SAFETY: restoring a signal's default action and raising it have no preconditions.
            unsafe {
                libc::signal(libc::SIGPIPE, libc::SIG_DFL);
                libc::raise(libc::SIGPIPE);
            }
            std::process::exit(141);
        }
        eprintln!("dbosd: cannot write to stdout: {e}");
        std::process::exit(1);
    }
}

/// Runs one client command; prints its error (if any) and returns the exit code.
pub async fn run(command: ClientCommand) -> ExitCode {
    match dispatch(command).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("dbosd: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}

async fn dispatch(command: ClientCommand) -> CliResult {
    use args_more::{EventCommand, QueueCommand, StreamCommand, VersionCommand};
    match command {
        ClientCommand::Workflow(a) => workflow_command(a).await,
        ClientCommand::Enqueue(a) => {
            let (mut c, p) = connect(&a.client).await?;
            enqueue::enqueue(&mut c, p, a).await
        }
        ClientCommand::Send(a) => {
            let (mut c, p) = connect(&a.client).await?;
            enqueue::send(&mut c, p, a).await
        }
        ClientCommand::Event(a) => {
            let (mut c, p) = connect(&a.client).await?;
            match a.command {
                EventCommand::Get(g) => events::get(&mut c, p, g).await,
                EventCommand::Watch(w) => events::watch(&mut c, p, w).await,
                EventCommand::List(l) => events::list(&mut c, p, l).await,
            }
        }
        ClientCommand::Stream(a) => {
            let (mut c, p) = connect(&a.client).await?;
            match a.command {
                StreamCommand::Read(r) => events::read_stream(&mut c, p, r).await,
                StreamCommand::Keys(k) => inbox::stream_keys(&mut c, p, k).await,
            }
        }
        ClientCommand::Queue(a) => {
            let (mut c, p) = connect(&a.client).await?;
            match a.command {
                QueueCommand::List(l) => queue::list(&mut c, p, l).await,
                QueueCommand::Describe(n) => queue::describe(&mut c, p, n).await,
                QueueCommand::Update(u) => queue::update(&mut c, p, u).await,
            }
        }
        ClientCommand::Schedule(a) => {
            let (mut c, p) = connect(&a.client).await?;
            schedule::run(&mut c, p, a.command).await
        }
        ClientCommand::Version(a) => {
            let (mut c, p) = connect(&a.client).await?;
            match a.command {
                VersionCommand::List(l) => version::list(&mut c, p, l).await,
                VersionCommand::SetLatest(s) => version::set_latest(&mut c, p, s).await,
            }
        }
        ClientCommand::Database(a) => {
            let (mut c, p) = connect(&a.client).await?;
            match a.command {
                database::FleetCommand::List => database::list(&mut c, p).await,
            }
        }
        ClientCommand::Job(a) => {
            let (mut c, p) = connect(&a.client).await?;
            job::run(&mut c, p, a.command).await
        }
        ClientCommand::Config(a) => profile::command(a),
        ClientCommand::Completion(a) => docs::completion(a.shell),
        ClientCommand::Man => docs::man(),
    }
}

async fn connect(args: &ClientArgs) -> Result<(client::Client, Printer), CliError> {
    let printer = Printer::new(args.output, args.color);
    Ok((client::connect(args).await?, printer))
}

async fn workflow_command(a: WorkflowArgs) -> CliResult {
    let (mut c, p) = connect(&a.client).await?;
    match a.command {
        WorkflowCommand::List(l) => workflow::list(&mut c, p, l).await,
        WorkflowCommand::Count(l) => workflow::count(&mut c, p, l).await,
        WorkflowCommand::Watch(w) => workflow::watch(&mut c, p, w).await,
        WorkflowCommand::Describe(d) => describe::describe(&mut c, p, d).await,
        WorkflowCommand::Show(s) => describe::show(&mut c, p, s).await,
        WorkflowCommand::Steps(s) => describe::steps(&mut c, p, s).await,
        WorkflowCommand::Messages(m) => inbox::messages(&mut c, p, m).await,
        WorkflowCommand::Result(r) => {
            await_wf::run(&mut c, p, &r.workflow_id, r.timeout, !r.no_output).await
        }
        WorkflowCommand::Cancel(x) => manage::cancel(&mut c, p, x).await,
        WorkflowCommand::Resume(x) => manage::resume(&mut c, p, x).await,
        WorkflowCommand::Fork(x) => manage::fork(&mut c, p, x).await,
        WorkflowCommand::Delete(x) => manage::delete(&mut c, p, x).await,
        WorkflowCommand::Export(x) => export::export(&mut c, x).await,
        WorkflowCommand::Import(x) => export::import(&mut c, p, x).await,
    }
}
