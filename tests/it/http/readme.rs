//! The README's curl examples, executed: every `$` command of the `console` blocks of its
//! "HTTP/JSON" section runs in order with the real curl against a live dbosd and a real DBOS Python
//! worker, and the lines the README shows must appear in that order (a shown line ending in `...`
//! matches a line starting with it). The README therefore cannot show a curl call that does not work.

use tokio::process::Command;

use crate::docs::console::steps;

use crate::harness::{
    assert_success, repo_file, run_bounded, TestServer, Worker, WorkerLang, WorkerOptions,
};

const SECTION: &str = "## HTTP/JSON: Connect, gRPC-Web and OpenAPI";
const README_ADDRESS: &str = "localhost:50051";

/// Whether output `line` is what `shown` shows (`...` at the end: a prefix).
fn shows(shown: &str, line: &str) -> bool {
    match shown.strip_suffix("...") {
        Some(prefix) => line.trim().starts_with(prefix),
        None => line.trim() == shown,
    }
}

#[test]
fn a_shown_line_ending_in_dots_matches_a_prefix() {
    let md = format!("{SECTION}\n```console\n$ curl a \\\n    b\n{{\"x\":1,...\n\n$ curl c\n```\n```sh\n$ not run\n```\n## Next\n");
    let steps = steps(&md, SECTION);
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
        "/ListWorkflowMessages",
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
