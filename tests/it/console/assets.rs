//! The console's files over HTTP: 404 without `--ui`; with it, each file with its content type,
//! the CSP and the other hardening headers, every file the pages load present, served without a
//! token (they hold no data) while the API behind them still needs one.

use std::io::Write;

use clap::Parser;
use dbosd::http::console::CONTENT_SECURITY_POLICY;

use crate::harness::{TestDb, TestServer};
use crate::http::{connect_json, curl, Reply};

async fn get(srv: &TestServer, path: &str) -> Reply {
    curl(&format!("http://{}{path}", srv.addr), &[], b"").await
}

#[tokio::test]
async fn ui_is_not_served_without_the_flag() {
    let srv = TestServer::start().await;
    for path in ["/ui", "/ui/", "/ui/app.js", "/ui/style.css"] {
        let reply = get(&srv, path).await;
        assert_eq!(reply.status, 404, "{path} without --ui");
    }
    // The other routes of the front are unaffected.
    assert_eq!(get(&srv, "/openapi.json").await.status, 200);
    srv.stop().await;
}

#[tokio::test]
async fn console_files_have_their_types_and_a_strict_csp() {
    let mut tokens = tempfile::NamedTempFile::new().unwrap();
    tokens
        .write_all(br#"{"tokens": [{"name": "ops", "token": "tok-ui-1", "applications": ["*"]}]}"#)
        .unwrap();
    let path = tokens.path().to_owned();
    let srv = TestServer::start_on(TestDb::new().await, |s| {
        s.ui = true;
        s.tokens_file = Some(path);
    })
    .await;

    let index = get(&srv, "/ui/").await;
    assert_eq!(index.status, 200);
    assert_eq!(
        get(&srv, "/ui").await.body,
        index.body,
        "/ui is the index too"
    );
    let html = String::from_utf8(index.body.clone()).unwrap();
    // Every file the index loads, and every module those import.
    let mut files: Vec<String> = refs(&html, "src=\"/ui/")
        .chain(refs(&html, "href=\"/ui/"))
        .collect();
    let mut checked = Vec::new();
    while let Some(file) = files.pop() {
        if checked.contains(&file) {
            continue;
        }
        let reply = get(&srv, &format!("/ui/{file}")).await;
        assert_eq!(reply.status, 200, "/ui/{file} is served");
        assert_eq!(
            reply.header("content-type"),
            Some(content_type(&file)),
            "{file}"
        );
        assert_hardened(&reply, &file);
        if file.ends_with(".js") {
            let js = String::from_utf8(reply.body).unwrap();
            files.extend(refs(&js, "from \"./"));
        }
        checked.push(file);
    }
    for needed in [
        "app.js",
        "api.js",
        "style.css",
        "workflows.js",
        "workflow.js",
        "registry.js",
    ] {
        assert!(
            checked.iter().any(|f| f == needed),
            "{needed} is loaded: {checked:?}"
        );
    }
    assert_eq!(
        index.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_hardened(&index, "index");

    let missing = get(&srv, "/ui/no-such-file.js").await;
    assert_eq!(missing.status, 404);
    assert_ne!(missing.header("content-type"), Some(content_type("x.js")));

    // The files need no token; the data does.
    let rpc = connect_json(srv.addr, "ListWorkflows", &[], serde_json::json!({})).await;
    assert_eq!(rpc.status, 401, "an RPC without a token");
    let with_token = connect_json(
        srv.addr,
        "ListWorkflows",
        &["Authorization: Bearer tok-ui-1"],
        serde_json::json!({}),
    )
    .await;
    assert_eq!(with_token.status, 200);
    srv.stop().await;
}

/// The names following each `marker` up to the closing quote.
fn refs<'a>(text: &'a str, marker: &'a str) -> impl Iterator<Item = String> + 'a {
    text.split(marker)
        .skip(1)
        .filter_map(|rest| rest.split('"').next().map(str::to_owned))
}

fn content_type(file: &str) -> &'static str {
    match file.rsplit('.').next() {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("html") => "text/html; charset=utf-8",
        other => panic!("unexpected file type {other:?}"),
    }
}

fn assert_hardened(reply: &Reply, what: &str) {
    let csp = reply.header("content-security-policy").unwrap_or_default();
    assert_eq!(csp, CONTENT_SECURITY_POLICY, "{what}");
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(
            csp.contains(directive),
            "{what}: CSP lacks {directive}: {csp}"
        );
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(
        reply.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(reply.header("x-frame-options"), Some("DENY"), "{what}");
}

fn parse(args: &[&str]) -> dbosd::config::Cli {
    dbosd::config::Cli::try_parse_from(args).expect("arguments parse")
}

#[test]
fn the_console_is_off_in_serve_unless_asked_and_start_dev_may_turn_it_off() {
    let settings = |server: &dbosd::config::ServerArgs| {
        dbosd::config::Settings::from_args(String::new(), "dbos", server, false)
    };
    assert!(!settings(&parse(&["dbosd"]).serve.server).ui);
    assert!(settings(&parse(&["dbosd", "--ui"]).serve.server).ui);
    assert!(!settings(&parse(&["dbosd", "--ui=false"]).serve.server).ui);
    // start-dev reads `ui` as "on unless --ui=false" (main.rs): None and Some(true) are on.
    let start_dev = |args: &[&str]| match parse(args).command {
        Some(dbosd::config::Command::StartDev(a)) => a.server.ui,
        other => panic!("not start-dev: {other:?}"),
    };
    assert_eq!(start_dev(&["dbosd", "start-dev"]), None);
    assert_eq!(
        start_dev(&["dbosd", "start-dev", "--ui=false"]),
        Some(false)
    );
}
