//! A `buf lint` (STANDARD) stand-in that needs no `buf`: the essentials checked on proto/ by reading
//! the files. Package matches directory; services end in `Service`; every rpc takes `<Rpc>Request`
//! and returns `<Rpc>Response`; enums start with `<ENUM>_UNSPECIFIED = 0` and prefix every value with
//! `<ENUM>_`; names are PascalCase (messages, enums, services, rpcs), lower_snake_case (fields) and
//! UPPER_SNAKE_CASE (enum values); and every service, rpc, message, enum, enum value, oneof and field
//! has a comment: the proto files are the API reference.

use std::path::Path;

use crate::harness::repo_file;

fn is_pascal(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_uppercase()) && s.chars().all(|c| c.is_ascii_alphanumeric())
}

fn is_lower_snake(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn is_upper_snake(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// `WorkflowStatus` -> `WORKFLOW_STATUS`.
fn upper_snake(pascal: &str) -> String {
    let mut out = String::new();
    for (i, c) in pascal.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// The kind of block a line is in.
#[derive(Debug, Clone, PartialEq)]
enum Block {
    Message,
    Enum { prefix: String, values: usize },
    Service,
    Oneof,
}

/// Lints one file's text; `rel` is its path under proto/. Returns the problems found.
fn lint(rel: &str, text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut fail = |line: usize, msg: String| problems.push(format!("{rel}:{line}: {msg}"));
    let dir = Path::new(rel)
        .parent()
        .map(|p| p.to_string_lossy().replace('/', "."));
    let mut stack: Vec<Block> = Vec::new();
    let mut commented = false;
    let mut saw_package = false;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.starts_with("//") {
            commented = true;
            continue;
        }
        if line.is_empty() || line == "}" || line == "};" {
            if line.starts_with('}') {
                if let Some(Block::Enum { values: 0, .. }) = stack.last() {
                    fail(n, "enum without values".into());
                }
                stack.pop();
            }
            // A comment cut off by a blank line or a closing brace is detached, as buf sees it.
            commented = false;
            continue;
        }
        let has_comment = std::mem::take(&mut commented) || line.contains("//");
        let words: Vec<&str> = line
            .split(|c: char| c.is_whitespace() || "(){};=<>,".contains(c))
            .filter(|w| !w.is_empty())
            .collect();
        let need_comment = |what: &str, fail: &mut dyn FnMut(usize, String)| {
            if !has_comment {
                fail(n, format!("{what} has no comment"));
            }
        };
        match (words.first().copied(), stack.last().cloned()) {
            (Some("syntax" | "import" | "option" | "reserved"), _) => {}
            (Some("package"), None) => {
                saw_package = true;
                let pkg = words.get(1).copied().unwrap_or("");
                if dir.as_deref() != Some(pkg) {
                    fail(n, format!("package {pkg} does not match directory {dir:?}"));
                }
            }
            (Some(kw @ ("message" | "enum" | "service")), _) => {
                let name = words.get(1).copied().unwrap_or("");
                need_comment(&format!("{kw} {name}"), &mut fail);
                if !is_pascal(name) {
                    fail(n, format!("{kw} {name} is not PascalCase"));
                }
                stack.push(match kw {
                    "message" => Block::Message,
                    "service" => {
                        if !name.ends_with("Service") {
                            fail(n, format!("service {name} does not end in Service"));
                        }
                        Block::Service
                    }
                    _ => Block::Enum {
                        prefix: format!("{}_", upper_snake(name)),
                        values: 0,
                    },
                });
            }
            (Some("oneof"), Some(Block::Message)) => {
                let name = words.get(1).copied().unwrap_or("");
                need_comment(&format!("oneof {name}"), &mut fail);
                if !is_lower_snake(name) {
                    fail(n, format!("oneof {name} is not lower_snake_case"));
                }
                stack.push(Block::Oneof);
            }
            (Some("rpc"), Some(Block::Service)) => {
                let name = words.get(1).copied().unwrap_or("");
                need_comment(&format!("rpc {name}"), &mut fail);
                let request = words.get(2).copied().unwrap_or("");
                let response = words
                    .iter()
                    .skip(3)
                    .find(|w| **w != "returns" && **w != "stream");
                if !is_pascal(name) {
                    fail(n, format!("rpc {name} is not PascalCase"));
                }
                if request != format!("{name}Request") {
                    fail(n, format!("rpc {name} takes {request}, not {name}Request"));
                }
                if response.copied() != Some(&format!("{name}Response")) {
                    fail(
                        n,
                        format!("rpc {name} returns {response:?}, not {name}Response"),
                    );
                }
            }
            (Some(value), Some(Block::Enum { prefix, values })) => {
                need_comment(&format!("enum value {value}"), &mut fail);
                if !is_upper_snake(value) || !value.starts_with(&prefix) {
                    fail(
                        n,
                        format!("enum value {value} is not UPPER_SNAKE_CASE with prefix {prefix}"),
                    );
                }
                let number = words.get(1).copied().unwrap_or("");
                if values == 0 && (value != format!("{prefix}UNSPECIFIED") || number != "0") {
                    fail(
                        n,
                        format!("first value {value} = {number} is not {prefix}UNSPECIFIED = 0"),
                    );
                }
                if let Some(Block::Enum { values, .. }) = stack.last_mut() {
                    *values += 1;
                }
            }
            (Some(_), Some(Block::Message | Block::Oneof)) => {
                // `[optional|repeated] type name = n;` or `map<k, v> name = n;`
                let at = words
                    .iter()
                    .position(|w| w.chars().all(|c| c.is_ascii_digit()));
                let name = at.and_then(|i| i.checked_sub(1)).map_or("", |i| words[i]);
                need_comment(&format!("field {name}"), &mut fail);
                if !is_lower_snake(name) {
                    fail(n, format!("field {name:?} is not lower_snake_case"));
                }
            }
            (first, block) => fail(n, format!("unexpected {first:?} in {block:?}")),
        }
    }
    if !saw_package {
        fail(0, "no package".into());
    }
    problems
}

#[test]
fn the_linter_catches_what_buf_standard_would() {
    let bad = "syntax = \"proto3\";\npackage dbosd.v2;\nenum Color {\n  // c\n  RED = 0;\n}\n// s\nservice Api {\n  // r\n  rpc Get(GetThing) returns (stream Thing);\n}\nmessage Thing {\n  // ok\n  string Name = 1;\n  int32 size = 2;\n}\n";
    let problems = lint("dbosd/v1/bad.proto", bad).join("\n");
    for needle in [
        "package dbosd.v2 does not match",
        "enum Color has no comment",
        "enum value RED is not UPPER_SNAKE_CASE with prefix COLOR_",
        "first value RED = 0 is not COLOR_UNSPECIFIED = 0",
        "service Api does not end in Service",
        "rpc Get takes GetThing, not GetRequest",
        "not GetResponse",
        "message Thing has no comment",
        "field \"Name\" is not lower_snake_case",
        "field size has no comment",
    ] {
        assert!(
            problems.contains(needle),
            "missed {needle:?} in:\n{problems}"
        );
    }
}

#[test]
fn proto_files_pass_the_lint() {
    let root = repo_file("proto");
    let mut files = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read proto dir") {
            let p = entry.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "proto") {
                files.push(p);
            }
        }
    }
    assert!(files.len() >= 4, "proto files: {files:?}");
    let mut problems = Vec::new();
    for path in &files {
        let rel = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        problems.extend(lint(
            &rel,
            &std::fs::read_to_string(path).expect("read proto"),
        ));
    }
    assert!(problems.is_empty(), "proto lint:\n{}", problems.join("\n"));
}
