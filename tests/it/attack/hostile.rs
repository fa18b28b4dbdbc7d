//! Hostile values through generated clients: huge repeated fields, giant page tokens, negative and
//! overflowing numbers, adversarial cron expressions, time zones and backfill ranges, invalid and
//! enormous metadata. Each is refused with a status in the caller's terms (never INTERNAL or a
//! broken connection), or bounded, and the daemon keeps serving.

use std::time::Duration;

use dbosd::pb;
use tonic::Code;

use super::{assert_alive, SENTINEL};
use crate::auth::setup::{client_as, enqueue_as_ops, server, ALPHA, OPS};
use crate::harness::list_req;

/// The answer is a refusal in the caller's terms, or a success.
fn refused_cleanly<T: std::fmt::Debug>(what: &str, answer: Result<T, tonic::Status>) {
    if let Err(status) = answer {
        assert!(
            matches!(
                status.code(),
                Code::InvalidArgument
                    | Code::NotFound
                    | Code::OutOfRange
                    | Code::FailedPrecondition
                    | Code::ResourceExhausted
            ),
            "{what}: {status:?}"
        );
        super::leaks::assert_no_leak(what, &status);
    }
}

#[tokio::test]
async fn huge_repeated_fields_and_giant_tokens_are_refused_before_any_work() {
    let (srv, _tokens) = server().await;
    enqueue_as_ops(&srv, SENTINEL, "alpha").await;
    let mut alpha = client_as(&srv.channel, ALPHA);
    let ids: Vec<String> = (0..100_000).map(|i| format!("wf-{i}")).collect();
    let mut awaited = alpha
        .await_workflows(pb::AwaitWorkflowsRequest {
            workflow_ids: ids.clone(),
            timeout: Some(prost_types::Duration {
                seconds: 1,
                nanos: 0,
            }),
            ..Default::default()
        })
        .await
        .map(|s| s.into_inner());
    if let Ok(stream) = awaited.as_mut() {
        let next = tokio::time::timeout(Duration::from_secs(30), stream.message()).await;
        let next = next.expect("a bounded answer");
        refused_cleanly("AwaitWorkflows with 10^5 ids (stream)", next);
    } else {
        refused_cleanly("AwaitWorkflows with 10^5 ids", awaited);
    }
    let cancel = alpha
        .cancel_workflows(pb::CancelWorkflowsRequest {
            workflow_ids: ids.clone(),
            dry_run: true,
            ..Default::default()
        })
        .await;
    refused_cleanly("CancelWorkflows with 10^5 ids", cancel);
    let filter = pb::WorkflowFilter {
        workflow_ids: ids.clone(),
        workflow_id_prefixes: ids[..1000].to_vec(),
        ..Default::default()
    };
    let listed = alpha.list_workflows(list_req(filter)).await;
    refused_cleanly("ListWorkflows with 10^5 ids", listed);
    let watch = alpha
        .watch_workflows(pb::WatchWorkflowsRequest {
            workflow_ids: ids.clone(),
            ..Default::default()
        })
        .await;
    refused_cleanly("WatchWorkflows with 10^5 ids", watch.map(|_| ()));
    let mut page = list_req(Default::default());
    page.page_token = "A".repeat(3 * 1024 * 1024);
    let giant = alpha.list_workflows(page).await.unwrap_err();
    assert!(
        matches!(
            giant.code(),
            Code::InvalidArgument | Code::ResourceExhausted
        ),
        "{giant:?}"
    );
    let cursor = pb::WatchWorkflowsRequest {
        cursor: format!("{}{}", "W3s".repeat(20_000), "fV0"),
        ..Default::default()
    };
    refused_cleanly(
        "WatchWorkflows with a hostile cursor",
        alpha.watch_workflows(cursor).await.map(|_| ()),
    );
    assert_alive(&srv.channel).await;
}

