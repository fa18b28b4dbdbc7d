//! `dbosd workflow ...`, `dbosd enqueue`, `dbosd send`: a command line for humans that talks to a
//! running dbosd over gRPC (like the Temporal CLI), with table or JSON output. `args` holds the
//! command line, `render` the output, and one file per command family does the calls.

mod args;
mod await_wf;
mod client;
mod enqueue;
mod render;
mod workflow;

pub use args::{ClientArgs, EnqueueArgs, OutputFormat, SendArgs, WorkflowArgs, WorkflowCommand};
pub use client::Bearer;

/// The outcome of a CLI command: `Err` is the one line printed after `dbosd: `.
pub type CliResult = Result<std::process::ExitCode, String>;

/// Runs `dbosd workflow <command>`.
pub async fn workflow(args: WorkflowArgs) -> CliResult {
    let mut client = client::connect(&args.client).await?;
    let out = args.client.output;
    match args.command {
        WorkflowCommand::List(a) => workflow::list(&mut client, out, a).await,
        WorkflowCommand::Get(a) => workflow::get(&mut client, out, a).await,
        WorkflowCommand::Cancel(a) => workflow::cancel(&mut client, out, a).await,
        WorkflowCommand::Resume(a) => workflow::resume(&mut client, out, a).await,
        WorkflowCommand::Fork(a) => workflow::fork(&mut client, out, a).await,
        WorkflowCommand::Await(a) => {
            await_wf::run(&mut client, out, &a.workflow_id, a.timeout, !a.no_output).await
        }
    }
}

/// Runs `dbosd enqueue`.
pub async fn enqueue(args: EnqueueArgs) -> CliResult {
    let mut client = client::connect(&args.client).await?;
    enqueue::enqueue(&mut client, args).await
}

/// Runs `dbosd send`.
pub async fn send(args: SendArgs) -> CliResult {
    let mut client = client::connect(&args.client).await?;
    enqueue::send(&mut client, args).await
}
