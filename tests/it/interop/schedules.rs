//! A schedule created through dbosd is fired (triggered, backfilled) as its own language fires it:
//! the worker runs the workflow with a real date/datetime and the context, decoded natively. Typed
//! contexts (and a raw pickle from a permitted token) arrive as the language's own values: Python
//! datetime/date/Decimal/UUID/bytes, TypeScript Date/bigint/Uint8Array.

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

fn typed(kind: pb::typed_value::Kind) -> pb::TypedValue {
    pb::TypedValue { kind: Some(kind) }
}

fn typed_map(entries: Vec<(&str, pb::typed_value::Kind)>) -> pb::TypedValue {
    typed(pb::typed_value::Kind::MapValue(pb::TypedMap {
        entries: entries
            .into_iter()
            .map(|(k, v)| pb::TypedMapEntry {
                key: k.into(),
                value: Some(typed(v)),
            })
            .collect(),
    }))
}

fn timestamp(seconds: i64, nanos: i32, offset: i32) -> pb::typed_value::Kind {
    pb::typed_value::Kind::TimestampValue(pb::TypedTimestamp {
        time: Some(Timestamp { seconds, nanos }),
        utc_offset_seconds: offset,
    })
}

/// A schedule of `scheduled_types` with `context`, triggered once: the workflow's output.
async fn fire_types(
    client: &mut pb::workflow_service_client::WorkflowServiceClient<tonic::transport::Channel>,
    lang: WorkerLang,
    context: pb::create_schedule_request::Context,
) -> Json {
    let language = match lang {
        WorkerLang::Python => pb::WorkerLanguage::Python,
        WorkerLang::TypeScript => pb::WorkerLanguage::Typescript,
    };
    client
        .create_schedule(pb::CreateScheduleRequest {
            schedule_name: "typed".into(),
            workflow_name: "scheduled_types".into(),
            cron: "0 0 1 1 *".into(),
            language: language as i32,
            context: Some(context),
            ..Default::default()
        })
        .await
        .unwrap();
    let id = client
        .trigger_schedule(pb::TriggerScheduleRequest {
            schedule_name: "typed".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .workflow_id;
    let done = wait_terminal(client, &id).await;
    assert_eq!(done.status(), pb::WorkflowStatus::Success, "{done:?}");
    native_output(lang, &done)
}

#[tokio::test]
async fn a_typed_context_reaches_a_python_worker_as_real_python_values() {
    use pb::typed_value::Kind;
    let (mut srv, worker) = with_worker(WorkerLang::Python).await;
    // 2026-01-01T21:34:05.678901Z shown at +05:30, and midnight UTC.
    let context = typed_map(vec![
        ("at", timestamp(1_767_303_245, 678_901_000, 19_800)),
        ("utc", timestamp(1_767_312_000, 0, 0)),
        ("west", timestamp(1_767_312_000, 0, -18_000)),
        (
            "day",
            Kind::DateValue(pb::TypedDate {
                year: 2026,
                month: 1,
                day: 2,
            }),
        ),
        ("amount", Kind::DecimalValue("-12.3450".into())),
        (
            "id",
            Kind::UuidValue("12345678-1234-5678-1234-567812345678".into()),
        ),
        ("raw", Kind::BytesValue(vec![b'a', b'b', 0, 0xff])),
        ("n", Kind::IntValue(-3_000_000_000)),
    ]);
    let out = fire_types(
        &mut srv.client,
        WorkerLang::Python,
        pb::create_schedule_request::Context::ContextTyped(context),
    )
    .await;
    assert_eq!(out["is_date"], json!(true));
    assert_eq!(
        out["ctx"],
        json!({
            "at": ["datetime.datetime", "datetime.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=datetime.timezone(datetime.timedelta(seconds=19800)))"],
            "utc": ["datetime.datetime", "datetime.datetime(2026, 1, 2, 0, 0, tzinfo=datetime.timezone.utc)"],
            "west": ["datetime.datetime", "datetime.datetime(2026, 1, 1, 19, 0, tzinfo=datetime.timezone(datetime.timedelta(days=-1, seconds=68400)))"],
            "day": ["datetime.date", "datetime.date(2026, 1, 2)"],
            "amount": ["decimal.Decimal", "Decimal('-12.3450')"],
            "id": ["uuid.UUID", "UUID('12345678-1234-5678-1234-567812345678')"],
            "raw": ["builtins.bytes", "b'ab\\x00\\xff'"],
            "n": ["builtins.int", "-3000000000"],
        })
    );
    worker.stop().await;
    srv.stop().await;
}

#[tokio::test]
async fn a_raw_datetime_pickle_from_a_permitted_token_reaches_a_python_worker() {
    use crate::{
        harness::{TestDb, TestServer, Worker, WorkerOptions},
        schedules::native_payloads::{client_as, native_tokens, PY_DATETIME},
    };
    let tokens = native_tokens();
    let path = tokens.path().to_owned();
    let srv = TestServer::start_on(TestDb::new().await, |s| {
        s.native.allow_raw = true;
        s.tokens_file = Some(path);
    })
    .await;
    let worker = Worker::start(WorkerLang::Python, &srv.db.url, WorkerOptions::default()).await;
    let mut client = client_as(&srv.channel, "tok-native");
    client
        .create_schedule(pb::CreateScheduleRequest {
            schedule_name: "raw".into(),
            workflow_name: "scheduled_types".into(),
            cron: "0 0 1 1 *".into(),
            language: pb::WorkerLanguage::Python as i32,
            context: Some(pb::create_schedule_request::Context::ContextNativeText(
                PY_DATETIME.into(),
            )),
            ..Default::default()
        })
        .await
        .expect("the switch is on and the token is permitted");
    let id = client
        .trigger_schedule(pb::TriggerScheduleRequest {
            schedule_name: "raw".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .workflow_id;
    let db = &srv.db;
    crate::harness::eventually("the firing to succeed", || async {
        let sql = format!(
            "SELECT count(*) FROM dbos.workflow_status WHERE workflow_uuid = '{id}' AND status = 'SUCCESS'"
        );
        (db.count(&sql).await == 1).then_some(())
    })
    .await;
    let done = client
        .get_workflow(pb::GetWorkflowRequest {
            workflow_id: id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .workflow
        .unwrap();
    let out = native_output(WorkerLang::Python, &done);
    assert_eq!(
        out["ctx"]["at"],
        json!(["datetime.datetime", "datetime.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=datetime.timezone(datetime.timedelta(seconds=19800)))"])
    );
    worker.stop().await;
    srv.stop().await;
}

#[tokio::test]
async fn a_typed_date_reaches_a_typescript_worker_as_a_date() {
    use pb::typed_value::Kind;
    let (mut srv, worker) = with_worker(WorkerLang::TypeScript).await;
    let context = typed_map(vec![
        ("at", timestamp(1_767_303_245, 678_000_000, 0)),
        ("big", Kind::IntValue(9_007_199_254_740_993)),
        ("raw", Kind::BytesValue(vec![1, 2, 255])),
        ("label", Kind::StringValue("x".into())),
    ]);
    let out = fire_types(
        &mut srv.client,
        WorkerLang::TypeScript,
        pb::create_schedule_request::Context::ContextTyped(context),
    )
    .await;
    assert_eq!(out["is_date"], json!(true));
    assert_eq!(
        out["ctx"],
        json!({
            "at": ["Date", "2026-01-01T21:34:05.678Z"],
            "big": ["BigInt", "9007199254740993"],
            "raw": ["Uint8Array", "1,2,255"],
            "label": ["String", "x"],
        })
    );
    // What TypeScript cannot hold is refused, naming the field.
    let bad = typed_map(vec![(
        "day",
        Kind::DateValue(pb::TypedDate {
            year: 2026,
            month: 1,
            day: 2,
        }),
    )]);
    let got = srv
        .client
        .create_schedule(pb::CreateScheduleRequest {
            schedule_name: "bad".into(),
            workflow_name: "scheduled_types".into(),
            cron: "0 0 1 1 *".into(),
            language: pb::WorkerLanguage::Typescript as i32,
            context: Some(pb::create_schedule_request::Context::ContextTyped(bad)),
            ..Default::default()
        })
        .await;
    crate::harness::assert_status(
        got,
        tonic::Code::InvalidArgument,
        "context_typed[\"day\"]: TypeScript (superjson) cannot hold a date",
    );
    worker.stop().await;
    srv.stop().await;
}