#[tokio::test]
async fn negative_and_overflowing_numbers_are_refused_or_bounded() {
    let (srv, _tokens) = server().await;
    enqueue_as_ops(&srv, SENTINEL, "alpha").await;
    let mut alpha = client_as(&srv.channel, ALPHA);
    for (page_size, offset) in [(-1, Some(-1)), (i32::MAX, Some(i32::MAX)), (i32::MIN, None)] {
        let mut req = list_req(Default::default());
        req.page_size = page_size;
        req.offset = offset;
        refused_cleanly("ListWorkflows paging", alpha.list_workflows(req).await);
    }
    for priority in [i32::MIN, -1, i32::MAX] {
        let mut req = super::leaks::alpha_enqueue(vec![]);
        req.priority = Some(priority);
        refused_cleanly(
            "EnqueueWorkflow priority",
            alpha.enqueue_workflow(req).await,
        );
        let set = pb::SetWorkflowPriorityRequest {
            workflow_id: SENTINEL.into(),
            priority,
        };
        refused_cleanly(
            "SetWorkflowPriority",
            alpha.set_workflow_priority(set).await,
        );
    }
    for (seconds, nanos) in [
        (i64::MIN, 0),
        (i64::MAX, 999_999_999),
        (-1, -1),
        (0, i32::MAX),
        (315_576_000_001, 0),
    ] {
        let d = prost_types::Duration { seconds, nanos };
        let mut req = super::leaks::alpha_enqueue(vec![]);
        req.delay = Some(d);
        req.timeout = Some(d);
        refused_cleanly(
            "EnqueueWorkflow durations",
            alpha.enqueue_workflow(req).await,
        );
        let delay = pb::SetWorkflowDelayRequest {
            workflow_id: SENTINEL.into(),
            until: Some(pb::set_workflow_delay_request::Until::Delay(d)),
        };
        refused_cleanly("SetWorkflowDelay", alpha.set_workflow_delay(delay).await);
        let t = prost_types::Timestamp { seconds, nanos };
        let mut req = super::leaks::alpha_enqueue(vec![]);
        req.deadline = Some(t);
        refused_cleanly(
            "EnqueueWorkflow deadline",
            alpha.enqueue_workflow(req).await,
        );
        let get = pb::GetEventRequest {
            workflow_id: SENTINEL.into(),
            key: "k".into(),
            timeout: Some(d),
        };
        refused_cleanly("GetEvent timeout", alpha.get_event(get).await);
        let aggregates = pb::GetWorkflowAggregatesRequest {
            group_by: vec![pb::WorkflowGroupBy::Status as i32],
            time_bucket: Some(d),
            limit: seconds as i32,
            ..Default::default()
        };
        refused_cleanly(
            "GetWorkflowAggregates",
            alpha.get_workflow_aggregates(aggregates).await,
        );
    }
    assert_alive(&srv.channel).await;
}

