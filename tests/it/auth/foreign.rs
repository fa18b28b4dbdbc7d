//! A workflow of another application is indistinguishable from one that does not exist: every
//! call naming beta's existing workflow with alpha's token gets exactly the answer an unknown id
//! gets (same code, same message), never PERMISSION_DENIED, and nothing of beta's is read or changed.

use dbosd::pb::{
    set_workflow_delay_request::Until, CancelWorkflowRequest, DeleteWorkflowRequest,
    EnqueueWorkflowRequest, ForkWorkflowRequest, GetEventRequest, GetWorkflowEventsRequest,
    GetWorkflowRequest, ListWorkflowStepsRequest, ReadStreamRequest, ResumeWorkflowRequest,
    SendMessageRequest, SendMessagesRequest, SetWorkflowDelayRequest, SetWorkflowPriorityRequest,
    UpdateWorkflowAttributesRequest,
};
use serde_json::json;
use tokio_stream::StreamExt;
use tonic::Code;

use crate::auth::setup::{
    client_as, enqueue_as_ops, same_as_unknown, server, stored_status, ALPHA, BETA,
};
use crate::harness::{enqueue_req, pv, set_event_as_worker, WAIT};

const FOREIGN: &str = "beta-1";
const UNKNOWN: &str = "nope-1";

/// Runs `$call` (an RPC future naming `$id`) for beta's workflow and for an unknown id, and
/// asserts both got the same NOT_FOUND.
macro_rules! like_unknown {
    ($what:literal, |$id:ident| $call:expr) => {{
        let foreign = {
            let $id = FOREIGN;
            $call.await.map(|r| r.into_inner())
        };
        let unknown = {
            let $id = UNKNOWN;
            $call.await.map(|r| r.into_inner())
        };
        same_as_unknown(
            $what,
            Code::NotFound,
            (foreign, FOREIGN),
            (unknown, UNKNOWN),
        );
    }};
}

