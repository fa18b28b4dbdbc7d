//! The README's grpcurl walkthrough, executed: every `$` command of the `console` blocks in its
//! "grpcurl walkthrough" section runs, in order, with the real grpcurl against a live dbosd and a real
//! DBOS Python worker, and the output lines the README shows must appear in that order. The README
//! therefore cannot show a command that does not work.

use tokio::process::Command;

use super::console::{steps, Step};

use crate::harness::{
    assert_success, clients_path, repo_file, run_bounded, TestServer, Worker, WorkerLang,
    WorkerOptions,
};

/// The README section that is executed, and the address its commands use.
const SECTION: &str = "## grpcurl walkthrough";
const README_ADDRESS: &str = "localhost:50051";

/// A line as compared: trimmed, without a trailing comma.
fn normalize(line: &str) -> String {
    line.trim().trim_end_matches(',').to_owned()
}

/// The lines `step` shows as compared (`...` stands for lines left out, so it is not one).
fn expected(step: &Step) -> Vec<String> {
    step.shown
        .iter()
        .map(|line| normalize(line))
        .filter(|line| !line.is_empty() && line != "...")
        .collect()
}

/// Checks that the lines `step` shows occur in `actual` as an ordered subsequence of lines.
fn assert_shown_lines(step: &Step, actual: &str) {
    let mut lines = actual.lines().map(normalize);
    for want in &expected(step) {
        assert!(
            lines.any(|got| &got == want),
            "`{}` printed no line {want:?} (in the README's order); it printed:\n{actual}",
            step.command
        );
    }
}

#[test]
fn shown_lines_compare_without_trailing_commas_or_elisions() {
    let md = "## grpcurl walkthrough\n```console\n$ grpcurl a \\\n    b\n{\n  \"x\": 1,\n  ...\n}\n\n$ grpcurl c\n```\n```sh\n$ not run\n```\n## Next\n```console\n$ nor this\n```\n";
    let steps = steps(md, SECTION);
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert_eq!(expected(&steps[0]), ["{", "\"x\": 1", "}"]);
}

#[tokio::test]
async fn the_readme_grpcurl_walkthrough_works() {
    let readme = std::fs::read_to_string(repo_file("README.md")).expect("read README.md");
    let steps = steps(&readme, SECTION);
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
