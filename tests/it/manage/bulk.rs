//! Bulk management by filter without a worker: the selection a filter makes, dry runs that count it,
//! and the validation of the selection.

use dbosd::pb::{self, WorkflowActionOutcome as Outcome};
use tonic::Code;

use super::control::{ids, insert, outcomes};
use crate::harness::{assert_status, TestDb, TestServer};

#[tokio::test]
async fn bulk_calls_by_filter_count_on_a_dry_run_and_validate_their_selection() {
    let db = TestDb::new().await;
    let mut srv = TestServer::start_on(db, |s| s.application_name = Some("shop".into())).await;
    let db = srv.db.client().await;
    insert(&db, "mine", "ENQUEUED", "application_name = 'shop'").await;
    insert(&db, "unclaimed", "ENQUEUED", "").await;
    insert(&db, "theirs", "ENQUEUED", "application_name = 'other'").await;
    insert(&db, "done", "SUCCESS", "").await;
    let queue_q = || pb::WorkflowFilter {
        queue_names: vec!["q".into()],
        ..Default::default()
    };
    let dry = srv
        .client
        .resume_workflows(pb::ResumeWorkflowsRequest {
            filter: Some(queue_q()),
            dry_run: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (dry.selected_count, dry.changed_count),
        (3, 2),
        "the configured application and unclaimed rows, as ListWorkflows"
    );
    let queue: String = db
        .query_one(
            "SELECT queue_name FROM dbos.workflow_status WHERE workflow_uuid = 'mine'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(queue, "q", "the dry run was rolled back");
    let deleted = srv
        .client
        .delete_workflows(pb::DeleteWorkflowsRequest {
            filter: Some(queue_q()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        outcomes(&deleted.results),
        [
            ("done", Outcome::Deleted),
            ("mine", Outcome::Deleted),
            ("unclaimed", Outcome::Deleted),
        ]
    );

    let cancel =
        |ids: Vec<String>, filter: Option<pb::WorkflowFilter>| pb::CancelWorkflowsRequest {
            workflow_ids: ids,
            filter,
            ..Default::default()
        };
    for (req, field) in [
        (cancel(vec![], None), "workflow_ids"),
        (cancel(ids(&["theirs"]), Some(queue_q())), "filter"),
        (
            cancel(vec![], Some(pb::WorkflowFilter::default())),
            "filter",
        ),
        (cancel(ids(&["ok", " "]), None), "workflow_ids"),
        (
            cancel((0..10_001).map(|i| format!("w{i}")).collect(), None),
            "workflow_ids",
        ),
        (
            cancel(
                vec![],
                Some(pb::WorkflowFilter {
                    statuses: vec![42],
                    ..Default::default()
                }),
            ),
            "filter.statuses",
        ),
    ] {
        assert_status(
            srv.client.cancel_workflows(req).await,
            Code::InvalidArgument,
            field,
        );
    }

    // One transaction changes at most 10000 workflows: a broader filter changes none.
    db.execute(
        "INSERT INTO dbos.workflow_status (workflow_uuid, status, name, queue_name, application_name)
         SELECT 'many-' || i, 'ENQUEUED', 'echo', 'big', 'shop' FROM generate_series(1, 10001) AS i",
        &[],
    )
    .await
    .unwrap();
    let big = pb::WorkflowFilter {
        queue_names: vec!["big".into()],
        ..Default::default()
    };
    assert_status(
        srv.client.cancel_workflows(cancel(vec![], Some(big))).await,
        Code::FailedPrecondition,
        "more than 10000",
    );
    let cancelled: i64 = db
        .query_one(
            "SELECT count(*) FROM dbos.workflow_status WHERE status = 'CANCELLED'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(cancelled, 0);
    srv.stop().await;
}