#[tokio::test]
async fn another_applications_workflow_is_answered_as_an_unknown_id() {
    let (srv, _tokens) = server().await;
    enqueue_as_ops(&srv, FOREIGN, "beta").await;
    set_event_as_worker(&srv.db, FOREIGN, "k", "\"beta's secret\"").await;
    let db = srv.db.client().await;
    db.execute(
        "INSERT INTO dbos.streams (workflow_uuid, key, value, \"offset\", function_id, serialization) \
         VALUES ($1, 's', '\"beta''s value\"', 0, 1, 'portable_json')",
        &[&FOREIGN],
    )
    .await
    .expect("a stream value of beta's");
    let mut alpha = client_as(&srv.channel, ALPHA);
    let own = client_as(&srv.channel, BETA)
        .get_workflow(GetWorkflowRequest {
            workflow_id: FOREIGN.into(),
            ..Default::default()
        })
        .await;
    assert!(own.is_ok(), "beta sees its own workflow: {own:?}");

    like_unknown!("GetWorkflow", |id| alpha.get_workflow(GetWorkflowRequest {
        workflow_id: id.into(),
        ..Default::default()
    }));
    let message = |id: &str, to_forks: bool| SendMessageRequest {
        destination_id: id.into(),
        message: Some(pv(json!(1))),
        send_to_forks: to_forks,
        ..Default::default()
    };
    like_unknown!("SendMessage", |id| alpha.send_message(message(id, false)));
    like_unknown!("SendMessage to forks", |id| alpha
        .send_message(message(id, true)));
    like_unknown!("SendMessages", |id| alpha.send_messages(
        SendMessagesRequest {
            messages: vec![message(id, false)]
        }
    ));
    like_unknown!("ListWorkflowSteps", |id| alpha.list_workflow_steps(
        ListWorkflowStepsRequest {
            workflow_id: id.into(),
            ..Default::default()
        }
    ));
    like_unknown!("GetWorkflowEvents", |id| alpha.get_workflow_events(
        GetWorkflowEventsRequest {
            workflow_id: id.into()
        }
    ));
    like_unknown!("SetWorkflowDelay", |id| alpha.set_workflow_delay(
        SetWorkflowDelayRequest {
            workflow_id: id.into(),
            until: Some(Until::Delay(prost_types::Duration {
                seconds: 60,
                nanos: 0
            })),
        }
    ));
    like_unknown!("SetWorkflowPriority", |id| alpha.set_workflow_priority(
        SetWorkflowPriorityRequest {
            workflow_id: id.into(),
            priority: 7,
        }
    ));
    like_unknown!("UpdateWorkflowAttributes", |id| alpha
        .update_workflow_attributes(UpdateWorkflowAttributesRequest {
            workflow_id: id.into(),
            attributes: Some(prost_types::Struct {
                fields: [("owner".to_owned(), pv(json!("alpha")))].into(),
            }),
            merge: true,
        }));
    like_unknown!("CancelWorkflow", |id| alpha.cancel_workflow(
        CancelWorkflowRequest {
            workflow_id: id.into(),
            cancel_children: true,
        }
    ));
    like_unknown!("ResumeWorkflow", |id| alpha.resume_workflow(
        ResumeWorkflowRequest {
            workflow_id: id.into(),
            queue_name: None,
        }
    ));
    like_unknown!("ForkWorkflow", |id| alpha.fork_workflow(
        ForkWorkflowRequest {
            workflow_id: id.into(),
            ..Default::default()
        }
    ));
    like_unknown!("DeleteWorkflow", |id| alpha.delete_workflow(
        DeleteWorkflowRequest {
            workflow_id: id.into(),
            delete_children: true,
        }
    ));

    // GetEvent never fails for a missing workflow: it answers "not found" after its timeout.
    let event = |id: &str| GetEventRequest {
        workflow_id: id.into(),
        key: "k".into(),
        timeout: Some(prost_types::Duration {
            seconds: 0,
            nanos: 200_000_000,
        }),
    };
    let foreign = alpha.get_event(event(FOREIGN)).await.unwrap().into_inner();
    let unknown = alpha.get_event(event(UNKNOWN)).await.unwrap().into_inner();
    assert_eq!(foreign, unknown);
    assert!(!foreign.found && foreign.value.is_none(), "{foreign:?}");

    // ReadStream reports a missing writer on the stream.
    let first_of_stream = |id: &str| {
        let mut alpha = alpha.clone();
        let req = ReadStreamRequest {
            workflow_id: id.into(),
            key: "s".into(),
            ..Default::default()
        };
        async move {
            let mut stream = alpha.read_stream(req).await?.into_inner();
            tokio::time::timeout(WAIT, stream.next())
                .await
                .expect("the stream answers in time")
                .expect("an item")
        }
    };
    let foreign = first_of_stream(FOREIGN).await;
    let unknown = first_of_stream(UNKNOWN).await;
    same_as_unknown(
        "ReadStream",
        Code::NotFound,
        (foreign, FOREIGN),
        (unknown, UNKNOWN),
    );

    // Nothing of beta's was changed or added to.
    assert_eq!(
        stored_status(&srv.db, FOREIGN).await.as_deref(),
        Some("ENQUEUED")
    );
    let untouched = db
        .query_one(
            "SELECT priority, attributes::text, \
               (SELECT count(*) FROM dbos.notifications WHERE destination_uuid = $1), \
               (SELECT count(*) FROM dbos.workflow_status WHERE forked_from = $1) \
             FROM dbos.workflow_status WHERE workflow_uuid = $1",
            &[&FOREIGN],
        )
        .await
        .unwrap();
    assert_eq!(untouched.get::<_, i32>(0), 0, "priority");
    assert!(
        !untouched
            .get::<_, Option<String>>(1)
            .unwrap_or_default()
            .contains("alpha"),
        "attributes"
    );
    assert_eq!(untouched.get::<_, i64>(2), 0, "messages");
    assert_eq!(untouched.get::<_, i64>(3), 0, "forks");
    srv.stop().await;
}

#[tokio::test]
async fn an_id_taken_by_another_application_is_refused_without_its_data() {
    const TAKEN: &str = "taken-1";
    let (srv, _tokens) = server().await;
    enqueue_as_ops(&srv, TAKEN, "beta").await;
    let mut alpha = client_as(&srv.channel, ALPHA);
    let req = |id: &str| {
        let mut req: EnqueueWorkflowRequest = enqueue_req("other_name", "q", vec![]);
        req.workflow_id = Some(id.into());
        req.application_name = Some("alpha".into());
        req
    };
    let taken = alpha.enqueue_workflow(req(TAKEN)).await.unwrap_err();
    assert_eq!(taken.code(), Code::AlreadyExists, "{taken:?}");
    assert!(taken.message().contains("already taken"), "{taken:?}");
    // Beta's workflow name ("wf"), status and owner stay unsaid.
    for secret in ["wf", "ENQUEUED", "beta"] {
        assert!(!taken.message().contains(secret), "{secret}: {taken:?}");
    }
    assert!(alpha.enqueue_workflow(req("alpha-new")).await.is_ok());
    srv.stop().await;
}
