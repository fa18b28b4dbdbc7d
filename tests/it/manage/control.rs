//! Cancel, resume and delete without a worker: the rows each call writes (DBOS's exact effect),
//! per-workflow outcomes, descendants, bulk selections, dry runs and every documented error.

use dbosd::pb::{self, WorkflowActionOutcome as Outcome, WorkflowStatus};
use tonic::Code;

use crate::harness::{assert_status, TestServer};

/// Inserts a workflow row as a worker or client would have left it, then applies `sets`
/// (an SQL `SET` list, may be empty) to it.
pub async fn insert(db: &tokio_postgres::Client, id: &str, status: &str, sets: &str) {
    db.execute(
        "INSERT INTO dbos.workflow_status (workflow_uuid, status, name, queue_name, serialization)
         VALUES ($1, $2, 'echo', 'q', 'portable_json')",
        &[&id, &status],
    )
    .await
    .unwrap();
    if !sets.is_empty() {
        db.execute(
            &format!("UPDATE dbos.workflow_status SET {sets} WHERE workflow_uuid = $1"),
            &[&id],
        )
        .await
        .unwrap();
    }
}

/// The whole status row as JSON text, to show a row was left unchanged.
pub async fn row_json(db: &tokio_postgres::Client, id: &str) -> String {
    db.query_one(
        "SELECT row_to_json(ws)::text FROM dbos.workflow_status ws WHERE workflow_uuid = $1",
        &[&id],
    )
    .await
    .unwrap()
    .get(0)
}

/// (workflow id, outcome) pairs of a result list.
pub fn outcomes(results: &[pb::WorkflowActionResult]) -> Vec<(&str, Outcome)> {
    results
        .iter()
        .map(|r| (r.workflow_id.as_str(), r.outcome()))
        .collect()
}

