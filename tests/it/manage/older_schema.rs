//! Management on a DBOS schema from before the payload tables, attributes, delays and owner columns:
//! cancel, resume, fork and delete still write what that schema's DBOS writes.

use dbosd::pb::{self, WorkflowActionOutcome as Outcome};
use tonic::Code;

use super::fork::{fork, texts};
use crate::harness::{assert_status, TestDb, TestServer};

#[tokio::test]
async fn management_runs_on_an_older_schema() {
    // A DBOS schema from before the payload tables, attributes, delays and owner columns.
    let db = TestDb::new().await;
    db.client()
        .await
        .batch_execute(
            "DROP TABLE dbos.workflow_input; DROP TABLE dbos.workflow_output;
             ALTER TABLE dbos.workflow_status DROP COLUMN creator_xid, DROP COLUMN application_name,
               DROP COLUMN attributes, DROP COLUMN delay_until_epoch_ms, DROP COLUMN was_forked_from,
               DROP COLUMN completed_at;
             ALTER TABLE dbos.operation_outputs DROP COLUMN application_name, DROP COLUMN retention_timestamp;
             UPDATE dbos.dbos_migrations SET version = 15;",
        )
        .await
        .unwrap();
    let mut srv = TestServer::start_on(db, |_| {}).await;
    let db = srv.db.client().await;
    let mut req = crate::harness::enqueue_req("multi_step", "q", vec![serde_json::json!(2)]);
    req.workflow_id = Some("old".into());
    srv.client.enqueue_workflow(req).await.unwrap();
    for f in [1, 2] {
        db.execute(
            "INSERT INTO dbos.operation_outputs (workflow_uuid, function_id, function_name, output)
             VALUES ('old', $1, 'step_value', 'x')",
            &[&f],
        )
        .await
        .unwrap();
    }
    let cancelled = srv
        .client
        .cancel_workflow(pb::CancelWorkflowRequest {
            workflow_id: "old".into(),
            cancel_children: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cancelled.result.unwrap().outcome(), Outcome::Cancelled);
    let resumed = srv
        .client
        .resume_workflow(pb::ResumeWorkflowRequest {
            workflow_id: "old".into(),
            queue_name: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resumed.result.unwrap().outcome(), Outcome::Resumed);
    let mut req = fork("old");
    req.start_step = Some(2);
    req.forked_workflow_id = Some("old-fork".into());
    srv.client.fork_workflow(req).await.unwrap();
    assert_eq!(
        texts(
            &db,
            "SELECT inputs || '|' || (SELECT count(*) FROM dbos.operation_outputs o WHERE o.workflow_uuid = 'old-fork')
             FROM dbos.workflow_status WHERE workflow_uuid = 'old-fork'"
        )
        .await,
        [r#"{"positionalArgs":[2],"namedArgs":{}}|1"#],
        "inline inputs and the step below 2 are copied"
    );
    let steps = srv
        .client
        .list_workflow_steps(pb::ListWorkflowStepsRequest {
            workflow_id: "old-fork".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(steps.steps.len(), 1);
    let priority = srv
        .client
        .set_workflow_priority(pb::SetWorkflowPriorityRequest {
            workflow_id: "old-fork".into(),
            priority: 3,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(priority.result.unwrap().outcome(), Outcome::Updated);
    assert_status(
        srv.client
            .set_workflow_delay(pb::SetWorkflowDelayRequest {
                workflow_id: "old".into(),
                until: Some(pb::set_workflow_delay_request::Until::Delay(
                    prost_types::Duration::default(),
                )),
            })
            .await,
        Code::FailedPrecondition,
        "delay",
    );
    assert_status(
        srv.client
            .update_workflow_attributes(pb::UpdateWorkflowAttributesRequest {
                workflow_id: "old".into(),
                attributes: None,
                merge: false,
            })
            .await,
        Code::FailedPrecondition,
        "attributes",
    );
    let deleted = srv
        .client
        .delete_workflows(pb::DeleteWorkflowsRequest {
            workflow_ids: vec!["old".into(), "old-fork".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(deleted.changed_count, 2);
    assert!(
        texts(&db, "SELECT workflow_uuid FROM dbos.operation_outputs")
            .await
            .is_empty()
    );
    srv.stop().await;
}
