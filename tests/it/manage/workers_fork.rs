//! ForkWorkflow against real, unmodified DBOS workers, on the Python and the TypeScript app: a fork
//! reruns only the steps from its start step, and a fork's timeout is enforced by the worker.

use dbosd::pb::{self, WorkflowActionOutcome as Outcome, WorkflowStatus};
use serde_json::json;
use tonic::Code;

use super::workers::{cancel, enqueue_as, ms, numbering, steps, wait_status, with_worker};
use crate::harness::{
    assert_status, enqueue_req, get_workflow, payload_json, wait_terminal, WorkerLang,
};

on_both_workers!(
    a_fork_reruns_only_the_steps_from_its_start_step,
    a_fork_with_a_timeout_is_cancelled_by_the_worker,
);

async fn a_fork_reruns_only_the_steps_from_its_start_step(lang: WorkerLang) {
    let (mut srv, worker) = with_worker(lang).await;
    enqueue_as(
        &mut srv,
        "five",
        enqueue_req("multi_step", "test_queue", vec![json!(5)]),
    )
    .await;
    let done = wait_terminal(&srv.client, "five").await;
    assert_eq!(payload_json(&done.output), json!([0, 1, 2, 3, 4]));
    let original = steps(&srv, "five").await;
    let first = lang.first_step_id();
    let ids: Vec<i32> = original.iter().map(|s| s.function_id).collect();
    assert_eq!(ids, (first..first + 5).collect::<Vec<_>>());
    assert!(original
        .iter()
        .all(|s| s.function_name.ends_with("step_value")));
    let out = original[0].output.as_ref().expect("step output");
    assert_eq!(
        out.serialization,
        lang.native_serialization(),
        "step outputs pass through as stored"
    );
    assert!(!out.text.is_empty());

    // Re-run from the third step, in the worker's own numbering.
    let start = first + 2;

    let forked = srv
        .client
        .fork_workflow(pb::ForkWorkflowRequest {
            workflow_id: "five".into(),
            start_step: Some(start),
            step_numbering: numbering(lang),
            forked_workflow_id: Some("five-fork".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(forked.forked_workflow_id, "five-fork");
    let fork = wait_terminal(&srv.client, "five-fork").await;
    assert_eq!(fork.status(), WorkflowStatus::Success);
    assert_eq!(payload_json(&fork.output), json!([0, 1, 2, 3, 4]));
    assert_eq!(fork.forked_from, "five");
    assert!(get_workflow(&mut srv.client, "five").await.was_forked_from);

    let fork_steps = steps(&srv, "five-fork").await;
    assert_eq!(fork_steps.len(), 5);
    let created = ms(&fork.created_at);
    for (copy, orig) in fork_steps.iter().zip(&original) {
        assert_eq!(copy.function_id, orig.function_id);
        if copy.function_id < start {
            assert_eq!(
                copy, orig,
                "step {} is copied, not re-run",
                copy.function_id
            );
        } else {
            assert!(
                ms(&copy.started_at) >= created,
                "step {} re-ran after the fork was created",
                copy.function_id
            );
        }
    }

    // Forking from beyond the last recorded step, or from below the first, is refused.
    let below = format!("at least {first}");
    for (step, needle) in [
        (first + 5, "beyond the last recorded step"),
        (first - 1, below.as_str()),
    ] {
        assert_status(
            srv.client
                .fork_workflow(pb::ForkWorkflowRequest {
                    workflow_id: "five".into(),
                    start_step: Some(step),
                    step_numbering: numbering(lang),
                    ..Default::default()
                })
                .await,
            Code::InvalidArgument,
            needle,
        );
    }
    worker.stop().await;
    srv.stop().await;
}

async fn a_fork_with_a_timeout_is_cancelled_by_the_worker(lang: WorkerLang) {
    let (mut srv, worker) = with_worker(lang).await;
    enqueue_as(
        &mut srv,
        "long",
        enqueue_req("sleepy", "test_queue", vec![json!(30)]),
    )
    .await;
    wait_status(&srv, "long", WorkflowStatus::Pending).await;
    assert_eq!(cancel(&srv, "long").await.outcome(), Outcome::Cancelled);
    let forked = srv
        .client
        .fork_workflow(pb::ForkWorkflowRequest {
            workflow_id: "long".into(),
            forked_workflow_id: Some("long-fork".into()),
            queue_name: Some("test_queue".into()),
            timeout: Some(prost_types::Duration {
                seconds: 1,
                nanos: 0,
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(forked.result.unwrap().outcome(), Outcome::Forked);
    let done = wait_terminal(&srv.client, "long-fork").await;
    assert_eq!(
        done.status(),
        WorkflowStatus::Cancelled,
        "its timeout cancelled it"
    );
    assert_eq!(
        done.timeout,
        Some(prost_types::Duration {
            seconds: 1,
            nanos: 0
        })
    );
    assert!(
        done.deadline.is_some(),
        "the worker set the deadline at dequeue"
    );
    worker.stop().await;
    srv.stop().await;
}
