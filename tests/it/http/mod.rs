//! The HTTP front of the gRPC port, used the way people use it: curl speaking Connect (JSON and
//! protobuf, unary and streaming) and gRPC-Web frames, CORS preflights, the OpenAPI document's
//! examples posted back, the README's curl examples, a Connect client from npm, and browser
//! JavaScript in headless Chromium. Answers are compared with what a gRPC client gets.

mod browser;
mod compression;
mod connect;
mod cors;
mod grpc_web;
mod node_client;
mod openapi;
mod policy;
mod readme;

use std::{net::SocketAddr, process::Stdio};

use tokio::{io::AsyncWriteExt, process::Command};

use crate::harness::WAIT;

/// One HTTP response as curl received it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The Connect envelopes of a streaming body: (flags, message).
    pub fn envelopes(&self) -> Vec<(u8, Vec<u8>)> {
        let mut out = Vec::new();
        let mut rest = &self.body[..];
        while !rest.is_empty() {
            assert!(rest.len() >= 5, "truncated envelope in {:?}", self.body);
            let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
            out.push((rest[0], rest[5..5 + len].to_vec()));
            rest = &rest[5 + len..];
        }
        out
    }

    /// The JSON messages of a `application/connect+json` stream and its end-of-stream message.
    pub fn stream(&self) -> (Vec<serde_json::Value>, serde_json::Value) {
        let mut envelopes = self.envelopes();
        let (flags, end) = envelopes.pop().expect("an end-of-stream message");
        assert_eq!(flags, 2, "the last envelope ends the stream");
        assert!(envelopes.iter().all(|(f, _)| *f == 0), "{envelopes:?}");
        let messages = envelopes
            .iter()
            .map(|(_, m)| serde_json::from_slice(m).expect("JSON message"))
            .collect();
        (
            messages,
            serde_json::from_slice(&end).expect("JSON end-of-stream"),
        )
    }
}

/// POSTs `body` to `path` on dbosd at `addr` with curl (HTTP/1.1), with `headers` ("Name: value").
pub async fn post(addr: SocketAddr, path: &str, headers: &[&str], body: &[u8]) -> Reply {
    let url = format!("http://{addr}{path}");
    let mut args = vec!["-X", "POST", "--data-binary", "@-"];
    for h in headers {
        args.extend(["-H", h]);
    }
    curl(&url, &args, body).await
}

/// A Connect unary JSON call with curl.
pub async fn connect_json(
    addr: SocketAddr,
    method: &str,
    headers: &[&str],
    json: serde_json::Value,
) -> Reply {
    let mut all = vec!["Content-Type: application/json"];
    all.extend_from_slice(headers);
    post(
        addr,
        &format!("/dbosd.v1.WorkflowService/{method}"),
        &all,
        json.to_string().as_bytes(),
    )
    .await
}

/// A Connect server-streaming JSON call with curl: one enveloped request message.
pub async fn connect_stream(
    addr: SocketAddr,
    method: &str,
    headers: &[&str],
    json: serde_json::Value,
) -> Reply {
    let mut all = vec!["Content-Type: application/connect+json"];
    all.extend_from_slice(headers);
    post(
        addr,
        &format!("/dbosd.v1.WorkflowService/{method}"),
        &all,
        &envelope(0, json.to_string().as_bytes()),
    )
    .await
}

/// `message` behind a 5-byte prefix (Connect envelope or gRPC frame).
pub fn envelope(flags: u8, message: &[u8]) -> Vec<u8> {
    let mut out = vec![flags];
    out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    out.extend_from_slice(message);
    out
}

/// Runs curl on `url` with `args`, `stdin` as its input, and parses the response it prints.
pub async fn curl(url: &str, args: &[&str], stdin: &[u8]) -> Reply {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "-i", "--http1.1", "--max-time", "60"])
        .args(args)
        .arg(url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("spawn curl");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin).await.expect("write curl's stdin");
    drop(input);
    let out = tokio::time::timeout(WAIT * 2, child.wait_with_output())
        .await
        .expect("curl finishes")
        .expect("curl runs");
    assert!(
        out.status.success(),
        "curl {args:?} {url} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_reply(&out.stdout)
}

/// An HTTP/1.1 response as `curl -i` prints it.
pub fn parse_reply(raw: &[u8]) -> Reply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP head in {}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}
