//! Tokens are bound to databases: a token for `b` gets NOT_FOUND on the default database, worded
//! exactly as for a database that does not exist; a token file without `databases` keeps meaning
//! the default database only; ListDatabases lists what the token may use, with its health.

use std::io::Write;

use dbosd::pb::{DatabaseHealth, ListDatabasesRequest, ListWorkflowsRequest};
use tonic::Code;

use super::{client_on, listed, Two};
use crate::harness::eventually;

const TOKENS: &str = r#"{"tokens": [
    {"name": "b-only", "token": "tok-b", "applications": ["*"], "databases": ["b"]},
    {"name": "legacy", "token": "tok-legacy", "applications": ["*"]},
    {"name": "fleet", "token": "tok-fleet", "applications": ["*"], "databases": ["*"]}
]}"#;

#[tokio::test]
async fn a_token_bound_to_one_database_finds_no_other() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(TOKENS.as_bytes()).unwrap();
    let path = file.path().to_owned();
    let two = Two::start(|s| s.tokens_file = Some(path), Some("tok-b")).await;
    let srv = &two.srv;

    let list = ListWorkflowsRequest::default;
    // The b token: b works; the default database (named or not) and an unknown name are NOT_FOUND,
    // in words that differ only by the name the caller gave.
    let mut b_on_b = client_on(srv, Some("b"), Some("tok-b"));
    b_on_b.list_workflows(list()).await.expect("b's token on b");
    let mut refused = Vec::new();
    for database in [None, Some("default"), Some("nosuch")] {
        let mut client = client_on(srv, database, Some("tok-b"));
        let err = client.list_workflows(list()).await.unwrap_err();
        assert_eq!(err.code(), Code::NotFound, "{database:?}: {err:?}");
        let name = database.unwrap_or("default");
        refused.push(err.message().replace(name, "NAME"));
    }
    assert!(refused.iter().all(|m| m == &refused[0]), "{refused:?}");
    assert!(
        !refused[0].contains("token"),
        "no hint at a binding: {refused:?}"
    );
    // A write is refused the same way, and writes nothing.
    let mut b_on_a = client_on(srv, None, Some("tok-b"));
    let enqueue = crate::harness::enqueue_req("echo", "q", vec![]);
    let err = b_on_a.enqueue_workflow(enqueue.clone()).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(
        srv.db
            .count("SELECT count(*) FROM dbos.workflow_status")
            .await,
        0
    );

    // A token file from before fleets: the default database only.
    let mut legacy = client_on(srv, None, Some("tok-legacy"));
    legacy
        .enqueue_workflow(enqueue)
        .await
        .expect("legacy token on the default");
    let err = client_on(srv, Some("b"), Some("tok-legacy"))
        .list_workflows(list())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    // ListDatabases: each token sees its own, with health.
    assert_eq!(listed(&mut b_on_a).await, ["b"]);
    assert_eq!(listed(&mut legacy).await, ["default"]);
    let mut fleet = client_on(srv, Some("nosuch"), Some("tok-fleet"));
    assert_eq!(listed(&mut fleet).await, ["b", "default"]);
    let serving = eventually("both databases checked SERVING", || {
        let mut fleet = fleet.clone();
        async move {
            let all = fleet.list_databases(ListDatabasesRequest {}).await.ok()?;
            let all = all.into_inner().databases;
            all.iter()
                .all(|d| d.health() == DatabaseHealth::Serving)
                .then_some(all)
        }
    })
    .await;
    let default = serving.iter().find(|d| d.name == "default").unwrap();
    assert!(default.is_default);
    assert_eq!(default.health_service, "dbosd.v1.WorkflowService/default");
    // Connect (HTTP) goes through the same resolver: the header routes, and binds to the token.
    let addr = srv.addr;
    let on_b = ["Authorization: Bearer tok-b", "dbos-database: b"];
    let ok = crate::http::connect_json(addr, "ListWorkflows", &on_b, serde_json::json!({})).await;
    assert_eq!(ok.status, 200, "{ok:?}");
    let on_default = ["Authorization: Bearer tok-b", "dbos-database: default"];
    let refused =
        crate::http::connect_json(addr, "ListWorkflows", &on_default, serde_json::json!({})).await;
    assert_eq!(refused.json()["code"], "not_found", "{refused:?}");
    // Without a token, ListDatabases is refused like every call.
    let err = client_on(srv, None, None)
        .list_databases(ListDatabasesRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    two.srv.stop().await;
}
