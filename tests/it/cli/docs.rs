//! Generated documentation: shell completions that the shell accepts, a man page naming every
//! command, and README's CLI reference checked against the live `--help` so the two cannot drift.

use clap::CommandFactory;

use super::{assert_code, command, text};
use crate::harness::{repo_file, run_bounded};

async fn run(args: &[&str]) -> std::process::Output {
    let mut cmd = command();
    cmd.args(args);
    run_bounded(cmd, &format!("dbosd {}", args.join(" "))).await
}

/// Every command path of the tree (`["workflow", "list"]`, ...), without `help`.
fn paths(cmd: &clap::Command, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let mut path = prefix.clone();
        path.push(sub.get_name().to_owned());
        out.push(path.clone());
        paths(sub, path, out);
    }
}

fn all_paths() -> Vec<Vec<String>> {
    let mut out = Vec::new();
    paths(&dbosd::config::Cli::command(), Vec::new(), &mut out);
    out
}

#[tokio::test]
async fn completions_load_and_the_man_page_names_every_command() {
    let out = run(&["completion", "bash"]).await;
    assert_code(&out, 0);
    let dir = tempfile::tempdir().expect("tmp");
    let script = dir.path().join("dbosd.bash");
    std::fs::write(&script, &out.stdout).expect("write");
    let mut bash = tokio::process::Command::new("bash");
    bash.arg("-n").arg(&script);
    assert_code(&run_bounded(bash, "bash -n").await, 0);
    // Loaded, it registers the completion function for `dbosd`.
    let mut bash = tokio::process::Command::new("bash");
    bash.arg("-c")
        .arg(format!("source {} && complete -p dbosd", script.display()));
    let loaded = run_bounded(bash, "bash source").await;
    assert_code(&loaded, 0);
    assert!(
        text(&loaded.stdout).contains("dbosd"),
        "{}",
        text(&loaded.stdout)
    );
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = run(&["completion", shell]).await;
        assert_code(&out, 0);
        let script = text(&out.stdout);
        assert!(
            script.contains("workflow") && script.contains("set-latest"),
            "{shell}"
        );
    }
    assert_code(&run(&["completion", "tcsh"]).await, 2);

    let out = run(&["man"]).await;
    assert_code(&out, 0);
    let page = text(&out.stdout);
    assert!(
        page.starts_with(".ie") || page.contains(".TH dbosd"),
        "{}",
        &page[..page.len().min(200)]
    );
    for path in all_paths() {
        let name = format!("dbosd-{}", path.join("-"));
        assert!(
            page.contains(&format!(".TH {name}")),
            "man page lacks {name}"
        );
    }
}

/// README's command reference, built from the live `--help` of each command: its usage line and
/// the one-line summary.
async fn reference() -> String {
    let mut lines = Vec::new();
    for path in all_paths() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let out = run(&args).await;
        assert_code(&out, 0);
        let help = text(&out.stdout);
        let about = help.lines().next().unwrap_or_default().trim().to_owned();
        let usage = help
            .lines()
            .find_map(|l| l.strip_prefix("Usage: "))
            .unwrap_or_default()
            .trim()
            .to_owned();
        lines.push(format!("{usage}\n    {about}"));
    }
    lines.join("\n")
}

#[tokio::test]
async fn readme_command_reference_matches_help() {
    const BEGIN: &str = "<!-- cli-reference:begin (generated: DBOSD_UPDATE_README=1 cargo test --test it readme_command_reference) -->\n```text\n";
    const END: &str = "```\n<!-- cli-reference:end -->";
    let want = format!("{}\n", reference().await);
    let path = repo_file("README.md");
    let readme = std::fs::read_to_string(&path).expect("README");
    let start = readme.find(BEGIN).map(|i| i + BEGIN.len());
    let end = readme.find(END);
    let (Some(start), Some(end)) = (start, end) else {
        panic!("README.md lacks the cli-reference block; it should read:\n{BEGIN}{want}{END}");
    };
    if std::env::var_os("DBOSD_UPDATE_README").is_some() {
        let updated = format!("{}{want}{}", &readme[..start], &readme[end..]);
        std::fs::write(&path, updated).expect("write README");
        return;
    }
    assert_eq!(
        &readme[start..end],
        want,
        "README's CLI reference differs from --help; regenerate with DBOSD_UPDATE_README=1"
    );
}
