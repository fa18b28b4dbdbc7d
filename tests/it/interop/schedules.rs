//! A schedule created through dbosd is fired (triggered, backfilled) as its own language fires it:
//! the worker runs the workflow with a real date/datetime and the context, decoded natively.

use dbosd::{native, pb};
use prost_types::Timestamp;
use serde_json::{json, Value as Json};

use super::with_worker;
use crate::harness::{pv, wait_terminal, WorkerLang};

on_both_workers!(a_schedule_created_through_dbosd_fires_on_the_worker);

fn year_start(year: i32) -> Option<Timestamp> {
    let t = chrono::NaiveDate::from_ymd_opt(year, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    Some(Timestamp {
        seconds: t.timestamp(),
        nanos: 0,
    })
}

/// The workflow's output, decoded from the language's native format (schedule firings run native).
fn native_output(lang: WorkerLang, wf: &pb::WorkflowInfo) -> Json {
    let out = wf.output.as_ref().expect("output");
    let decoded = match lang {
        WorkerLang::Python => native::pickle::decode_json(&out.text),
        WorkerLang::TypeScript => native::superjson::decode_plain(&out.text),
    };
    decoded.unwrap_or_else(|| panic!("undecodable output {out:?}"))
}

async fn a_schedule_created_through_dbosd_fires_on_the_worker(lang: WorkerLang) {
    let (mut srv, worker) = with_worker(lang).await;
    let language = match lang {
        WorkerLang::Python => pb::WorkerLanguage::Python,
        WorkerLang::TypeScript => pb::WorkerLanguage::Typescript,
    };
    let context = json!({"tenant": "acme", "ids": [1, 2]});
    srv.client
        .create_schedule(pb::CreateScheduleRequest {
            schedule_name: "yearly".into(),
            workflow_name: "scheduled".into(),
            // Never due while the test runs: only trigger and backfill fire it.
            cron: "0 0 1 1 *".into(),
            language: language as i32,
            context: Some(pb::create_schedule_request::Context::ContextJson(pv(
                context.clone(),
            ))),
            ..Default::default()
        })
        .await
        .unwrap();

    let id = srv
        .client
        .trigger_schedule(pb::TriggerScheduleRequest {
            schedule_name: "yearly".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .workflow_id;
    let done = wait_terminal(&srv.client, &id).await;
    assert_eq!(done.status(), pb::WorkflowStatus::Success, "{done:?}");
    assert_eq!(done.schedule_name, "yearly");
    let out = native_output(lang, &done);
    assert_eq!(
        out["is_date"],
        json!(true),
        "the worker got a real date: {out}"
    );
    assert_eq!(out["ctx"], context);
    let when = out["when"].as_str().unwrap();
    assert_eq!(
        id,
        format!("sched-yearly-trigger-{when}"),
        "the id carries the time"
    );

    let ids = srv
        .client
        .backfill_schedule(pb::BackfillScheduleRequest {
            schedule_name: "yearly".into(),
            start: year_start(2020),
            end: year_start(2022),
        })
        .await
        .unwrap()
        .into_inner()
        .workflow_ids;
    assert_eq!(
        ids.len(),
        1,
        "2021-01-01 only (both ends exclusive): {ids:?}"
    );
    let done = wait_terminal(&srv.client, &ids[0]).await;
    let out = native_output(lang, &done);
    let expected_when = match lang {
        WorkerLang::Python => "2021-01-01T00:00:00+00:00",
        WorkerLang::TypeScript => "2021-01-01T00:00:00.000Z",
    };
    assert_eq!(out["when"], json!(expected_when));
    assert_eq!(ids[0], format!("sched-yearly-{expected_when}"));
    worker.stop().await;
    srv.stop().await;
}
