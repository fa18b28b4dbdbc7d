//! Scope escapes: alpha's token reaching beta's rows through ids, prefixes, filters, dry-run counts,
//! watches, batches and fork history. Every answer is checked to hold nothing of beta's, and the
//! database to hold no change made through beta's rows.

use std::time::Duration;

use dbosd::pb::{
    CancelWorkflowsRequest, DeleteWorkflowsRequest, ForkWorkflowRequest,
    GetWorkflowAggregatesRequest, ResumeWorkflowsRequest, SendMessageRequest, SendMessagesRequest,
    WatchWorkflowsRequest, WorkflowFilter, WorkflowGroupBy,
};
use serde_json::json;
use tonic::Code;

use super::{assert_alive, SENTINEL};
use crate::auth::setup::{client_as, enqueue_as_ops, server, ALPHA, OPS};
use crate::harness::{pv, TestServer, WAIT};

/// A server with the sentinel, alpha's `a-1` and `a-2` and beta's `b-1` and `b-2`, all ENQUEUED.
async fn two_apps() -> (TestServer, tempfile::NamedTempFile) {
    let (srv, tokens) = server().await;
    enqueue_as_ops(&srv, SENTINEL, "alpha").await;
    for (id, app) in [
        ("a-1", "alpha"),
        ("a-2", "alpha"),
        ("b-1", "beta"),
        ("b-2", "beta"),
    ] {
        enqueue_as_ops(&srv, id, app).await;
    }
    (srv, tokens)
}

/// Records step `function_id` of `id`, a step that started child workflow `child`.
async fn add_child_step(srv: &TestServer, id: &str, function_id: i32, child: Option<&str>) {
    srv.db
        .client()
        .await
        .execute(
            "INSERT INTO dbos.operation_outputs (workflow_uuid, function_id, function_name, output, \
                 serialization, child_workflow_id, started_at_epoch_ms, completed_at_epoch_ms) \
             VALUES ($1, $2, 'start_child', NULL, 'portable_json', $3, 1, 2)",
            &[&id, &function_id, &child],
        )
        .await
        .expect("record a step");
}

