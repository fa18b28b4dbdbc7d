//! The layering rules of ARCHITECTURE.md, checked on the source: every `crate::` / `super::` path
//! in `src/` becomes an edge of a module graph (top-level modules, plus the concern folders inside
//! `api/` and `repo/`), and the graph must have no cycle and no edge pointing up the layers.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::Path,
};

type Graph = BTreeMap<String, BTreeSet<String>>;

/// Where a file sits in the module tree: `src/repo/db/pooled.rs` is `["repo", "db", "pooled"]`.
fn module_of(rel: &str) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_owned)
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The paths a `use` tree or expression path names, starting at `s` (after `crate::`).
fn paths(s: &str) -> (Vec<Vec<String>>, usize) {
    let trimmed = s.trim_start();
    let skipped = s.len() - trimmed.len();
    if let Some(rest) = trimmed.strip_prefix('{') {
        let (mut out, mut i) = (Vec::new(), 0);
        loop {
            let tail = &rest[i..];
            let next = tail.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
            i += tail.len() - next.len();
            if next.starts_with('}') || next.is_empty() {
                return (out, skipped + 1 + i + 1);
            }
            let (found, used) = paths(next);
            out.extend(found);
            i += used.max(1);
        }
    }
    let word: String = trimmed
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    let after = &trimmed[word.len()..];
    if word.is_empty() {
        return (vec![], skipped.max(1));
    }
    if let Some(rest) = after.strip_prefix("::") {
        let (found, used) = paths(rest);
        let found = if found.is_empty() {
            vec![vec![]]
        } else {
            found
        };
        let out = found
            .into_iter()
            .map(|mut p| {
                p.insert(0, word.clone());
                p
            })
            .collect();
        return (out, skipped + word.len() + 2 + used);
    }
    (vec![vec![word.clone()]], skipped + word.len())
}

/// The module paths `text` (the file of module `here`) refers to.
fn references(here: &[String], text: &str) -> Vec<Vec<String>> {
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < code.len() {
        let rest = &code[i..];
        let boundary = i == 0
            || !(bytes[i - 1].is_ascii_alphanumeric()
                || bytes[i - 1] == b'_'
                || bytes[i - 1] == b':');
        let (base, skip) = if boundary && rest.starts_with("crate::") {
            (vec![], "crate::".len())
        } else if boundary && rest.starts_with("super::") {
            let mut n = 0;
            while code[i + n * 7..].starts_with("super::") {
                n += 1;
            }
            if code[..i].trim_end().ends_with("use") && code[i..].starts_with("super::*") {
                // `use super::*` in a test module names the file's own module.
                i += 7;
                continue;
            }
            (here[..here.len().saturating_sub(n)].to_vec(), n * 7)
        } else {
            i += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        };
        let (found, used) = paths(&code[i + skip..]);
        for p in found {
            let mut full = base.clone();
            full.extend(p);
            out.push(full);
        }
        i += skip + used.max(1);
    }
    out
}

/// The graph node of a module path: top-level modules, and the folders and files directly under
/// `api/` and `repo/` (each root's `mod.rs` with the table it composes, `rpcs` / `sql`, is the root).
fn node(src: &Path, path: &[String]) -> Option<String> {
    let top = path.first()?;
    if !(src.join(format!("{top}.rs")).exists() || src.join(top).is_dir()) {
        return None;
    }
    if top == "api" || top == "repo" {
        if let Some(second) = path.get(1) {
            let exists = src.join(top).join(format!("{second}.rs")).exists()
                || src.join(top).join(second).is_dir();
            if exists && second != "rpcs" && second != "sql" {
                return Some(format!("{top}::{second}"));
            }
        }
    }
    Some(top.clone())
}

/// The module graph of the sources `files` (path relative to `src/`, text).
fn graph(src: &Path, files: &[(String, String)]) -> Graph {
    let mut g = Graph::new();
    for (rel, text) in files {
        let here = module_of(rel);
        let Some(from) = node(src, &here) else {
            continue;
        };
        for target in references(&here, text) {
            if let Some(to) = node(src, &target) {
                if to != from {
                    g.entry(from.clone()).or_default().insert(to);
                }
            }
        }
    }
    g
}

fn top(n: &str) -> &str {
    n.split("::").next().unwrap()
}

/// A cycle in `g` restricted to `keep`ed nodes, if any (as the path that closes it).
fn cycle(
    g: &Graph,
    keep: impl Fn(&str) -> bool,
    collapse: impl Fn(&str) -> String,
) -> Option<Vec<String>> {
    let mut edges: Graph = Graph::new();
    for (a, bs) in g {
        for b in bs {
            let (a, b) = (collapse(a), collapse(b));
            if a != b && keep(&a) && keep(&b) {
                edges.entry(a).or_default().insert(b);
            }
        }
    }
    fn visit(
        n: &str,
        g: &Graph,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|s| s == n) {
            let mut c = stack[at..].to_vec();
            c.push(n.to_owned());
            return Some(c);
        }
        if !done.insert(n.to_owned()) {
            return None;
        }
        stack.push(n.to_owned());
        for m in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, g, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|n| visit(n, &edges, &mut Vec::new(), &mut done))
}

