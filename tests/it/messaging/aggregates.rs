//! GetWorkflowAggregates and GetStepAggregates against the tables, and the owner and step RPCs on a
//! schema that predates their columns.

use dbosd::pb;
use tonic::Code;

use crate::harness::{assert_status, TestServer};

#[tokio::test]
async fn aggregates_count_workflows_and_steps_by_group() {
    let mut srv = TestServer::start().await;
    srv.db
        .client()
        .await
        .batch_execute(
            "INSERT INTO dbos.workflow_status (workflow_uuid, status, name, queue_name, created_at,
                 started_at_epoch_ms, completed_at, application_name) VALUES
                 ('a1', 'SUCCESS', 'alpha', 'q1', 1000, 1100, 1500, NULL),
                 ('a2', 'SUCCESS', 'alpha', 'q1', 2500, 3000, 2600, NULL),
                 ('a3', 'ERROR', 'alpha', 'q2', 2600, NULL, NULL, NULL),
                 ('b1', 'ENQUEUED', 'beta', NULL, 3000, NULL, NULL, 'other-app');
             INSERT INTO dbos.operation_outputs (workflow_uuid, function_id, function_name, output, error,
                 started_at_epoch_ms, completed_at_epoch_ms) VALUES
                 ('a1', 1, 'fetch', 'x', NULL, 100, 300),
                 ('a1', 2, 'fetch', NULL, 'boom', 400, 450),
                 ('a2', 1, 'fetch', 'y', NULL, 1000, 1900),
                 ('a2', 2, 'store', 'z', NULL, 2000, 2010);",
        )
        .await
        .unwrap();
    let req = |group_by: Vec<pb::WorkflowGroupBy>, bucket_ms: Option<i64>| {
        pb::GetWorkflowAggregatesRequest {
            group_by: group_by.into_iter().map(|g| g as i32).collect(),
            time_bucket: bucket_ms.map(|ms| prost_types::Duration {
                seconds: ms / 1000,
                nanos: ((ms % 1000) * 1_000_000) as i32,
            }),
            ..Default::default()
        }
    };
    let values = |a: &pb::WorkflowAggregate| -> Vec<Option<String>> {
        a.group.iter().map(|g| g.value.clone()).collect()
    };
    let aggs = srv
        .client
        .get_workflow_aggregates(req(
            vec![
                pb::WorkflowGroupBy::WorkflowName,
                pb::WorkflowGroupBy::Status,
            ],
            None,
        ))
        .await
        .unwrap()
        .into_inner()
        .aggregates;
    let got: Vec<(Vec<Option<String>>, i64)> = aggs.iter().map(|a| (values(a), a.count)).collect();
    let s = |v: &str| Some(v.to_owned());
    assert_eq!(
        got,
        [
            (vec![s("alpha"), s("ERROR")], 1),
            (vec![s("alpha"), s("SUCCESS")], 2),
            (vec![s("beta"), s("ENQUEUED")], 1),
        ]
    );
    let success = &aggs[1];
    assert_eq!(success.min_created_at.unwrap().seconds, 1);
    assert_eq!(success.max_queue_wait.unwrap().nanos, 500_000_000);
    assert_eq!(success.max_total_latency.unwrap().nanos, 500_000_000);
    assert!(aggs[0].max_queue_wait.is_none(), "never dequeued");

    // A time bucket and a workflow filter (here: one queue).
    let mut bucketed = req(vec![pb::WorkflowGroupBy::QueueName], Some(2000));
    bucketed.filter = Some(pb::WorkflowFilter {
        queue_names: vec!["q1".into()],
        ..Default::default()
    });
    let aggs = srv
        .client
        .get_workflow_aggregates(bucketed)
        .await
        .unwrap()
        .into_inner()
        .aggregates;
    let got: Vec<(i64, i64)> = aggs
        .iter()
        .map(|a| (a.time_bucket_start.unwrap().seconds, a.count))
        .collect();
    assert_eq!(got, [(0, 1), (2, 1)]);

    for (bad, needle) in [
        (req(vec![], None), "group_by"),
        (
            req(vec![pb::WorkflowGroupBy::Unspecified], None),
            "group_by",
        ),
        (req(vec![], Some(0)), "time_bucket"),
        (
            pb::GetWorkflowAggregatesRequest {
                filter: Some(pb::WorkflowFilter {
                    statuses: vec![0],
                    ..Default::default()
                }),
                ..req(vec![pb::WorkflowGroupBy::Status], None)
            },
            "filter.statuses",
        ),
        (
            pb::GetWorkflowAggregatesRequest {
                limit: -1,
                ..req(vec![pb::WorkflowGroupBy::Status], None)
            },
            "limit",
        ),
    ] {
        assert_status(
            srv.client.get_workflow_aggregates(bad).await,
            Code::InvalidArgument,
            needle,
        );
    }

    let steps = srv
        .client
        .get_step_aggregates(pb::GetStepAggregatesRequest {
            group_by: vec![
                pb::StepGroupBy::FunctionName as i32,
                pb::StepGroupBy::Status as i32,
            ],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .aggregates;
    let got: Vec<(Vec<Option<String>>, i64, i32)> = steps
        .iter()
        .map(|a| {
            (
                a.group.iter().map(|g| g.value.clone()).collect(),
                a.count,
                a.max_duration.unwrap().nanos,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (vec![s("fetch"), s("ERROR")], 1, 50_000_000),
            (vec![s("fetch"), s("SUCCESS")], 2, 900_000_000),
            (vec![s("store"), s("SUCCESS")], 1, 10_000_000),
        ]
    );
    let errors = srv
        .client
        .get_step_aggregates(pb::GetStepAggregatesRequest {
            time_bucket: Some(prost_types::Duration {
                seconds: 1,
                nanos: 0,
            }),
            statuses: vec![pb::WorkflowStatus::Error as i32],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .aggregates;
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].count, 1);
    for (bad, needle) in [
        (pb::GetStepAggregatesRequest::default(), "group_by"),
        (
            pb::GetStepAggregatesRequest {
                group_by: vec![pb::StepGroupBy::Status as i32],
                statuses: vec![pb::WorkflowStatus::Pending as i32],
                ..Default::default()
            },
            "statuses",
        ),
        (
            pb::GetStepAggregatesRequest {
                group_by: vec![0],
                ..Default::default()
            },
            "group_by",
        ),
    ] {
        assert_status(
            srv.client.get_step_aggregates(bad).await,
            Code::InvalidArgument,
            needle,
        );
    }
}

#[tokio::test]
async fn owner_and_step_rpcs_refuse_a_schema_that_predates_them() {
    let db = crate::harness::TestDb::new().await;
    db.client()
        .await
        .batch_execute(
            "ALTER TABLE dbos.operation_outputs DROP COLUMN completed_at_epoch_ms;
             ALTER TABLE dbos.workflow_status DROP COLUMN application_name CASCADE;",
        )
        .await
        .unwrap();
    let mut srv = TestServer::start_on(db, |_| {}).await;
    assert_status(
        srv.client
            .get_step_aggregates(pb::GetStepAggregatesRequest {
                group_by: vec![pb::StepGroupBy::FunctionName as i32],
                ..Default::default()
            })
            .await,
        Code::FailedPrecondition,
        "step timestamps",
    );
    assert_status(
        srv.client
            .rename_application(pb::RenameApplicationRequest {
                old_name: Some("old-app".into()),
                new_name: "new-app".into(),
                ..Default::default()
            })
            .await,
        Code::FailedPrecondition,
        "application owners",
    );
}