#[tokio::test]
async fn a_fork_cannot_point_its_history_at_another_applications_workflow() {
    let (srv, _tokens) = two_apps().await;
    add_child_step(&srv, "a-1", 1, Some("a-child")).await;
    add_child_step(&srv, "a-1", 2, None).await;
    let mut alpha = client_as(&srv.channel, ALPHA);
    let fork = |child: &str, fork_id: &str| ForkWorkflowRequest {
        workflow_id: "a-1".into(),
        start_step: Some(2),
        forked_workflow_id: Some(fork_id.into()),
        replacement_children: [("a-child".to_owned(), child.to_owned())].into(),
        ..Default::default()
    };
    // Replaying the fork would await beta's workflow as its child and hand its output to alpha's
    // code: a child outside the scope is answered as an unknown one, and nothing is written.
    let foreign = alpha.fork_workflow(fork("b-1", "f-foreign")).await;
    let unknown = alpha.fork_workflow(fork("nope-1", "f-unknown")).await;
    crate::auth::setup::same_as_unknown(
        "ForkWorkflow replacement_children",
        Code::NotFound,
        (foreign, "b-1"),
        (unknown, "nope-1"),
    );
    let db = srv.db.client().await;
    let written = db
        .query_one(
            "SELECT (SELECT count(*) FROM dbos.workflow_status WHERE workflow_uuid LIKE 'f-%') + \
                    (SELECT count(*) FROM dbos.operation_outputs WHERE child_workflow_id = 'b-1')",
            &[],
        )
        .await
        .unwrap()
        .get::<_, i64>(0);
    assert_eq!(written, 0, "a refused fork writes nothing");

    // The same fork onto alpha's own workflow goes through.
    let own = alpha
        .fork_workflow(fork("a-2", "f-own"))
        .await
        .expect("a child inside the scope may replace")
        .into_inner();
    assert_eq!(own.forked_workflow_id, "f-own");
    let copied: Option<String> = db
        .query_one(
            "SELECT child_workflow_id FROM dbos.operation_outputs \
             WHERE workflow_uuid = 'f-own' AND function_id = 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(copied.as_deref(), Some("a-2"));
    // ops may point a fork anywhere, as before.
    client_as(&srv.channel, OPS)
        .fork_workflow(fork("b-1", "f-ops"))
        .await
        .expect("an unrestricted token replaces freely");
    assert_alive(&srv.channel).await;
}

#[tokio::test]
async fn dry_run_counts_and_filters_never_count_another_applications_rows() {
    let (srv, _tokens) = two_apps().await;
    let mut alpha = client_as(&srv.channel, ALPHA);
    let filters = [
        WorkflowFilter {
            application_names: vec!["beta".into()],
            ..Default::default()
        },
        WorkflowFilter {
            workflow_id_prefixes: vec!["b-".into()],
            ..Default::default()
        },
        WorkflowFilter {
            workflow_ids: vec!["b-1".into(), "b-2".into()],
            ..Default::default()
        },
        WorkflowFilter {
            application_names: vec!["alpha".into(), "beta".into()],
            workflow_id_prefixes: vec!["a-".into(), "b-".into()],
            ..Default::default()
        },
    ];
    for filter in filters {
        let own = filter.application_names.contains(&"alpha".to_owned()) as i64 * 2;
        let cancel = alpha
            .cancel_workflows(CancelWorkflowsRequest {
                filter: Some(filter.clone()),
                dry_run: true,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let resume = alpha
            .resume_workflows(ResumeWorkflowsRequest {
                filter: Some(filter.clone()),
                dry_run: true,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let delete = alpha
            .delete_workflows(DeleteWorkflowsRequest {
                filter: Some(filter.clone()),
                dry_run: true,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        for (what, selected, results) in [
            ("cancel", cancel.selected_count, &cancel.results),
            ("resume", resume.selected_count, &resume.results),
            ("delete", delete.selected_count, &delete.results),
        ] {
            assert_eq!(selected, own, "{what} dry run over {filter:?}: {results:?}");
            assert!(
                results.iter().all(|r| !r.workflow_id.starts_with("b-")),
                "{what} dry run names beta's rows: {results:?}"
            );
        }
        let listed = alpha
            .list_workflows(crate::harness::list_req(filter.clone()))
            .await
            .unwrap()
            .into_inner();
        assert!(
            listed
                .workflows
                .iter()
                .all(|w| !w.workflow_id.starts_with("b-")),
            "{listed:?}"
        );
        let aggregates = alpha
            .get_workflow_aggregates(GetWorkflowAggregatesRequest {
                filter: Some(filter.clone()),
                group_by: vec![WorkflowGroupBy::QueueName as i32],
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let counted: i64 = aggregates.aggregates.iter().map(|a| a.count).sum();
        assert_eq!(counted, own, "aggregates over {filter:?}: {aggregates:?}");
    }
    assert_alive(&srv.channel).await;
}

#[tokio::test]
async fn a_watch_on_another_applications_ids_and_prefixes_sees_only_its_own_changes() {
    let (srv, _tokens) = two_apps().await;
    let mut alpha = client_as(&srv.channel, ALPHA);
    let mut stream = alpha
        .watch_workflows(WatchWorkflowsRequest {
            workflow_ids: vec!["b-1".into(), "a-1".into()],
            workflow_id_prefixes: vec!["b-".into(), "a-".into()],
            application_names: vec!["beta".into(), "alpha".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut ops = client_as(&srv.channel, OPS);
    // Beta's changes first, then alpha's: alpha must see its own change and nothing before it.
    for id in ["b-1", "b-2", "a-1"] {
        ops.cancel_workflow(dbosd::pb::CancelWorkflowRequest {
            workflow_id: id.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    }
    loop {
        let next = tokio::time::timeout(WAIT, stream.message())
            .await
            .expect("alpha's change arrives")
            .expect("the watch keeps going")
            .expect("an update");
        let id = next.workflow.map(|w| w.workflow_id).unwrap_or_default();
        assert!(!id.starts_with("b-"), "alpha's watch delivered beta's {id}");
        if id == "a-1" && !next.replayed {
            break;
        }
    }
    // Nothing of beta's trails behind it.
    let more = tokio::time::timeout(Duration::from_millis(300), stream.message()).await;
    if let Ok(Ok(Some(next))) = more {
        let id = next.workflow.map(|w| w.workflow_id).unwrap_or_default();
        assert!(!id.starts_with("b-"), "alpha's watch delivered beta's {id}");
    }
    assert_alive(&srv.channel).await;
}

#[tokio::test]
async fn a_batch_of_sends_naming_a_foreign_workflow_writes_nothing() {
    let (srv, _tokens) = two_apps().await;
    let mut alpha = client_as(&srv.channel, ALPHA);
    let send = |to: &str| SendMessageRequest {
        destination_id: to.into(),
        topic: Some("t".into()),
        message: Some(pv(json!("hello"))),
        ..Default::default()
    };
    let foreign = alpha
        .send_messages(SendMessagesRequest {
            messages: vec![send("a-1"), send("b-1")],
        })
        .await;
    let unknown = alpha
        .send_messages(SendMessagesRequest {
            messages: vec![send("a-1"), send("nope-1")],
        })
        .await;
    crate::auth::setup::same_as_unknown(
        "SendMessages",
        Code::NotFound,
        (foreign, "b-1"),
        (unknown, "nope-1"),
    );
    let delivered = srv
        .db
        .count("SELECT count(*) FROM dbos.notifications")
        .await;
    assert_eq!(
        delivered, 0,
        "a refused batch delivers none of its messages"
    );
    // send_to_forks from an own workflow whose fork is beta's skips it (as authz_bulk checks);
    // here: naming beta's workflow directly with send_to_forks is an unknown id.
    let mut to_forks = send("b-1");
    to_forks.send_to_forks = true;
    let err = alpha.send_message(to_forks).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    assert!(!err.message().contains("beta"), "{err:?}");
    assert_alive(&srv.channel).await;
}

#[tokio::test]
async fn enqueueing_as_another_application_or_onto_its_dedup_ids_reveals_nothing() {
    let (srv, _tokens) = two_apps().await;
    let mut alpha = client_as(&srv.channel, ALPHA);
    let mut spoof = crate::harness::enqueue_req("wf", "q", vec![]);
    spoof.application_name = Some("beta".into());
    let err = alpha.enqueue_workflow(spoof).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");

    let mut beta_dedup = crate::harness::enqueue_req("wf", "q", vec![]);
    beta_dedup.workflow_id = Some("b-dedup".into());
    beta_dedup.application_name = Some("beta".into());
    beta_dedup.deduplication_id = Some("d-1".into());
    client_as(&srv.channel, OPS)
        .enqueue_workflow(beta_dedup)
        .await
        .unwrap();
    for policy in [
        dbosd::pb::DeduplicationPolicy::Reject,
        dbosd::pb::DeduplicationPolicy::ReturnExisting,
    ] {
        let mut mine = crate::harness::enqueue_req("wf", "q", vec![]);
        mine.deduplication_id = Some("d-1".into());
        mine.deduplication_policy = policy as i32;
        match alpha.enqueue_workflow(mine).await {
            Ok(resp) => {
                let resp = resp.into_inner();
                assert_ne!(
                    resp.workflow_id, "b-dedup",
                    "{policy:?} handed out beta's id"
                );
            }
            Err(err) => assert!(
                !err.message().contains("b-dedup") && !err.message().contains("beta"),
                "{policy:?}: {err:?}"
            ),
        }
    }
    assert_alive(&srv.channel).await;
}

#[tokio::test]
async fn a_watch_resumed_from_the_beginning_of_time_replays_only_its_own_rows() {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    let (srv, _tokens) = two_apps().await;
    let mut alpha = client_as(&srv.channel, ALPHA);
    // A forged cursor before every transition: the replay is everything alpha may see, no more.
    let cursor = URL_SAFE_NO_PAD.encode(r#"{"u":-9223372036854775808,"i":""}"#);
    let mut stream = alpha
        .watch_workflows(WatchWorkflowsRequest {
            cursor,
            ..Default::default()
        })
        .await
        .expect("a forged but well-formed cursor is a position")
        .into_inner();
    let mut replayed = Vec::new();
    while replayed.len() < 3 {
        let next = tokio::time::timeout(WAIT, stream.message())
            .await
            .expect("the replay arrives")
            .unwrap()
            .expect("an update");
        replayed.push(next.workflow.map(|w| w.workflow_id).unwrap_or_default());
    }
    replayed.sort();
    assert_eq!(replayed, ["a-1", "a-2", SENTINEL]);
    let more = tokio::time::timeout(Duration::from_millis(300), stream.message()).await;
    if let Ok(Ok(Some(next))) = more {
        panic!("replayed beyond alpha's rows: {next:?}");
    }
    assert_alive(&srv.channel).await;
}

#[tokio::test]
async fn a_batch_enqueue_with_one_foreign_workflow_writes_none() {
    let (srv, _tokens) = two_apps().await;
    let mut alpha = client_as(&srv.channel, ALPHA);
    let mut own = super::leaks::alpha_enqueue(vec![]);
    own.workflow_id = Some("a-new".into());
    let mut foreign = crate::harness::enqueue_req("wf", "q", vec![]);
    foreign.workflow_id = Some("b-new".into());
    foreign.application_name = Some("beta".into());
    let mut taken = super::leaks::alpha_enqueue(vec![]);
    taken.workflow_id = Some("b-1".into());
    for batch in [vec![own.clone(), foreign], vec![own, taken]] {
        let answer = alpha
            .enqueue_workflows(dbosd::pb::EnqueueWorkflowsRequest { workflows: batch })
            .await;
        if let Err(status) = &answer {
            // The message may name the application alpha itself asked for, never b-1's owner.
            let theirs = status.message().replace("application beta", "");
            assert!(!theirs.contains("beta"), "{status:?}");
        }
        let written = srv
            .db
            .count("SELECT count(*) FROM dbos.workflow_status WHERE workflow_uuid IN ('a-new', 'b-new')")
            .await;
        let answer = answer.map(|r| r.into_inner());
        assert!(
            written == 0
                || matches!(&answer, Ok(r) if r.results.iter().any(|x| x.workflow_id == "a-new")),
            "{answer:?}"
        );
        assert_eq!(
            srv.db
                .count("SELECT count(*) FROM dbos.workflow_status WHERE workflow_uuid = 'b-new'")
                .await,
            0
        );
    }
    let b1 = crate::auth::setup::stored_status(&srv.db, "b-1").await;
    assert_eq!(b1.as_deref(), Some("ENQUEUED"));
    assert_alive(&srv.channel).await;
}