pub(super) fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn cancel_writes_the_dbos_cancel_and_reports_each_outcome() {
    let mut srv = TestServer::start().await;
    let db = srv.db.client().await;
    insert(
        &db,
        "p",
        "PENDING",
        "owner_xid = 'tok', deduplication_id = 'd1', started_at_epoch_ms = 5, executor_id = 'ex', updated_at = 1",
    )
    .await;
    insert(&db, "e", "ENQUEUED", "").await;
    insert(&db, "d", "DELAYED", "delay_until_epoch_ms = 99999999999999").await;
    insert(&db, "s", "SUCCESS", "completed_at = 7").await;
    insert(&db, "x", "ERROR", "completed_at = 7").await;
    insert(&db, "c", "CANCELLED", "queue_name = NULL, completed_at = 7").await;
    insert(
        &db,
        "m",
        "MAX_RECOVERY_ATTEMPTS_EXCEEDED",
        "queue_name = NULL",
    )
    .await;
    let mut before = Vec::new();
    for id in ["s", "x", "c"] {
        before.push(row_json(&db, id).await);
    }

    let resp = srv
        .client
        .cancel_workflows(pb::CancelWorkflowsRequest {
            workflow_ids: ids(&["p", "e", "d", "s", "x", "c", "m", "nope", "p"]),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        outcomes(&resp.results),
        [
            ("p", Outcome::Cancelled),
            ("e", Outcome::Cancelled),
            ("d", Outcome::Cancelled),
            ("s", Outcome::AlreadyFinished),
            ("x", Outcome::AlreadyFinished),
            ("c", Outcome::AlreadyCancelled),
            ("m", Outcome::Cancelled),
            ("nope", Outcome::NotFound),
        ],
        "request order, duplicates once"
    );
    assert_eq!((resp.selected_count, resp.changed_count), (7, 4));
    let p = &resp.results[0];
    assert_eq!(
        (p.previous_status(), p.status()),
        (WorkflowStatus::Pending, WorkflowStatus::Cancelled)
    );
    let nope = &resp.results[7];
    assert_eq!(nope.previous_status(), WorkflowStatus::Unspecified);

    let row = db
        .query_one(
            "SELECT status, owner_xid, queue_name, deduplication_id, started_at_epoch_ms, completed_at,
                    updated_at, executor_id
             FROM dbos.workflow_status WHERE workflow_uuid = 'p'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "CANCELLED");
    for col in 1..=3 {
        assert_eq!(
            row.get::<_, Option<String>>(col),
            None,
            "column {col} cleared"
        );
    }
    assert_eq!(row.get::<_, Option<i64>>(4), None);
    let completed: i64 = row.get(5);
    assert!(
        completed > 1_700_000_000_000,
        "completed_at is the database clock"
    );
    assert_eq!(
        row.get::<_, i64>(6),
        completed,
        "updated_at = completed_at = now"
    );
    assert_eq!(row.get::<_, String>(7), "ex", "the executor is kept");
    for (id, before) in ["s", "x", "c"].iter().zip(before) {
        assert_eq!(row_json(&db, id).await, before, "{id} is unchanged");
    }

    let single = |id: &str| pb::CancelWorkflowRequest {
        workflow_id: id.into(),
        cancel_children: false,
    };
    let finished = srv
        .client
        .cancel_workflow(single("s"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(finished.result.unwrap().outcome(), Outcome::AlreadyFinished);
    assert!(finished.descendants.is_empty());
    assert_status(
        srv.client.cancel_workflow(single("nope")).await,
        Code::NotFound,
        "nope",
    );
    assert_status(
        srv.client.cancel_workflow(single(" ")).await,
        Code::InvalidArgument,
        "workflow_id",
    );
    srv.stop().await;
}

#[tokio::test]
async fn children_are_cancelled_and_deleted_level_by_level() {
    let mut srv = TestServer::start().await;
    let db = srv.db.client().await;
    insert(&db, "root", "PENDING", "").await;
    insert(&db, "c2", "SUCCESS", "parent_workflow_id = 'root'").await;
    insert(&db, "c1", "ENQUEUED", "parent_workflow_id = 'root'").await;
    insert(&db, "g1", "PENDING", "parent_workflow_id = 'c1'").await;
    insert(&db, "other", "PENDING", "").await;

    let alone = srv
        .client
        .cancel_workflow(pb::CancelWorkflowRequest {
            workflow_id: "c1".into(),
            cancel_children: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(alone.descendants.is_empty());
    let status = |id: &'static str| {
        let db = &db;
        async move {
            db.query_one(
                "SELECT status FROM dbos.workflow_status WHERE workflow_uuid = $1",
                &[&id],
            )
            .await
            .unwrap()
            .get::<_, String>(0)
        }
    };
    assert_eq!(status("g1").await, "PENDING");

    let tree = srv
        .client
        .cancel_workflow(pb::CancelWorkflowRequest {
            workflow_id: "root".into(),
            cancel_children: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(tree.result.unwrap().outcome(), Outcome::Cancelled);
    assert_eq!(
        outcomes(&tree.descendants),
        [
            ("c1", Outcome::AlreadyCancelled),
            ("c2", Outcome::AlreadyFinished),
            ("g1", Outcome::Cancelled),
        ],
        "breadth first"
    );
    let parents: Vec<&str> = tree
        .descendants
        .iter()
        .map(|d| d.parent_workflow_id.as_str())
        .collect();
    assert_eq!(parents, ["root", "root", "c1"]);
    assert_eq!(status("other").await, "PENDING");

    let dry = srv
        .client
        .delete_workflows(pb::DeleteWorkflowsRequest {
            workflow_ids: ids(&["root"]),
            delete_children: true,
            dry_run: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((dry.selected_count, dry.changed_count), (4, 4));
    assert!(dry.results.is_empty());
    assert_eq!(
        status("g1").await,
        "CANCELLED",
        "the dry run deleted nothing"
    );
    let deleted = srv
        .client
        .delete_workflow(pb::DeleteWorkflowRequest {
            workflow_id: "root".into(),
            delete_children: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(deleted.descendants.len(), 3);
    let left: Vec<String> = db
        .query("SELECT workflow_uuid FROM dbos.workflow_status", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(left, ["other"]);
    srv.stop().await;
}

#[tokio::test]
async fn resume_writes_the_dbos_resume_and_reports_each_outcome() {
    let mut srv = TestServer::start().await;
    let db = srv.db.client().await;
    insert(
        &db,
        "e",
        "ENQUEUED",
        "priority = 4, application_version = 'v1'",
    )
    .await;
    insert(&db, "d", "DELAYED", "delay_until_epoch_ms = 99999999999999").await;
    insert(
        &db,
        "p",
        "PENDING",
        "owner_xid = 'tok', deduplication_id = 'd1', started_at_epoch_ms = 5, recovery_attempts = 3,
         workflow_deadline_epoch_ms = 9, executor_id = 'ex', application_version = 'v1'",
    )
    .await;
    insert(&db, "c", "CANCELLED", "queue_name = NULL, completed_at = 7").await;
    insert(
        &db,
        "m",
        "MAX_RECOVERY_ATTEMPTS_EXCEEDED",
        "queue_name = NULL",
    )
    .await;
    insert(&db, "s", "SUCCESS", "completed_at = 7").await;
    let success = row_json(&db, "s").await;

    let resp = srv
        .client
        .resume_workflows(pb::ResumeWorkflowsRequest {
            workflow_ids: ids(&["e", "d", "p", "c", "m", "s", "nope"]),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        outcomes(&resp.results),
        [
            ("e", Outcome::StartedNow),
            ("d", Outcome::StartedNow),
            ("p", Outcome::Resumed),
            ("c", Outcome::Resumed),
            ("m", Outcome::Resumed),
            ("s", Outcome::AlreadyFinished),
            ("nope", Outcome::NotFound),
        ]
    );
    assert_eq!((resp.selected_count, resp.changed_count), (6, 5));
    assert!(resp.results[..5]
        .iter()
        .all(|r| r.status() == WorkflowStatus::Enqueued));
    let row = db
        .query_one(
            "SELECT status, owner_xid, queue_name, recovery_attempts, workflow_deadline_epoch_ms,
                    deduplication_id, started_at_epoch_ms, completed_at, application_version
             FROM dbos.workflow_status WHERE workflow_uuid = 'p'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "ENQUEUED");
    assert_eq!(row.get::<_, Option<String>>(1), None);
    assert_eq!(row.get::<_, String>(2), "_dbos_internal_queue");
    assert_eq!(row.get::<_, i64>(3), 0);
    for col in [4, 6, 7] {
        assert_eq!(row.get::<_, Option<i64>>(col), None, "column {col} cleared");
    }
    assert_eq!(row.get::<_, Option<String>>(5), None);
    assert_eq!(row.get::<_, String>(8), "v1", "resume keeps the version");
    let completed: Option<i64> = db
        .query_one(
            "SELECT completed_at FROM dbos.workflow_status WHERE workflow_uuid = 'c'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(completed, None);
    assert_eq!(
        row_json(&db, "s").await,
        success,
        "a finished row is unchanged"
    );

    // Onto a named queue a waiting workflow is only moved there, not started now.
    insert(&db, "e2", "ENQUEUED", "").await;
    let moved = srv
        .client
        .resume_workflow(pb::ResumeWorkflowRequest {
            workflow_id: "e2".into(),
            queue_name: Some("q2".into()),
        })
        .await
        .unwrap()
        .into_inner()
        .result
        .unwrap();
    assert_eq!(moved.outcome(), Outcome::Resumed);
    let queue: String = db
        .query_one(
            "SELECT queue_name FROM dbos.workflow_status WHERE workflow_uuid = 'e2'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(queue, "q2");

    let single = |id: &str, queue: Option<&str>| pb::ResumeWorkflowRequest {
        workflow_id: id.into(),
        queue_name: queue.map(str::to_owned),
    };
    let finished = srv.client.resume_workflow(single("s", None)).await.unwrap();
    assert_eq!(
        finished.into_inner().result.unwrap().outcome(),
        Outcome::AlreadyFinished
    );
    assert_status(
        srv.client.resume_workflow(single("nope", None)).await,
        Code::NotFound,
        "nope",
    );
    assert_status(
        srv.client.resume_workflow(single("", None)).await,
        Code::InvalidArgument,
        "workflow_id",
    );
    assert_status(
        srv.client
            .resume_workflow(single("c", Some("_dbos_secret")))
            .await,
        Code::InvalidArgument,
        "queue_name",
    );
    srv.stop().await;
}
