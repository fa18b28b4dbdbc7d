//! ListWorkflowSteps, ListQueuedWorkflows and the in-flight changes (delay, priority, attributes)
//! without a worker: what they return and write, and every documented error.

use dbosd::pb::{self, WorkflowActionOutcome as Outcome, WorkflowStatus};
use serde_json::json;
use tonic::Code;

use crate::{
    harness::{assert_status, pv, TestServer},
    manage::control::{insert, row_json},
};

fn steps_req(id: &str) -> pb::ListWorkflowStepsRequest {
    pb::ListWorkflowStepsRequest {
        workflow_id: id.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn steps_are_listed_in_order_decoded_when_portable_and_paged() {
    let mut srv = TestServer::start().await;
    let db = srv.db.client().await;
    insert(&db, "w", "SUCCESS", "").await;
    insert(&db, "empty", "ENQUEUED", "").await;
    db.batch_execute(
        r#"INSERT INTO dbos.operation_outputs (workflow_uuid, function_id, function_name, output, error,
                  serialization, child_workflow_id, started_at_epoch_ms, completed_at_epoch_ms) VALUES
             ('w', 3, 'native', 'gASVBQ==', NULL, 'py_pickle', NULL, 3000, 3500),
             ('w', 1, 'portable', '{"n":12345678901234567890}', NULL, 'portable_json', NULL, 1000, 1500),
             ('w', 2, 'failed', NULL, '{"name":"ValueError","message":"bad","code":7}', 'portable_json', 'kid', 2000, NULL),
             ('w', 4, 'go_style', '5', '', 'portable_json', NULL, NULL, NULL),
             ('w', 5, 'DBOS.sleep', 'gASVCg==', NULL, 'py_pickle', NULL, 5000, 5001);"#,
    )
    .await
    .unwrap();

    let all = srv
        .client
        .list_workflow_steps(steps_req("w"))
        .await
        .unwrap()
        .into_inner();
    assert!(all.next_page_token.is_empty());
    let ids: Vec<i32> = all.steps.iter().map(|s| s.function_id).collect();
    assert_eq!(ids, [1, 2, 3, 4, 5]);
    let portable = &all.steps[0];
    let out = portable.output.as_ref().unwrap();
    assert_eq!(out.text, r#"{"n":12345678901234567890}"#, "exact text kept");
    assert!(out.json.is_some());
    assert!(portable.error.is_none());
    assert_eq!(portable.started_at.unwrap().seconds, 1);
    let failed = &all.steps[1];
    let err = failed.error.as_ref().expect("error");
    assert_eq!(
        (err.name.as_str(), err.message.as_str()),
        ("ValueError", "bad")
    );
    assert_eq!(err.code, Some(pv(json!(7))));
    assert!(failed.output.is_none() && failed.completed_at.is_none());
    assert_eq!(failed.child_workflow_id, "kid");
    let native = all.steps[2].output.as_ref().unwrap();
    assert_eq!(
        (native.serialization.as_str(), native.text.as_str()),
        ("py_pickle", "gASVBQ==")
    );
    assert!(
        native.json.is_none(),
        "native formats pass through undecoded"
    );
    let go = &all.steps[3];
    assert!(go.error.is_none(), "an empty error text is no error");
    assert_eq!(go.output.as_ref().unwrap().json, Some(pv(json!(5))));

    let bare = srv
        .client
        .list_workflow_steps(pb::ListWorkflowStepsRequest {
            load_output: Some(false),
            ..steps_req("w")
        })
        .await
        .unwrap()
        .into_inner();
    assert!(bare
        .steps
        .iter()
        .all(|s| s.output.is_none() && s.error.is_none()));
    assert_eq!(bare.steps[1].function_name, "failed");

    let mut seen = Vec::new();
    let mut token = String::new();
    for _ in 0..3 {
        let page = srv
            .client
            .list_workflow_steps(pb::ListWorkflowStepsRequest {
                page_size: 2,
                page_token: token.clone(),
                ..steps_req("w")
            })
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.steps.iter().map(|s| s.function_id));
        token = page.next_page_token;
    }
    assert_eq!(seen, [1, 2, 3, 4, 5]);
    assert!(token.is_empty(), "the third page is the last");
    let offset = srv
        .client
        .list_workflow_steps(pb::ListWorkflowStepsRequest {
            page_size: 2,
            offset: Some(3),
            ..steps_req("w")
        })
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<i32> = offset.steps.iter().map(|s| s.function_id).collect();
    assert_eq!(ids, [4, 5]);
    let empty = srv
        .client
        .list_workflow_steps(steps_req("empty"))
        .await
        .unwrap()
        .into_inner();
    assert!(empty.steps.is_empty());

    let first = srv
        .client
        .list_workflow_steps(pb::ListWorkflowStepsRequest {
            page_size: 1,
            ..steps_req("w")
        })
        .await
        .unwrap()
        .into_inner();
    let cases = [
        (steps_req("nope"), Code::NotFound, "nope"),
        (steps_req(""), Code::InvalidArgument, "workflow_id"),
        (
            pb::ListWorkflowStepsRequest {
                page_token: first.next_page_token.clone(),
                ..steps_req("empty")
            },
            Code::InvalidArgument,
            "page_token",
        ),
        (
            pb::ListWorkflowStepsRequest {
                page_token: first.next_page_token,
                offset: Some(1),
                ..steps_req("w")
            },
            Code::InvalidArgument,
            "offset",
        ),
        (
            pb::ListWorkflowStepsRequest {
                page_size: 1001,
                ..steps_req("w")
            },
            Code::InvalidArgument,
            "page_size",
        ),
    ];
    for (req, code, needle) in cases {
        assert_status(srv.client.list_workflow_steps(req).await, code, needle);
    }
    srv.stop().await;
}

#[tokio::test]
async fn queued_workflows_are_the_active_ones_on_a_queue() {
    let srv = TestServer::start().await;
    let db = srv.db.client().await;
    insert(&db, "e", "ENQUEUED", "created_at = 1").await;
    insert(&db, "d", "DELAYED", "created_at = 2").await;
    insert(&db, "p", "PENDING", "created_at = 3, queue_name = 'other'").await;
    insert(&db, "s", "SUCCESS", "created_at = 4").await;
    insert(&db, "c", "CANCELLED", "created_at = 5, queue_name = NULL").await;
    insert(
        &db,
        "direct",
        "PENDING",
        "created_at = 6, queue_name = NULL",
    )
    .await;
    let list = |filter: pb::WorkflowFilter, page_size: i32, page_token: String| {
        let mut client = srv.client.clone();
        async move {
            client
                .list_queued_workflows(pb::ListQueuedWorkflowsRequest {
                    filter: Some(filter),
                    page_size,
                    page_token,
                    ..Default::default()
                })
                .await
        }
    };
    let names = |resp: &pb::ListQueuedWorkflowsResponse| -> Vec<String> {
        resp.workflows
            .iter()
            .map(|w| w.workflow_id.clone())
            .collect()
    };
    let all = list(Default::default(), 0, String::new())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(names(&all), ["e", "d", "p"]);
    let finished = pb::WorkflowFilter {
        statuses: vec![
            WorkflowStatus::Success as i32,
            WorkflowStatus::Cancelled as i32,
        ],
        ..Default::default()
    };
    let finished = list(finished, 0, String::new()).await.unwrap().into_inner();
    assert_eq!(
        names(&finished),
        ["s"],
        "a status filter replaces the active statuses, queue still required"
    );
    let on_q = pb::WorkflowFilter {
        queue_names: vec!["q".into()],
        ..Default::default()
    };
    let first = list(on_q.clone(), 1, String::new())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(names(&first), ["e"]);
    let second = list(on_q, 1, first.next_page_token.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(names(&second), ["d"]);
    assert!(second.next_page_token.is_empty());
    assert_status(
        list(Default::default(), 1, first.next_page_token).await,
        Code::InvalidArgument,
        "page_token",
    );
    let bad = pb::WorkflowFilter {
        statuses: vec![0],
        ..Default::default()
    };
    assert_status(
        list(bad, 0, String::new()).await,
        Code::InvalidArgument,
        "filter.statuses",
    );
    srv.stop().await;
}

#[tokio::test]
async fn delay_priority_and_attributes_change_only_what_their_status_allows() {
    let mut srv = TestServer::start().await;
    let db = srv.db.client().await;
    insert(
        &db,
        "delayed",
        "DELAYED",
        "delay_until_epoch_ms = 99999999999999",
    )
    .await;
    insert(&db, "queued", "ENQUEUED", "").await;
    insert(
        &db,
        "running",
        "PENDING",
        "attributes = '{\"keep\": 1, \"over\": 1}'",
    )
    .await;
    insert(&db, "done", "SUCCESS", "attributes = 'null'::jsonb").await;

    use pb::set_workflow_delay_request::Until;
    let delay = |id: &str, until: Option<Until>| pb::SetWorkflowDelayRequest {
        workflow_id: id.into(),
        until,
    };
    let at = Until::DelayUntil(prost_types::Timestamp {
        seconds: 4_000_000_000,
        nanos: 0,
    });
    let moved = srv
        .client
        .set_workflow_delay(delay("delayed", Some(at)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(moved.result.unwrap().outcome(), Outcome::Updated);
    assert_eq!(moved.delay_until.unwrap().seconds, 4_000_000_000);
    let soon = Until::Delay(prost_types::Duration {
        seconds: 60,
        nanos: 0,
    });
    let moved = srv
        .client
        .set_workflow_delay(delay("delayed", Some(soon)))
        .await
        .unwrap()
        .into_inner();
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let until = moved.delay_until.unwrap().seconds;
    assert!(
        (now_s + 50..now_s + 70).contains(&until),
        "60 s from now, got {until}"
    );
    let queued = row_json(&db, "queued").await;
    let wrong = srv
        .client
        .set_workflow_delay(delay("queued", Some(soon)))
        .await
        .unwrap()
        .into_inner();
    let result = wrong.result.unwrap();
    assert_eq!(
        (result.outcome(), result.status()),
        (Outcome::WrongStatus, WorkflowStatus::Enqueued)
    );
    assert!(wrong.delay_until.is_none());
    assert_eq!(row_json(&db, "queued").await, queued, "nothing was written");

    let priority = |id: &str, priority: i32| pb::SetWorkflowPriorityRequest {
        workflow_id: id.into(),
        priority,
    };
    for (id, outcome) in [
        ("queued", Outcome::Updated),
        ("delayed", Outcome::Updated),
        ("running", Outcome::WrongStatus),
    ] {
        let resp = srv
            .client
            .set_workflow_priority(priority(id, 9))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(resp.result.unwrap().outcome(), outcome, "{id}");
    }
    let stored: Vec<i32> = db
        .query(
            "SELECT priority FROM dbos.workflow_status WHERE workflow_uuid IN ('queued', 'delayed', 'running')
             ORDER BY workflow_uuid",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(stored, [9, 9, 0]);

    let attrs = |pairs: serde_json::Value| match pv(pairs).kind {
        Some(prost_types::value::Kind::StructValue(s)) => s,
        _ => unreachable!(),
    };
    let update = |id: &str, attributes: Option<prost_types::Struct>, merge: bool| {
        pb::UpdateWorkflowAttributesRequest {
            workflow_id: id.into(),
            attributes,
            merge,
        }
    };
    let merged = srv
        .client
        .update_workflow_attributes(update(
            "running",
            Some(attrs(json!({"over": 2, "new": 3}))),
            true,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(merged.result.unwrap().outcome(), Outcome::Updated);
    assert_eq!(
        merged.attributes,
        Some(attrs(json!({"keep": 1, "over": 2, "new": 3})))
    );
    let into_null = srv
        .client
        .update_workflow_attributes(update("done", Some(attrs(json!({"a": "b"}))), true))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        into_null.attributes,
        Some(attrs(json!({"a": "b"}))),
        "any status; JSON null merges as {{}}"
    );
    let replaced = srv
        .client
        .update_workflow_attributes(update("running", Some(attrs(json!({"only": true}))), false))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(replaced.attributes, Some(attrs(json!({"only": true}))));
    let cleared = srv
        .client
        .update_workflow_attributes(update("running", None, false))
        .await
        .unwrap()
        .into_inner();
    assert!(cleared.attributes.is_none());
    let stored: Option<String> = db
        .query_one(
            "SELECT attributes::text FROM dbos.workflow_status WHERE workflow_uuid = 'running'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, None);

    assert_status(
        srv.client.set_workflow_delay(delay("nope", Some(at))).await,
        Code::NotFound,
        "nope",
    );
    assert_status(
        srv.client.set_workflow_delay(delay("delayed", None)).await,
        Code::InvalidArgument,
        "delay",
    );
    assert_status(
        srv.client.set_workflow_delay(delay("", Some(at))).await,
        Code::InvalidArgument,
        "workflow_id",
    );
    assert_status(
        srv.client
            .set_workflow_priority(priority("queued", -1))
            .await,
        Code::InvalidArgument,
        "priority",
    );
    assert_status(
        srv.client.set_workflow_priority(priority("nope", 1)).await,
        Code::NotFound,
        "nope",
    );
    assert_status(
        srv.client
            .update_workflow_attributes(update("running", None, true))
            .await,
        Code::InvalidArgument,
        "attributes",
    );
    assert_status(
        srv.client
            .update_workflow_attributes(update("nope", None, false))
            .await,
        Code::NotFound,
        "nope",
    );
    srv.stop().await;
}
