//! Shared setup of the authorization tests: two applications, `alpha` and `beta`, a token scoped to
//! each and an `ops` token for all, and the comparison "answered exactly as an unknown id".

use std::io::Write;

use dbosd::cli::Bearer;
use dbosd::pb::workflow_service_client::WorkflowServiceClient;
use tonic::{service::interceptor::InterceptedService, transport::Channel};

use crate::harness::{enqueue_req, Dbosd, TestDb, TestServer};

pub const TOKENS: &str = r#"{"tokens": [
    {"name": "alpha", "token": "tok-alpha-31c", "applications": ["alpha"]},
    {"name": "beta", "token": "tok-beta-8d0", "applications": ["beta"]},
    {"name": "ops", "token": "tok-ops-5e2", "applications": ["*"]}
]}"#;

pub const ALPHA: &str = "tok-alpha-31c";
pub const BETA: &str = "tok-beta-8d0";
pub const OPS: &str = "tok-ops-5e2";

pub type Client = WorkflowServiceClient<InterceptedService<Channel, Bearer>>;

pub fn client_as(channel: &Channel, token: &str) -> Client {
    let bearer = Bearer::new(Some(token)).expect("an ASCII token");
    WorkflowServiceClient::with_interceptor(channel.clone(), bearer)
}

/// The tokens file (kept alive by the caller) for a server or a spawned dbosd.
pub fn tokens_file() -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(TOKENS.as_bytes()).unwrap();
    file
}

/// A server with the tokens above and no workflows.
pub async fn server() -> (TestServer, tempfile::NamedTempFile) {
    let file = tokens_file();
    let path = file.path().to_owned();
    let srv = TestServer::start_on(TestDb::new().await, |s| s.tokens_file = Some(path)).await;
    (srv, file)
}

/// Enqueues `id` for `app` on queue `q` as ops (no worker runs it: it stays ENQUEUED).
pub async fn enqueue_as_ops(srv: &TestServer, id: &str, app: &str) {
    let mut ops = client_as(&srv.channel, OPS);
    let mut req = enqueue_req("wf", "q", vec![]);
    req.workflow_id = Some(id.into());
    req.application_name = Some(app.into());
    ops.enqueue_workflow(req).await.expect("ops enqueues");
}

/// Asserts that `foreign` (a call naming `foreign_id`, a workflow outside the caller's scope) was
/// answered exactly as `unknown` (the same call naming `unknown_id`, which does not exist): the
/// same status code (`code`) and the same message once the ids are set aside.
pub fn same_as_unknown<T: std::fmt::Debug>(
    what: &str,
    code: tonic::Code,
    (foreign, foreign_id): (Result<T, tonic::Status>, &str),
    (unknown, unknown_id): (Result<T, tonic::Status>, &str),
) {
    let (foreign, unknown) = match (foreign, unknown) {
        (Err(f), Err(u)) => (f, u),
        other => panic!("{what}: both calls must fail: {other:?}"),
    };
    assert_eq!(unknown.code(), code, "{what}: {unknown:?}");
    assert_eq!(
        foreign.code(),
        unknown.code(),
        "{what}: {foreign:?} vs {unknown:?}"
    );
    assert_eq!(
        foreign.message().replace(foreign_id, "<id>"),
        unknown.message().replace(unknown_id, "<id>"),
        "{what}: the message must not tell a foreign workflow from a missing one"
    );
    assert_ne!(
        foreign.code(),
        tonic::Code::PermissionDenied,
        "{what}: {foreign:?}"
    );
}

/// A workflow's stored status, read straight from the database.
pub async fn stored_status(db: &TestDb, id: &str) -> Option<String> {
    db.client()
        .await
        .query_opt(
            "SELECT status FROM dbos.workflow_status WHERE workflow_uuid = $1",
            &[&id],
        )
        .await
        .unwrap()
        .map(|r| r.get(0))
}

/// The real binary on `db` under `tokens`, with `extra` flags and `env` on top.
pub async fn spawn_with_tokens(
    db: &TestDb,
    tokens: &tempfile::NamedTempFile,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Dbosd {
    let path = tokens.path().to_str().expect("a UTF-8 temp path");
    let mut args = vec![
        "--database-url",
        &db.url,
        "--listen",
        "127.0.0.1:0",
        "--tokens-file",
        path,
    ];
    args.extend_from_slice(extra);
    Dbosd::spawn(&args, env, Dbosd::READY).await
}