#[tokio::test]
async fn adversarial_cron_time_zones_and_backfill_ranges_are_refused_or_bounded() {
    let (srv, _tokens) = server().await;
    enqueue_as_ops(&srv, SENTINEL, "alpha").await;
    let mut ops = client_as(&srv.channel, OPS);
    let crons = [
        "* * * * * *",
        "*/0 * * * *",
        "0-4294967295 * * * *",
        "59-0 * * * *",
        "0 0 30 2 *",
        "@every 0s",
        "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29 * * * * *",
        "\0 * * * *",
        "* * * * * * * * * * * * * * * * * * * * * * *",
    ];
    let zones = [
        "UTC",
        "Mars/Olympus",
        "../../etc/passwd",
        "+99:99",
        "\u{202e}UTC",
        "",
    ];
    let mut created = Vec::new();
    for (i, cron) in crons.iter().enumerate() {
        for (j, zone) in zones.iter().enumerate() {
            let name = format!("s-{i}-{j}");
            let req = pb::CreateScheduleRequest {
                schedule_name: name.clone(),
                workflow_name: "wf".into(),
                cron: (*cron).into(),
                cron_timezone: Some((*zone).into()),
                language: pb::WorkerLanguage::Python as i32,
                ..Default::default()
            };
            let answer = ops.create_schedule(req).await;
            if answer.is_ok() {
                created.push(name);
            }
            refused_cleanly(&format!("CreateSchedule {cron:?} {zone:?}"), answer);
        }
    }
    let listed = ops
        .list_schedules(pb::ListSchedulesRequest::default())
        .await;
    refused_cleanly("ListSchedules", listed);
    // A backfill over all of time on the tightest schedule is bounded, not 10^11 workflows.
    for name in created.iter().take(3) {
        let backfill = pb::BackfillScheduleRequest {
            schedule_name: name.clone(),
            start: Some(prost_types::Timestamp {
                seconds: -62_135_596_800,
                nanos: 0,
            }),
            end: Some(prost_types::Timestamp {
                seconds: 253_402_300_799,
                nanos: 0,
            }),
        };
        refused_cleanly("BackfillSchedule", ops.backfill_schedule(backfill).await);
        let trigger = pb::TriggerScheduleRequest {
            schedule_name: name.clone(),
        };
        refused_cleanly("TriggerSchedule", ops.trigger_schedule(trigger).await);
    }
    let fired = srv
        .db
        .count("SELECT count(*) FROM dbos.workflow_status")
        .await;
    assert!(fired <= 3 * 10_001 + 1, "{fired} workflows from backfills");
    assert_alive(&srv.channel).await;
}

#[tokio::test]
async fn invalid_and_enormous_metadata_is_refused_and_the_connection_survives() {
    let (srv, _tokens) = server().await;
    enqueue_as_ops(&srv, SENTINEL, "alpha").await;
    let get = || pb::GetWorkflowRequest {
        workflow_id: SENTINEL.into(),
        ..Default::default()
    };
    let mut raw =
        dbosd::pb::workflow_service_client::WorkflowServiceClient::new(srv.channel.clone());
    let bad_values: Vec<Vec<u8>> = vec![
        b"Bearer \xff\xfe".to_vec(),
        b"Bearer tok-alpha-31c\xc0".to_vec(),
        b"Bearer ".to_vec(),
        [b"Bearer ".as_slice(), "a".repeat(12 * 1024).as_bytes()].concat(),
    ];
    for value in bad_values {
        let mut req = tonic::Request::new(get());
        if let Ok(v) = tonic::metadata::MetadataValue::try_from(value.as_slice()) {
            req.metadata_mut().insert("authorization", v);
        }
        let bin = tonic::metadata::MetadataValue::from_bytes(&value);
        req.metadata_mut().insert_bin("x-request-id-bin", bin);
        if let Ok(v) = tonic::metadata::MetadataValue::try_from(value.as_slice()) {
            req.metadata_mut().insert("x-request-id", v);
        }
        let status = raw.get_workflow(req).await.unwrap_err();
        // Headers beyond HTTP/2's budget are refused by the HTTP layer (431) before any handler.
        if status.code() == Code::Unknown && status.message().contains("431") {
            continue;
        }
        assert!(
            matches!(
                status.code(),
                Code::Unauthenticated | Code::InvalidArgument | Code::Internal
            ) && !status.message().contains("tok-"),
            "{status:?}"
        );
        if status.code() == Code::Internal {
            // An oversized header list is refused by the HTTP/2 layer; the daemon lives on.
            assert!(status.message().contains("header"), "{status:?}");
        }
    }
    // Enough metadata to exceed any header budget: the call fails, the daemon does not.
    let mut req = tonic::Request::new(get());
    for i in 0..2000 {
        let v: tonic::metadata::MetadataValue<_> = "x".repeat(100).parse().unwrap();
        req.metadata_mut().insert(
            tonic::metadata::MetadataKey::from_bytes(format!("x-junk-{i}").as_bytes()).unwrap(),
            v,
        );
    }
    let refused = client_as(&srv.channel, ALPHA).get_workflow(req).await;
    assert!(refused.is_err(), "headers past every budget: {refused:?}");
    assert_alive(&crate::harness::connect_channel(srv.addr).await).await;
}
