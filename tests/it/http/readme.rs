//! The README's curl examples, executed: every `$` command of the `console` blocks of its
//! "HTTP/JSON" section runs in order with the real curl against a live dbosd and a real DBOS Python
//! worker, and the lines the README shows must appear in that order (a shown line ending in `...`
//! matches a line starting with it). The README therefore cannot show a curl call that does not work.

use tokio::process::Command;

use crate::harness::{
    assert_success, repo_file, run_bounded, TestServer, Worker, WorkerLang, WorkerOptions,
};

const SECTION: &str = "## HTTP/JSON: Connect, gRPC-Web and OpenAPI";
const README_ADDRESS: &str = "localhost:50051";

/// One documented command and the lines shown for its output.
#[derive(Debug, PartialEq)]
struct Step {
    command: String,
    shown: Vec<String>,
}

/// The `console` blocks of `section` in `markdown`, as steps.
fn steps(markdown: &str, section: &str) -> Vec<Step> {
    let start = markdown
        .find(section)
        .unwrap_or_else(|| panic!("README has no {section:?} section"));
    let body = &markdown[start + section.len()..];
    let body = body.find("\n## ").map_or(body, |end| &body[..end]);
    let mut steps: Vec<Step> = Vec::new();
    let (mut in_block, mut continuing) = (false, false);
    for line in body.lines() {
        if line.starts_with("```") {
            in_block = !in_block && line.trim() == "```console";
            continuing = false;
        } else if !in_block {
        } else if continuing {
            let step = steps.last_mut().expect("a continued command");
            step.command.push('\n');
            step.command.push_str(line);
            continuing = line.ends_with('\\');
        } else if let Some(command) = line.strip_prefix("$ ") {
            steps.push(Step {
                command: command.to_owned(),
                shown: Vec::new(),
            });
            continuing = command.ends_with('\\');
        } else if let Some(step) = steps.last_mut().filter(|_| !line.trim().is_empty()) {
            step.shown.push(line.trim().to_owned());
        }
    }
    steps
}

/// Whether output `line` is what `shown` shows (`...` at the end: a prefix).
fn shows(shown: &str, line: &str) -> bool {
    match shown.strip_suffix("...") {
        Some(prefix) => line.trim().starts_with(prefix),
        None => line.trim() == shown,
    }
}

#[test]
fn the_section_parser_reads_commands_and_output() {
    let md = format!("{SECTION}\n```console\n$ curl a \\\n    b\n{{\"x\":1,...\n\n$ curl c\n```\n```sh\n$ not run\n```\n## Next\n");
    let steps = steps(&md, SECTION);
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert_eq!(steps[0].command, "curl a \\\n    b");
    assert_eq!(steps[0].shown, ["{\"x\":1,..."]);
    assert!(shows(&steps[0].shown[0], "{\"x\":1,\"y\":2}"));
    assert!(!shows("{\"x\":1}", "{\"x\":1,\"y\":2}"));
}

#[tokio::test]
async fn the_readme_curl_examples_work() {
    let readme = std::fs::read_to_string(repo_file("README.md")).expect("read README.md");
    let steps = steps(&readme, SECTION);
    for rpc in [
        "/EnqueueWorkflow",
        "/GetWorkflow",
        "/ListWorkflows",
        "/openapi.json",
    ] {
        assert!(
            steps.iter().any(|s| s.command.contains(rpc)),
            "the README no longer shows {rpc}"
        );
    }
    let srv = TestServer::start().await;
    let worker = Worker::start(WorkerLang::Python, &srv.db.url, WorkerOptions::default()).await;
    for step in &steps {
        assert!(
            step.command.starts_with("curl "),
            "only curl belongs in these examples: {}",
            step.command
        );
        let command = step.command.replace(README_ADDRESS, &srv.addr.to_string());
        let mut cmd = Command::new("bash");
        cmd.arg("-c").arg(format!("set -o pipefail; {command}"));
        let out = run_bounded(cmd, &command).await;
        assert_success(&out, &command);
        let printed = String::from_utf8_lossy(&out.stdout);
        let mut lines = printed.lines();
        for shown in &step.shown {
            assert!(
                lines.any(|line| shows(shown, line)),
                "`{}` printed no line {shown:?} (in the README's order); it printed:\n{printed}",
                step.command
            );
        }
    }
    worker.stop().await;
    srv.stop().await;
}
