//! Audit: every write (per the policy table) leaves exactly one JSON record on the `dbosd::audit`
//! target of the real binary's log, with principal, RPC, targets, result, peer and request id, and
//! counts in `dbosd_audit_records_total{rpc,result}`; reads leave none.

use dbosd::pb::{CancelWorkflowRequest, DeleteQueueRequest, GetWorkflowRequest};
use tonic::{Code, Request};

use crate::auth::setup::{
    client_as, enqueue_as_ops, server, spawn_with_tokens, tokens_file, ALPHA, OPS,
};
use crate::harness::{enqueue_req, telemetry_sample, TestDb};

fn with_request_id<T>(message: T, id: &str) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("x-request-id", id.parse().unwrap());
    request
}

/// The audit lines of `log` for request `id`, parsed.
fn audit_records(log: &str, id: &str) -> Vec<serde_json::Value> {
    log.lines()
        .filter(|l| l.contains(id))
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["target"] == "dbosd::audit")
        .collect()
}

#[tokio::test]
async fn every_write_leaves_one_audit_record_and_reads_none() {
    let db = TestDb::new().await;
    let tokens = tokens_file();
    let json = ["--log-format", "json"];
    let dbosd = spawn_with_tokens(&db, &tokens, &json, &[("DBOSD_LOG", "dbosd=debug")]).await;
    let (mut alpha, mut ops) = (
        client_as(&dbosd.channel, ALPHA),
        client_as(&dbosd.channel, OPS),
    );
    let mut enqueue = enqueue_req("wf", "q", vec![]);
    enqueue.workflow_id = Some("beta-1".into());
    enqueue.application_name = Some("beta".into());
    ops.enqueue_workflow(with_request_id(enqueue, "audit-enqueue-1"))
        .await
        .expect("ops enqueues");
    let cancel = CancelWorkflowRequest {
        workflow_id: "beta-1".into(),
        cancel_children: false,
    };
    let refused = alpha
        .cancel_workflow(with_request_id(cancel, "audit-cancel-1"))
        .await;
    assert_eq!(refused.unwrap_err().code(), Code::NotFound);
    let delete_queue = DeleteQueueRequest {
        name: "q".into(),
        allow_missing: true,
    };
    let denied = alpha
        .delete_queue(with_request_id(delete_queue, "audit-denied-1"))
        .await;
    assert_eq!(denied.unwrap_err().code(), Code::PermissionDenied);
    let mut anonymous =
        dbosd::pb::workflow_service_client::WorkflowServiceClient::new(dbosd.channel.clone());
    let cancel = CancelWorkflowRequest {
        workflow_id: "beta-1".into(),
        cancel_children: false,
    };
    let unauthenticated = anonymous
        .cancel_workflow(with_request_id(cancel, "audit-no-token-1"))
        .await;
    assert_eq!(unauthenticated.unwrap_err().code(), Code::Unauthenticated);
    let read = GetWorkflowRequest {
        workflow_id: "beta-1".into(),
        ..Default::default()
    };
    let foreign = alpha
        .get_workflow(with_request_id(read, "audit-read-1"))
        .await;
    assert_eq!(foreign.unwrap_err().code(), Code::NotFound);

    let line = dbosd.logged_with(&["dbosd::audit", "audit-cancel-1"]).await;
    let record: serde_json::Value = serde_json::from_str(&line).expect("a JSON log line");
    let fields = &record["fields"];
    assert_eq!(fields["principal"], "alpha", "{line}");
    assert_eq!(fields["rpc"], "CancelWorkflow", "{line}");
    assert_eq!(fields["targets"], r#"["beta-1"]"#, "{line}");
    assert_eq!(fields["result"], "NotFound", "{line}");
    assert_eq!(fields["request_id"], "audit-cancel-1", "{line}");
    let peer = fields["peer"].as_str().unwrap_or_default();
    assert!(peer.starts_with("127.0.0.1:"), "{line}");

    let line = dbosd.logged_with(&["dbosd::audit", "audit-denied-1"]).await;
    let record: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(record["fields"]["rpc"], "DeleteQueue", "{line}");
    assert_eq!(record["fields"]["result"], "PermissionDenied", "{line}");
    assert_eq!(record["fields"]["targets"], r#"["queue:q"]"#, "{line}");
    let line = dbosd
        .logged_with(&["dbosd::audit", "audit-no-token-1"])
        .await;
    let record: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(record["fields"]["principal"], "anonymous", "{line}");
    assert_eq!(record["fields"]["rpc"], "CancelWorkflow", "{line}");
    assert_eq!(record["fields"]["result"], "Unauthenticated", "{line}");
    let line = dbosd
        .logged_with(&["dbosd::audit", "audit-enqueue-1"])
        .await;
    assert!(
        line.contains(r#""principal":"ops""#) && line.contains(r#""result":"OK""#),
        "{line}"
    );

    // The read finished (its RPC line is logged after any audit record it could have had).
    dbosd.logged_with(&["rpc finished", "audit-read-1"]).await;
    let log = dbosd.log();
    assert!(
        audit_records(&log, "audit-read-1").is_empty(),
        "a read is not audited"
    );
    for id in [
        "audit-enqueue-1",
        "audit-cancel-1",
        "audit-denied-1",
        "audit-no-token-1",
    ] {
        assert_eq!(
            audit_records(&log, id).len(),
            1,
            "exactly one record for {id}"
        );
    }
}

#[tokio::test]
async fn audit_records_are_counted_by_rpc_and_result() {
    let (srv, _tokens) = server().await;
    enqueue_as_ops(&srv, "beta-1", "beta").await;
    let mut alpha = client_as(&srv.channel, ALPHA);
    let sample = |scrape: &str| {
        telemetry_sample(
            scrape,
            r#"dbosd_audit_records_total{rpc="SetWorkflowPriority",result="NotFound"}"#,
        )
        .unwrap_or(0.0)
    };
    let before = sample(&srv.scrape().await);
    let priority = dbosd::pb::SetWorkflowPriorityRequest {
        workflow_id: "beta-1".into(),
        priority: 3,
    };
    let refused = alpha.set_workflow_priority(priority).await;
    assert_eq!(refused.unwrap_err().code(), Code::NotFound);
    let after = sample(&srv.scrape().await);
    assert!(after >= before + 1.0, "{before} -> {after}");
    srv.stop().await;
}

#[tokio::test]
async fn tokens_never_reach_the_log_but_their_names_do() {
    let db = TestDb::new().await;
    let tokens = tokens_file();
    let json = ["--log-format", "json"];
    let dbosd = spawn_with_tokens(&db, &tokens, &json, &[("DBOSD_LOG", "debug")]).await;
    let get = || GetWorkflowRequest {
        workflow_id: "nope".into(),
        ..Default::default()
    };
    let mut good = client_as(&dbosd.channel, ALPHA);
    assert_eq!(
        good.get_workflow(get()).await.unwrap_err().code(),
        Code::NotFound
    );
    let mut bad = client_as(&dbosd.channel, "tok-not-ours-123");
    assert_eq!(
        bad.get_workflow(get()).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    dbosd
        .logged_with(&["rpc finished", r#""principal":"alpha""#])
        .await;
    dbosd
        .logged_with(&["rpc finished", r#""code":"Unauthenticated""#])
        .await;
    let log = dbosd.log();
    for secret in [ALPHA, OPS, "tok-not-ours-123", "Bearer"] {
        assert!(!log.contains(secret), "{secret} was logged:\n{log}");
    }
}