/// Every broken rule, in words.
fn violations(g: &Graph) -> Vec<String> {
    let mut out = Vec::new();
    // `config` (the command line) and `cli` (its client commands) are one clap tree: one node.
    let command_line = |n: &str| match top(n) {
        "cli" => "config".to_owned(),
        t => t.to_owned(),
    };
    if let Some(c) = cycle(g, |_| true, command_line) {
        out.push(format!(
            "top-level modules import each other: {}",
            c.join(" -> ")
        ));
    }
    // Concerns inside a layer: the root (`WorkflowApi` / `Repo` and the table composing them) is
    // extended by every concern, so only the concerns themselves must form no cycle.
    for layer in ["api", "repo"] {
        let inside = |n: &str| n.starts_with(&format!("{layer}::"));
        if let Some(c) = cycle(g, inside, str::to_owned) {
            out.push(format!(
                "{layer} concerns import each other: {}",
                c.join(" -> ")
            ));
        }
    }
    for (from, tos) in g {
        for to in tos {
            let forbidden = match top(from) {
                "error" => Some("error is the bottom layer and imports nothing of dbosd"),
                "model" if to != "error" => Some("the model imports only error"),
                "repo"
                    if ["api", "pb", "server", "auth", "hub", "telemetry"].contains(&top(to)) =>
                {
                    Some("the repository never imports handlers, gRPC or the layers above it")
                }
                "hub" if ["api", "server"].contains(&top(to)) => {
                    Some("the hub never imports handlers")
                }
                _ => None,
            };
            let forbidden = forbidden.or_else(|| {
                (from == "repo::db" && (to == "repo" || to.starts_with("repo::")))
                    .then_some("repo::db is below every concern and the repository root")
            });
            if let Some(why) = forbidden {
                out.push(format!("{from} -> {to}: {why}"));
            }
        }
    }
    out
}

fn sources(src: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).expect("read src dir") {
            let p = entry.expect("dir entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") {
                let rel = p
                    .strip_prefix(src)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                files.push((rel, fs::read_to_string(&p).expect("read source")));
            }
        }
    }
    files
}

#[test]
fn the_module_graph_has_no_cycle_and_no_upward_import() {
    let src = crate::harness::repo_file("src");
    let files = sources(&src);
    let g = graph(&src, &files);
    assert!(
        g.get("api::workflows").is_some_and(|t| t.contains("model")),
        "the parser sees imports: {g:?}"
    );
    assert_eq!(violations(&g), Vec::<String>::new());

    // The checker catches what it is for: the same tree plus one upward import each.
    for (file, line, expected) in [
        (
            "repo/queues.rs",
            "use crate::api::WorkflowApi;",
            "repo::queues -> api",
        ),
        ("model/mod.rs", "use crate::repo::Repo;", "model -> repo"),
        (
            "error.rs",
            "use crate::shutdown::Drain;",
            "error -> shutdown",
        ),
        (
            "repo/db/scope.rs",
            "use super::super::workflows::status;",
            "repo::db -> repo::workflows",
        ),
        (
            "hub/mod.rs",
            "use crate::{api::{WorkflowApi}};",
            "hub -> api",
        ),
    ] {
        let mut changed = files.clone();
        let at = changed.iter().position(|(rel, _)| rel == file).expect(file);
        changed[at].1 = format!("{line}\n{}", changed[at].1);
        let found = violations(&graph(&src, &changed));
        assert!(
            found.iter().any(|v| v.contains(expected)),
            "{line} in {file}: {found:?}"
        );
    }
    // A cycle between concerns is caught too.
    let mut changed = files.clone();
    let at = changed
        .iter()
        .position(|(rel, _)| rel == "repo/workflows/mod.rs")
        .unwrap();
    changed[at].1.push_str("\nuse crate::repo::batch::X;\n");
    let found = violations(&graph(&src, &changed));
    assert!(
        found
            .iter()
            .any(|v| v.starts_with("repo concerns import each other")),
        "{found:?}"
    );
}

#[test]
fn api_has_no_sql_and_repo_has_no_grpc() {
    let src = crate::harness::repo_file("src");
    let mentioning = |dir: &str, needle: &str| -> Vec<String> {
        sources(&src)
            .into_iter()
            .filter(|(rel, text)| rel.starts_with(dir) && text.contains(needle))
            .map(|(rel, _)| rel)
            .collect()
    };
    assert_eq!(mentioning("api/", "tokio_postgres"), Vec::<String>::new());
    assert_eq!(mentioning("repo/", "tonic"), Vec::<String>::new());
    assert_eq!(mentioning("model/", "tonic"), Vec::<String>::new());
}
