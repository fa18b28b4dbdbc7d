//! The README's grpcurl walkthrough, executed: every `$` command of the `console` blocks in its
//! "grpcurl walkthrough" section runs, in order, with the real grpcurl against a live dbosd and a real
//! DBOS Python worker, and the output lines the README shows must appear in that order. The README
//! therefore cannot show a command that does not work.

use tokio::process::Command;

use crate::harness::{
    assert_success, clients_path, repo_file, run_bounded, TestServer, Worker, WorkerLang,
    WorkerOptions,
};

/// The README section that is executed, and the address its commands use.
const SECTION: &str = "## grpcurl walkthrough";
const README_ADDRESS: &str = "localhost:50051";

/// One documented command and the output lines shown for it.
#[derive(Debug)]
struct Step {
    command: String,
    expected: Vec<String>,
}

/// The `console` blocks of `section` in `markdown`, parsed into steps.
fn walkthrough_steps(markdown: &str, section: &str) -> Vec<Step> {
    let start = markdown
        .find(section)
        .unwrap_or_else(|| panic!("README has no {section:?} section"));
    let body = &markdown[start + section.len()..];
    let body = body.find("\n## ").map_or(body, |end| &body[..end]);
    let mut steps: Vec<Step> = Vec::new();
    let mut in_block = false;
    let mut continuing = false;
    for line in body.lines() {
        if line.starts_with("```") {
            in_block = !in_block && line.trim() == "```console";
            continuing = false;
            continue;
        }
        if !in_block {
            continue;
        }
        if continuing {
            let step = steps.last_mut().expect("continued command");
            step.command.push('\n');
            step.command.push_str(line);
            continuing = line.ends_with('\\');
        } else if let Some(command) = line.strip_prefix("$ ") {
            steps.push(Step {
                command: command.to_owned(),
                expected: Vec::new(),
            });
            continuing = command.ends_with('\\');
        } else if let Some(step) = steps.last_mut() {
            let shown = normalize(line);
            if !shown.is_empty() && shown != "..." {
                step.expected.push(shown);
            }
        }
    }
    steps
}

/// A line as compared: trimmed, without a trailing comma.
fn normalize(line: &str) -> String {
    line.trim().trim_end_matches(',').to_owned()
}

/// Checks that `expected` occurs in `actual` as an ordered subsequence of lines.
fn assert_shown_lines(step: &Step, actual: &str) {
    let mut lines = actual.lines().map(normalize);
    for want in &step.expected {
        assert!(
            lines.any(|got| &got == want),
            "`{}` printed no line {want:?} (in the README's order); it printed:\n{actual}",
            step.command
        );
    }
}

#[test]
fn the_walkthrough_parser_reads_commands_and_output() {
    let md = "## grpcurl walkthrough\n```console\n$ grpcurl a \\\n    b\n{\n  \"x\": 1,\n  ...\n}\n\n$ grpcurl c\n```\n```sh\n$ not run\n```\n## Next\n```console\n$ nor this\n```\n";
    let steps = walkthrough_steps(md, SECTION);
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert_eq!(steps[0].command, "grpcurl a \\\n    b");
    assert_eq!(steps[0].expected, ["{", "\"x\": 1", "}"]);
    assert_eq!(steps[1].command, "grpcurl c");
    assert!(steps[1].expected.is_empty());
}

#[tokio::test]
async fn the_readme_grpcurl_walkthrough_works() {
    let readme = std::fs::read_to_string(repo_file("README.md")).expect("read README.md");
    let steps = walkthrough_steps(&readme, SECTION);
    let called = |what: &str| steps.iter().any(|s| s.command.contains(what));
    for rpc in [
        " list",
        " describe ",
        "/EnqueueWorkflow",
        "/AwaitWorkflow",
        "/GetWorkflow",
        "/SendMessage",
        "/GetEvent",
        "/ListWorkflows",
        "grpc.health.v1.Health/Check",
    ] {
        assert!(called(rpc), "the walkthrough no longer shows {rpc:?}");
    }

    let srv = TestServer::start().await;
    let worker = Worker::start(WorkerLang::Python, &srv.db.url, WorkerOptions::default()).await;
    let path = clients_path();
    let address = srv.addr.to_string();
    for step in &steps {
        assert!(
            step.command.starts_with("grpcurl "),
            "only grpcurl commands belong in the walkthrough: {}",
            step.command
        );
        let command = step.command.replace(README_ADDRESS, &address);
        let mut cmd = Command::new("bash");
        cmd.arg("-c").arg(&command).env("PATH", &path);
        let out = run_bounded(cmd, &command).await;
        assert_success(&out, &command);
        assert_shown_lines(step, &String::from_utf8_lossy(&out.stdout));
    }
    worker.stop().await;
    srv.stop().await;
}
