//! dbosd called from browser JavaScript: headless Chromium (Debian's `chromium`, installed by
//! scripts/install-browser.sh) loads tests/http/browser.html from another origin, which fetch()es
//! dbosd over Connect (a unary call, an error, a server stream) through CORS and writes what it got
//! into the DOM; the same page from an origin dbosd does not allow cannot read anything.

use std::{net::SocketAddr, process::Stdio};

use serde_json::Value;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
    process::Command,
};

use crate::harness::{
    enqueue_req, repo_file, TestDb, TestServer, Worker, WorkerLang, WorkerOptions, WAIT,
};

/// Serves tests/http/browser.html for every request, on a port of its own (the page's origin).
async fn serve_page() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind page server");
    let addr = listener.local_addr().expect("page address");
    let page = std::fs::read(repo_file("tests/http/browser.html")).expect("read browser.html");
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let page = page.clone();
            tokio::spawn(async move {
                let mut head = vec![0u8; 8192];
                let _ = conn.read(&mut head).await;
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    page.len()
                );
                let _ = conn.write_all(reply.as_bytes()).await;
                let _ = conn.write_all(&page).await;
            });
        }
    });
    addr
}

/// Loads `url` in headless Chromium, lets its scripts finish, and returns the #result JSON.
async fn run_page(url: &str) -> Value {
    let profile = tempfile::tempdir().expect("profile dir");
    let mut cmd = Command::new("chromium");
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--virtual-time-budget=20000",
        "--dump-dom",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .arg(url)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .kill_on_drop(true);
    let out = tokio::time::timeout(WAIT * 2, cmd.output())
        .await
        .expect("chromium finishes")
        .expect("chromium runs (scripts/install-browser.sh installs it)");
    let dom = String::from_utf8_lossy(&out.stdout);
    let start = dom.find("<pre id=\"result\">").unwrap_or_else(|| {
        panic!(
            "no #result in the DOM:\n{dom}\n--- stderr\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    }) + "<pre id=\"result\">".len();
    let end = start + dom[start..].find("</pre>").expect("end of #result");
    let text = dom[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("#result is not JSON: {text}"))
}

#[tokio::test]
async fn browser_javascript_calls_dbosd_over_connect() {
    let page = serve_page().await;
    let allowed = format!("http://127.0.0.1:{}", page.port());
    let srv = TestServer::start_on(TestDb::new().await, |s| {
        s.cors_origins = vec![allowed.clone()]
    })
    .await;
    let worker = Worker::start(WorkerLang::Python, &srv.db.url, WorkerOptions::default()).await;
    let mut req = enqueue_req(
        "add",
        "_dbos_internal_queue",
        vec![serde_json::json!(2), serde_json::json!(40)],
    );
    req.workflow_id = Some("browser-1".into());
    srv.client
        .clone()
        .enqueue_workflow(req)
        .await
        .expect("enqueue");

    let query = format!(
        "browser.html?dbosd=http://127.0.0.1:{}&id=browser-1",
        srv.addr.port()
    );
    let result = run_page(&format!("{allowed}/{query}")).await;
    assert!(result.get("failed").is_none(), "{result}");
    assert_eq!(result["get"]["status"], 200, "{result}");
    assert_eq!(result["get"]["body"]["workflow"]["workflowId"], "browser-1");
    assert_eq!(result["missing"]["status"], 404);
    assert_eq!(result["missing"]["body"]["code"], "not_found");
    let outcome = &result["await"]["messages"]
        .as_array()
        .expect("messages")
        .last()
        .expect("outcome")["outcome"];
    assert_eq!(outcome["status"], "WORKFLOW_STATUS_SUCCESS", "{result}");
    assert_eq!(outcome["output"]["json"], 42);
    assert!(result["await"]["end"].get("error").is_none(), "{result}");

    // The same page from an origin dbosd was not told about: the browser refuses to read.
    let refused = run_page(&format!("http://localhost:{}/{query}", page.port())).await;
    assert!(
        refused["failed"]
            .as_str()
            .is_some_and(|e| e.contains("Failed to fetch")),
        "{refused}"
    );
    worker.stop().await;
    srv.stop().await;
}
