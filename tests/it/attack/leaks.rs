//! Leaks: no status carries SQL, driver text or another application's names, and an INTERNAL
//! status always carries the request id under which the log holds its cause. Values the database
//! itself refuses (NUL characters inside JSON, which `jsonb` cannot hold) are the caller's error.

use serde_json::json;
use tonic::Code;

use super::{assert_alive, SENTINEL};
use crate::auth::setup::{client_as, enqueue_as_ops, server, ALPHA};
use crate::harness::{enqueue_req, list_req, pv};

/// An EnqueueWorkflow request alpha's token may make.
pub fn alpha_enqueue(args: Vec<serde_json::Value>) -> pb::EnqueueWorkflowRequest {
    let mut req = enqueue_req("wf", "q", args);
    req.application_name = Some("alpha".into());
    req
}
use dbosd::pb;

/// Words of SQL and driver text that no caller may see.
const LEAKY: &[&str] = &[
    "SELECT",
    "INSERT",
    "UPDATE ",
    "relation",
    "violates",
    "constraint",
    "syntax error",
    "db error",
    "dbos.",
    "workflow_status",
    "operation_outputs",
    "tokio",
    "postgres",
    "panicked",
];

/// Fails if `status` carries SQL or driver text, or beta's application name.
pub fn assert_no_leak(what: &str, status: &tonic::Status) {
    let message = status.message();
    for word in LEAKY {
        assert!(
            !message.contains(word),
            "{what}: the status leaks {word:?}: {status:?}"
        );
    }
    assert!(!message.contains("beta"), "{what}: names beta: {status:?}");
}

#[tokio::test]
async fn values_the_database_refuses_are_invalid_argument_without_its_text() {
    let (srv, _tokens) = server().await;
    enqueue_as_ops(&srv, SENTINEL, "alpha").await;
    enqueue_as_ops(&srv, "b-1", "beta").await;
    let mut alpha = client_as(&srv.channel, ALPHA);
    let nul = json!({"k": "a\u{0}b"});

    let mut attrs = alpha_enqueue(vec![nul.clone()]);
    attrs.attributes = Some(match pv(nul.clone()).kind {
        Some(prost_types::value::Kind::StructValue(s)) => s,
        _ => unreachable!(),
    });
    let mut answers = vec![("enqueue", alpha.enqueue_workflow(attrs).await.err())];
    let mut inputs = alpha_enqueue(vec![]);
    inputs.inputs_json = r#"[["a\u0000b"], {}]"#.into();
    answers.push((
        "enqueue inputs_json",
        alpha.enqueue_workflow(inputs).await.err(),
    ));
    let send = pb::SendMessageRequest {
        destination_id: SENTINEL.into(),
        topic: Some("t".into()),
        message_json: r#""a\u0000b""#.into(),
        ..Default::default()
    };
    answers.push(("send", alpha.send_message(send).await.err()));
    let update = pb::UpdateWorkflowAttributesRequest {
        workflow_id: SENTINEL.into(),
        attributes: match pv(nul.clone()).kind {
            Some(prost_types::value::Kind::StructValue(s)) => Some(s),
            _ => unreachable!(),
        },
        ..Default::default()
    };
    answers.push((
        "attributes",
        alpha.update_workflow_attributes(update).await.err(),
    ));
    let filter = pb::WorkflowFilter {
        attributes: match pv(nul).kind {
            Some(prost_types::value::Kind::StructValue(s)) => Some(s),
            _ => unreachable!(),
        },
        ..Default::default()
    };
    answers.push(("list", alpha.list_workflows(list_req(filter)).await.err()));
    for id in ["a\0b", "b-1\0", "\0"] {
        let get = alpha
            .get_workflow(pb::GetWorkflowRequest {
                workflow_id: id.into(),
                ..Default::default()
            })
            .await;
        answers.push(("get with a NUL id", get.err()));
        let cancel = alpha
            .cancel_workflow(pb::CancelWorkflowRequest {
                workflow_id: id.into(),
                ..Default::default()
            })
            .await;
        answers.push(("cancel with a NUL id", cancel.err()));
        let event = alpha
            .get_event(pb::GetEventRequest {
                workflow_id: SENTINEL.into(),
                key: id.into(),
                ..Default::default()
            })
            .await;
        answers.push(("event with a NUL key", event.err()));
    }
    for (what, answer) in answers {
        if let Some(status) = answer {
            assert!(
                matches!(status.code(), Code::InvalidArgument | Code::NotFound),
                "{what}: {status:?}"
            );
            assert_no_leak(what, &status);
        }
    }
    assert_alive(&srv.channel).await;
}
