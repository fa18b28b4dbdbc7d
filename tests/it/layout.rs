//! The layering rule, checked: handlers (`src/api`) never touch SQL types and the repository
//! (`src/repo`) never touches gRPC types.

use std::{fs, path::Path};

fn files_mentioning(dir: &str, needle: &str) -> Vec<String> {
    let mut hits = Vec::new();
    let mut stack = vec![crate::harness::repo_file(dir)];
    while let Some(path) = stack.pop() {
        for entry in fs::read_dir(&path).expect("read src dir") {
            let p = entry.expect("dir entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") && contains(&p, needle) {
                hits.push(p.display().to_string());
            }
        }
    }
    hits
}

fn contains(path: &Path, needle: &str) -> bool {
    fs::read_to_string(path)
        .map(|s| s.contains(needle))
        .unwrap_or(false)
}

#[test]
fn api_has_no_sql_and_repo_has_no_grpc() {
    assert_eq!(
        files_mentioning("src/api", "tokio_postgres"),
        Vec::<String>::new()
    );
    assert_eq!(files_mentioning("src/repo", "tonic"), Vec::<String>::new());
}
