//! Bulk management and fan-out never touch another application's rows: by ids (reported per
//! workflow exactly as an unknown id), by filter, through children, and through forks. Checked in
//! the database, not only in the answers.

use dbosd::pb::{
    CancelWorkflowRequest, CancelWorkflowsRequest, DeleteWorkflowsRequest, ForkWorkflowsRequest,
    SendMessageRequest, WorkflowFilter,
};
use serde_json::json;

use crate::auth::setup::{client_as, enqueue_as_ops, server, stored_status, ALPHA};
use crate::harness::pv;

#[tokio::test]
async fn bulk_calls_by_ids_report_a_foreign_workflow_as_unknown_and_leave_it_alone() {
    let (srv, _tokens) = server().await;
    enqueue_as_ops(&srv, "a-1", "alpha").await;
    enqueue_as_ops(&srv, "b-1", "beta").await;
    let mut alpha = client_as(&srv.channel, ALPHA);
    let cancelled = alpha
        .cancel_workflows(CancelWorkflowsRequest {
            workflow_ids: vec!["a-1".into(), "b-1".into(), "nope-1".into()],
            ..Default::default()
        })
        .await
        .expect("a bulk call over foreign ids is not refused")
        .into_inner();
    let results: Vec<_> = cancelled.results.iter().collect();
    assert_eq!(results.len(), 3, "{cancelled:?}");
    let (foreign, unknown) = (results[1], results[2]);
    assert_eq!(foreign.workflow_id, "b-1");
    assert_eq!(
        (foreign.outcome, foreign.previous_status, foreign.status),
        (unknown.outcome, unknown.previous_status, unknown.status),
        "beta's workflow reads as an unknown id: {foreign:?} vs {unknown:?}"
    );
    assert_eq!(
        unknown.outcome,
        dbosd::pb::WorkflowActionOutcome::NotFound as i32
    );
    assert_eq!(cancelled.changed_count, 1);
    assert_eq!(
        stored_status(&srv.db, "a-1").await.as_deref(),
        Some("CANCELLED")
    );
    assert_eq!(
        stored_status(&srv.db, "b-1").await.as_deref(),
        Some("ENQUEUED")
    );

    let forked = alpha
        .fork_workflows(ForkWorkflowsRequest {
            workflow_ids: vec!["b-1".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(forked.changed_count, 0, "{forked:?}");
    let forks = srv
        .db
        .count("SELECT count(*) FROM dbos.workflow_status WHERE forked_from = 'b-1'")
        .await;
    assert_eq!(forks, 0);
    srv.stop().await;
}

#[tokio::test]
async fn bulk_calls_by_filter_never_touch_foreign_rows() {
    let (srv, _tokens) = server().await;
    for (id, app) in [
        ("a-1", "alpha"),
        ("a-2", "alpha"),
        ("b-1", "beta"),
        ("b-2", "beta"),
    ] {
        enqueue_as_ops(&srv, id, app).await;
    }
    let mut alpha = client_as(&srv.channel, ALPHA);
    let everything = || {
        Some(WorkflowFilter {
            workflow_ids: vec!["a-1".into(), "a-2".into(), "b-1".into(), "b-2".into()],
            ..Default::default()
        })
    };
    let cancelled = alpha
        .cancel_workflows(CancelWorkflowsRequest {
            filter: everything(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cancelled.selected_count, 2, "{cancelled:?}");
    let deleted = alpha
        .delete_workflows(DeleteWorkflowsRequest {
            filter: everything(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(deleted.selected_count, 2, "{deleted:?}");
    assert_eq!(
        srv.db.workflow_ids().await,
        ["b-1", "b-2"],
        "alpha's rows are gone, beta's are all there"
    );
    for id in ["b-1", "b-2"] {
        assert_eq!(
            stored_status(&srv.db, id).await.as_deref(),
            Some("ENQUEUED")
        );
    }
    srv.stop().await;
}

#[tokio::test]
async fn cancelling_with_children_skips_a_foreign_child() {
    let (srv, _tokens) = server().await;
    for (id, app) in [
        ("a-parent", "alpha"),
        ("a-child", "alpha"),
        ("b-child", "beta"),
        ("a-grandchild", "alpha"),
    ] {
        enqueue_as_ops(&srv, id, app).await;
    }
    // A beta child of alpha's workflow, and an alpha grandchild reached only through it.
    let db = srv.db.client().await;
    db.execute(
        "UPDATE dbos.workflow_status SET parent_workflow_id = CASE workflow_uuid \
           WHEN 'a-grandchild' THEN 'b-child' ELSE 'a-parent' END \
         WHERE workflow_uuid IN ('a-child', 'b-child', 'a-grandchild')",
        &[],
    )
    .await
    .unwrap();
    let mut alpha = client_as(&srv.channel, ALPHA);
    let cancelled = alpha
        .cancel_workflow(CancelWorkflowRequest {
            workflow_id: "a-parent".into(),
            cancel_children: true,
        })
        .await
        .unwrap()
        .into_inner();
    let descendants: Vec<&str> = cancelled
        .descendants
        .iter()
        .map(|d| d.workflow_id.as_str())
        .collect();
    assert_eq!(descendants, ["a-child"], "{cancelled:?}");
    assert_eq!(
        stored_status(&srv.db, "a-child").await.as_deref(),
        Some("CANCELLED")
    );
    assert_eq!(
        stored_status(&srv.db, "b-child").await.as_deref(),
        Some("ENQUEUED")
    );
    assert_eq!(
        stored_status(&srv.db, "a-grandchild").await.as_deref(),
        Some("ENQUEUED"),
        "not walked to through beta's workflow"
    );
    srv.stop().await;
}

#[tokio::test]
async fn sending_to_forks_skips_a_foreign_fork() {
    let (srv, _tokens) = server().await;
    for (id, app) in [("a-src", "alpha"), ("a-fork", "alpha"), ("b-fork", "beta")] {
        enqueue_as_ops(&srv, id, app).await;
    }
    let db = srv.db.client().await;
    db.execute(
        "UPDATE dbos.workflow_status SET forked_from = 'a-src' \
         WHERE workflow_uuid IN ('a-fork', 'b-fork')",
        &[],
    )
    .await
    .unwrap();
    let mut alpha = client_as(&srv.channel, ALPHA);
    let sent = alpha
        .send_message(SendMessageRequest {
            destination_id: "a-src".into(),
            message: Some(pv(json!("hi"))),
            send_to_forks: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sent.fork_ids, ["a-fork"], "{sent:?}");
    let to_beta = srv
        .db
        .count("SELECT count(*) FROM dbos.notifications WHERE destination_uuid = 'b-fork'")
        .await;
    assert_eq!(to_beta, 0);
    srv.stop().await;
}
