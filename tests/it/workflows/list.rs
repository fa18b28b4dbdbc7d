//! ListWorkflows: filters, paging, and payloads only when asked (GetWorkflow is in `get.rs`).

use dbosd::pb::{self, WorkflowStatus};
use serde_json::json;
use tonic::Code;

use crate::harness::{assert_status, enqueue_req, list_req, pv, TestServer};

async fn ids(srv: &mut TestServer, req: pb::ListWorkflowsRequest) -> Vec<String> {
    srv.client
        .list_workflows(req)
        .await
        .expect("ListWorkflows")
        .into_inner()
        .workflows
        .into_iter()
        .map(|w| w.workflow_id)
        .collect()
}

#[tokio::test]
async fn list_filters_match_the_python_client_filters() {
    let mut srv = TestServer::start().await;
    for (id, name, queue, version, team) in [
        ("a-1", "echo", "q1", "v1", "red"),
        ("a-2", "add", "q1", "v2", "blue"),
        ("b_1", "echo", "q2", "v1", "blue"),
        ("b%2", "add", "q2", "v2", "red"),
    ] {
        let mut req = enqueue_req(name, queue, vec![json!(id)]);
        req.workflow_id = Some(id.into());
        req.app_version = Some(version.into());
        req.authenticated_user = Some(format!("user-{team}"));
        req.attributes = Some(prost_types::Struct {
            fields: [("team".to_owned(), pv(json!(team)))].into_iter().collect(),
        });
        srv.client.enqueue_workflow(req).await.unwrap();
    }
    let db = srv.db.client().await;
    db.execute(
        "UPDATE dbos.workflow_status SET status = 'SUCCESS', completed_at = 2000, executor_id = 'ex1',
                started_at_epoch_ms = 1500, forked_from = 'a-1', parent_workflow_id = 'a-2'
         WHERE workflow_uuid = 'b_1'",
        &[],
    )
    .await
    .unwrap();
    let all = pb::ListWorkflowsRequest::default;
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(
        sorted(ids(&mut srv, all()).await),
        ["a-1", "a-2", "b%2", "b_1"]
    );
    let cases: Vec<(pb::WorkflowFilter, Vec<&str>)> = vec![
        (
            pb::WorkflowFilter {
                workflow_ids: vec!["a-2".into(), "zz".into()],
                ..Default::default()
            },
            vec!["a-2"],
        ),
        (
            pb::WorkflowFilter {
                statuses: vec![WorkflowStatus::Success as i32],
                ..Default::default()
            },
            vec!["b_1"],
        ),
        (
            pb::WorkflowFilter {
                workflow_names: vec!["add".into()],
                ..Default::default()
            },
            vec!["a-2", "b%2"],
        ),
        (
            pb::WorkflowFilter {
                queue_names: vec!["q2".into()],
                ..Default::default()
            },
            vec!["b%2", "b_1"],
        ),
        (
            pb::WorkflowFilter {
                app_versions: vec!["v1".into()],
                ..Default::default()
            },
            vec!["a-1", "b_1"],
        ),
        (
            pb::WorkflowFilter {
                authenticated_users: vec!["user-red".into()],
                ..Default::default()
            },
            vec!["a-1", "b%2"],
        ),
        (
            pb::WorkflowFilter {
                executor_ids: vec!["ex1".into()],
                ..Default::default()
            },
            vec!["b_1"],
        ),
        (
            pb::WorkflowFilter {
                workflow_id_prefixes: vec!["b%".into()],
                ..Default::default()
            },
            vec!["b%2"],
        ),
        (
            pb::WorkflowFilter {
                workflow_id_prefixes: vec!["b_".into(), "a-1".into()],
                ..Default::default()
            },
            vec!["a-1", "b_1"],
        ),
        (
            pb::WorkflowFilter {
                forked_from: vec!["a-1".into()],
                ..Default::default()
            },
            vec!["b_1"],
        ),
        (
            pb::WorkflowFilter {
                is_fork: Some(false),
                ..Default::default()
            },
            vec!["a-1", "a-2", "b%2"],
        ),
        (
            pb::WorkflowFilter {
                has_parent: Some(true),
                ..Default::default()
            },
            vec!["b_1"],
        ),
        (
            pb::WorkflowFilter {
                parent_workflow_ids: vec!["a-2".into()],
                ..Default::default()
            },
            vec!["b_1"],
        ),
        (
            pb::WorkflowFilter {
                was_forked_from: Some(true),
                ..Default::default()
            },
            vec![],
        ),
        (
            pb::WorkflowFilter {
                attributes: Some(prost_types::Struct {
                    fields: [("team".to_owned(), pv(json!("blue")))]
                        .into_iter()
                        .collect(),
                }),
                ..Default::default()
            },
            vec!["a-2", "b_1"],
        ),
        (
            pb::WorkflowFilter {
                completed_after: Some(prost_types::Timestamp {
                    seconds: 1,
                    nanos: 0,
                }),
                completed_before: Some(prost_types::Timestamp {
                    seconds: 3,
                    nanos: 0,
                }),
                ..Default::default()
            },
            vec!["b_1"],
        ),
        (
            pb::WorkflowFilter {
                dequeued_after: Some(prost_types::Timestamp {
                    seconds: 2,
                    nanos: 0,
                }),
                ..Default::default()
            },
            vec![],
        ),
        (
            pb::WorkflowFilter {
                created_after: Some(prost_types::Timestamp {
                    seconds: 4_000_000_000,
                    nanos: 0,
                }),
                ..Default::default()
            },
            vec![],
        ),
        (
            pb::WorkflowFilter {
                workflow_names: vec!["echo".into()],
                queue_names: vec!["q1".into()],
                ..Default::default()
            },
            vec!["a-1"],
        ),
    ];
    for (req, expected) in cases {
        let desc = format!("{req:?}");
        let got = sorted(ids(&mut srv, list_req(req)).await);
        assert_eq!(got, expected, "filter {desc}");
    }
    assert_status(
        srv.client
            .list_workflows(list_req(pb::WorkflowFilter {
                statuses: vec![0],
                ..Default::default()
            }))
            .await,
        Code::InvalidArgument,
        "filter.statuses",
    );
    srv.stop().await;
}

