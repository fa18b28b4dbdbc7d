//! `dbosd completion SHELL` and `dbosd man`: generated from the same clap definition that parses
//! the command line, so they list every command and flag there is.

use std::process::ExitCode;

use clap::CommandFactory;

use super::CliResult;
use crate::config::Cli;

pub fn completion(shell: clap_complete::Shell) -> CliResult {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "dbosd", &mut script);
    out!("{}", String::from_utf8_lossy(&script));
    Ok(ExitCode::SUCCESS)
}

/// The man page: dbosd(1) with every subcommand's usage and options under SUBCOMMANDS.
pub fn man() -> CliResult {
    let cmd = Cli::command();
    let mut out = Vec::new();
    let man = clap_mangen::Man::new(cmd.clone());
    man.render(&mut out).map_err(|e| format!("man page: {e}"))?;
    // clap_mangen renders one command per page: append each subcommand's page (recursively), so
    // one `dbosd man` documents the whole tree.
    render_subcommands(&cmd, "dbosd", &mut out)?;
    out!("{}", String::from_utf8_lossy(&out));
    Ok(ExitCode::SUCCESS)
}

fn render_subcommands(cmd: &clap::Command, prefix: &str, out: &mut Vec<u8>) -> Result<(), String> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("{prefix}-{}", sub.get_name());
        let page = sub
            .clone()
            .name(name.clone())
            .bin_name(name.replace('-', " "));
        out.extend_from_slice(format!(".\\\" {name}\n").as_bytes());
        clap_mangen::Man::new(page.clone())
            .render(out)
            .map_err(|e| format!("man page: {e}"))?;
        render_subcommands(&page, &name, out)?;
    }
    Ok(())
}