#[tokio::test]
async fn list_pages_with_tokens_without_gaps_or_duplicates() {
    let mut srv = TestServer::start().await;
    let db = srv.db.client().await;
    // Equal created_at values: the keyset cursor must still page them exactly once.
    for i in 0..7 {
        db.execute(
            "INSERT INTO dbos.workflow_status (workflow_uuid, status, name, queue_name, serialization, created_at)
             VALUES ($1, 'ENQUEUED', 'echo', 'q', 'portable_json', $2)",
            &[&format!("w{i}"), &(1000 + (i / 3) as i64)],
        )
        .await
        .unwrap();
    }
    for desc in [false, true] {
        let mut seen = Vec::new();
        let mut token = String::new();
        let mut pages = 0;
        loop {
            let resp = srv
                .client
                .list_workflows(pb::ListWorkflowsRequest {
                    page_size: 3,
                    page_token: token.clone(),
                    sort_desc: desc,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            pages += 1;
            seen.extend(resp.workflows.into_iter().map(|w| w.workflow_id));
            if resp.next_page_token.is_empty() {
                break;
            }
            token = resp.next_page_token;
            assert!(pages < 10, "paging does not end");
        }
        let mut expected: Vec<String> = (0..7).map(|i| format!("w{i}")).collect();
        if desc {
            expected.reverse();
        }
        assert_eq!(seen, expected, "desc={desc}");
        assert_eq!(pages, 3);
    }
    // Offset paging, for parity with the DBOS clients.
    let page = ids(
        &mut srv,
        pb::ListWorkflowsRequest {
            page_size: 2,
            offset: Some(5),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(page, ["w5", "w6"]);

    let first = srv
        .client
        .list_workflows(pb::ListWorkflowsRequest {
            page_size: 2,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let other_query = pb::ListWorkflowsRequest {
        page_size: 2,
        page_token: first.next_page_token.clone(),
        ..list_req(pb::WorkflowFilter {
            queue_names: vec!["q".into()],
            ..Default::default()
        })
    };
    assert_status(
        srv.client.list_workflows(other_query).await,
        Code::InvalidArgument,
        "page_token",
    );
    let garbage = pb::ListWorkflowsRequest {
        page_token: "%%%".into(),
        ..Default::default()
    };
    assert_status(
        srv.client.list_workflows(garbage).await,
        Code::InvalidArgument,
        "page_token",
    );
    let both = pb::ListWorkflowsRequest {
        page_token: first.next_page_token,
        offset: Some(1),
        ..Default::default()
    };
    assert_status(
        srv.client.list_workflows(both).await,
        Code::InvalidArgument,
        "offset",
    );
    let huge = pb::ListWorkflowsRequest {
        page_size: 5000,
        ..Default::default()
    };
    assert_status(
        srv.client.list_workflows(huge).await,
        Code::InvalidArgument,
        "page_size",
    );
    srv.stop().await;
}

#[tokio::test]
async fn list_loads_payloads_only_when_asked_and_defaults_to_the_configured_application() {
    let db = crate::harness::TestDb::new().await;
    let mut srv = TestServer::start_on(db, |s| s.application_name = Some("shop".into())).await;
    let mut mine = enqueue_req("echo", "q", vec![json!("mine")]);
    mine.workflow_id = Some("mine".into());
    srv.client.enqueue_workflow(mine).await.unwrap();
    let mut theirs = enqueue_req("echo", "q", vec![json!("theirs")]);
    theirs.workflow_id = Some("theirs".into());
    theirs.application_name = Some("other".into());
    srv.client.enqueue_workflow(theirs).await.unwrap();
    let mut unclaimed = enqueue_req("echo", "q", vec![]);
    unclaimed.workflow_id = Some("unclaimed".into());
    unclaimed.application_name = Some(String::new());
    srv.client.enqueue_workflow(unclaimed).await.unwrap();

    let listed = srv
        .client
        .list_workflows(pb::ListWorkflowsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let names: Vec<&str> = listed
        .workflows
        .iter()
        .map(|w| w.workflow_id.as_str())
        .collect();
    assert_eq!(
        names,
        ["mine", "unclaimed"],
        "own application plus unclaimed, as DBOS clients list"
    );
    assert!(listed.workflows.iter().all(|w| w.input.is_none()));

    let other = pb::ListWorkflowsRequest {
        load_input: true,
        ..list_req(pb::WorkflowFilter {
            application_names: vec!["other".into()],
            ..Default::default()
        })
    };
    let listed = srv.client.list_workflows(other).await.unwrap().into_inner();
    let names: Vec<&str> = listed
        .workflows
        .iter()
        .map(|w| w.workflow_id.as_str())
        .collect();
    assert_eq!(names, ["theirs", "unclaimed"]);
    let input = listed.workflows[0].input.as_ref().expect("input loaded");
    assert_eq!(
        input.text,
        r#"{"positionalArgs":["theirs"],"namedArgs":{}}"#
    );

    let by_id = list_req(pb::WorkflowFilter {
        workflow_ids: vec!["theirs".into()],
        ..Default::default()
    });
    assert_eq!(
        ids(&mut srv, by_id).await,
        ["theirs"],
        "ids bypass the default application filter"
    );
    srv.stop().await;
}
