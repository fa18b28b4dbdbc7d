//! Schedules against the tables: the context stored in each language's native format and the CRUD
//! RPCs (trigger and backfill are in `fire.rs`; the worker-side test is in interop/schedules.rs).

use dbosd::pb::{self, create_schedule_request::Context};
use prost_types::Timestamp;
use serde_json::json;
use tonic::Code;

use crate::harness::{assert_status, pv, TestDb, TestServer};

pub(super) fn create(name: &str, lang: pb::WorkerLanguage) -> pb::CreateScheduleRequest {
    pb::CreateScheduleRequest {
        schedule_name: name.into(),
        workflow_name: "scheduled".into(),
        cron: "0 0 1 1 *".into(),
        language: lang as i32,
        ..Default::default()
    }
}

pub(super) fn at(rfc3339: &str) -> Option<Timestamp> {
    let t = chrono::DateTime::parse_from_rfc3339(rfc3339).unwrap();
    Some(Timestamp {
        seconds: t.timestamp(),
        nanos: 0,
    })
}

#[tokio::test]
async fn schedules_store_the_context_in_the_language_native_format() {
    let mut srv = TestServer::start().await;
    let py = srv
        .client
        .create_schedule(create("py-null", pb::WorkerLanguage::Python))
        .await
        .unwrap()
        .into_inner()
        .schedule
        .unwrap();
    let ctx = py.context.clone().unwrap();
    // pickle.dumps(None): what the Python client stores for a schedule without context.
    assert_eq!(ctx.text, "gAROLg==");
    assert_eq!(ctx.language(), pb::WorkerLanguage::Python);
    assert_eq!(ctx.json, Some(pv(json!(null))));
    assert_eq!(py.status(), pb::ScheduleStatus::Active);

    let mut ts = create("ts-json", pb::WorkerLanguage::Typescript);
    ts.context = Some(Context::ContextJson(pv(json!({"tenant": "acme"}))));
    ts.cron_timezone = Some("Europe/Paris".into());
    ts.queue_name = Some("test_queue".into());
    ts.automatic_backfill = true;
    let ts = srv
        .client
        .create_schedule(ts)
        .await
        .unwrap()
        .into_inner()
        .schedule
        .unwrap();
    let ctx = ts.context.unwrap();
    let stored: serde_json::Value = serde_json::from_str(&ctx.text).unwrap();
    assert_eq!(
        stored,
        json!({"json": {"tenant": "acme"}, "__dbos_serializer": "superjson"})
    );
    assert_eq!(ctx.json, Some(pv(json!({"tenant": "acme"}))));
    assert_eq!(
        (
            ts.cron_timezone.as_str(),
            ts.queue_name.as_str(),
            ts.automatic_backfill
        ),
        ("Europe/Paris", "test_queue", true)
    );

    // A typed context with a date is written as superjson with its Date annotation; it has no
    // JSON form but reads back typed.
    let mut dated = create("ts-date", pb::WorkerLanguage::Typescript);
    let when = pb::TypedValue {
        kind: Some(pb::typed_value::Kind::TimestampValue(pb::TypedTimestamp {
            time: at("2026-01-01T00:00:00Z"),
            utc_offset_seconds: 0,
        })),
    };
    dated.context = Some(Context::ContextTyped(when.clone()));
    let got = srv
        .client
        .create_schedule(dated)
        .await
        .unwrap()
        .into_inner()
        .schedule
        .unwrap()
        .context
        .unwrap();
    let text = r#"{"json":"2026-01-01T00:00:00.000Z","meta":{"values":["Date"]},"__dbos_serializer":"superjson"}"#;
    assert_eq!(
        (got.text.as_str(), got.json, got.typed),
        (text, None, Some(when))
    );

    // Read, list, pause, resume, delete.
    let get = |name: &str| pb::GetScheduleRequest {
        schedule_name: name.into(),
    };
    assert_eq!(
        srv.client
            .get_schedule(get("ts-json"))
            .await
            .unwrap()
            .into_inner()
            .schedule
            .unwrap()
            .schedule_id,
        ts.schedule_id
    );
    let paused = srv
        .client
        .pause_schedule(pb::PauseScheduleRequest {
            schedule_name: "py-null".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .schedule
        .unwrap();
    assert_eq!(paused.status(), pb::ScheduleStatus::Paused);
    let names = |req: pb::ListSchedulesRequest| {
        let mut client = srv.client.clone();
        async move {
            client
                .list_schedules(req)
                .await
                .unwrap()
                .into_inner()
                .schedules
                .into_iter()
                .map(|s| s.schedule_name)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        names(pb::ListSchedulesRequest {
            statuses: vec![pb::ScheduleStatus::Active as i32],
            ..Default::default()
        })
        .await,
        ["ts-date", "ts-json"]
    );
    assert_eq!(
        names(pb::ListSchedulesRequest {
            schedule_name_prefixes: vec!["py".into()],
            workflow_names: vec!["scheduled".into()],
            ..Default::default()
        })
        .await,
        ["py-null"]
    );
    let resumed = srv
        .client
        .resume_schedule(pb::ResumeScheduleRequest {
            schedule_name: "py-null".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .schedule
        .unwrap();
    assert_eq!(resumed.status(), pb::ScheduleStatus::Active);
    let deleted = srv
        .client
        .delete_schedule(pb::DeleteScheduleRequest {
            schedule_name: "ts-date".into(),
            allow_missing: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(deleted.deleted);
    let again = srv
        .client
        .delete_schedule(pb::DeleteScheduleRequest {
            schedule_name: "ts-date".into(),
            allow_missing: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!again.deleted);
}

#[tokio::test]
async fn schedule_rpcs_report_their_errors() {
    let mut srv = TestServer::start().await;
    srv.client
        .create_schedule(create("taken", pb::WorkerLanguage::Python))
        .await
        .unwrap();
    let mut cases: Vec<(pb::CreateScheduleRequest, Code, &str)> = vec![
        (
            create("taken", pb::WorkerLanguage::Python),
            Code::AlreadyExists,
            "taken",
        ),
        (
            create("s", pb::WorkerLanguage::Unspecified),
            Code::InvalidArgument,
            "language",
        ),
        (
            create("", pb::WorkerLanguage::Python),
            Code::InvalidArgument,
            "schedule_name",
        ),
    ];
    let mut bad_cron = create("s", pb::WorkerLanguage::Python);
    bad_cron.cron = "61 * * * *".into();
    cases.push((bad_cron, Code::InvalidArgument, "cron"));
    let mut short_cron = create("s", pb::WorkerLanguage::Python);
    short_cron.cron = "* * *".into();
    cases.push((short_cron, Code::InvalidArgument, "cron"));
    let mut bad_tz = create("s", pb::WorkerLanguage::Python);
    bad_tz.cron_timezone = Some("Mars/Olympus".into());
    cases.push((bad_tz, Code::InvalidArgument, "cron_timezone"));
    let mut wrong_native = create("s", pb::WorkerLanguage::Python);
    wrong_native.context = Some(Context::ContextNativeText("{\"json\":1}".into()));
    // Raw native text is off without --allow-native-payloads, whatever it holds.
    cases.push((
        wrong_native,
        Code::FailedPrecondition,
        "context_native_text",
    ));
    let mut json_ctx = create("s", pb::WorkerLanguage::Python);
    json_ctx.context = Some(Context::ContextJson(pv(json!([1]))));
    cases.push((json_ctx, Code::Ok, ""));
    for (req, code, needle) in cases {
        let got = srv.client.create_schedule(req).await;
        if code == Code::Ok {
            got.unwrap();
        } else {
            assert_status(got, code, needle);
        }
    }
    let name = || "ghost".to_owned();
    assert_status(
        srv.client
            .get_schedule(pb::GetScheduleRequest {
                schedule_name: name(),
            })
            .await,
        Code::NotFound,
        "ghost",
    );
    assert_status(
        srv.client
            .pause_schedule(pb::PauseScheduleRequest {
                schedule_name: name(),
            })
            .await,
        Code::NotFound,
        "ghost",
    );
    assert_status(
        srv.client
            .resume_schedule(pb::ResumeScheduleRequest {
                schedule_name: name(),
            })
            .await,
        Code::NotFound,
        "ghost",
    );
    assert_status(
        srv.client
            .delete_schedule(pb::DeleteScheduleRequest {
                schedule_name: name(),
                allow_missing: false,
            })
            .await,
        Code::NotFound,
        "ghost",
    );
    assert_status(
        srv.client
            .trigger_schedule(pb::TriggerScheduleRequest {
                schedule_name: name(),
            })
            .await,
        Code::NotFound,
        "ghost",
    );
    assert_status(
        srv.client
            .backfill_schedule(pb::BackfillScheduleRequest {
                schedule_name: name(),
                start: at("2026-01-01T00:00:00Z"),
                end: at("2026-01-02T00:00:00Z"),
            })
            .await,
        Code::NotFound,
        "ghost",
    );
    assert_status(
        srv.client
            .get_schedule(pb::GetScheduleRequest::default())
            .await,
        Code::InvalidArgument,
        "schedule_name",
    );
    assert_status(
        srv.client
            .list_schedules(pb::ListSchedulesRequest {
                statuses: vec![0],
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "statuses",
    );
    // A context in neither format (a custom serializer's): dbosd cannot write its firing's arguments.
    srv.db
        .client()
        .await
        .execute(
            "INSERT INTO dbos.workflow_schedules (schedule_id, schedule_name, workflow_name, schedule, context)
             VALUES ('x', 'custom', 'scheduled', '0 0 1 1 *', 'custom-serializer-bytes')",
            &[],
        )
        .await
        .unwrap();
    let custom = srv
        .client
        .get_schedule(pb::GetScheduleRequest {
            schedule_name: "custom".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .schedule
        .unwrap()
        .context
        .unwrap();
    assert_eq!(custom.language(), pb::WorkerLanguage::Unspecified);
    assert_status(
        srv.client
            .trigger_schedule(pb::TriggerScheduleRequest {
                schedule_name: "custom".into(),
            })
            .await,
        Code::FailedPrecondition,
        "neither",
    );
    let backfill = |start: &str, end: &str| pb::BackfillScheduleRequest {
        schedule_name: "taken".into(),
        start: at(start),
        end: at(end),
    };
    assert_status(
        srv.client
            .backfill_schedule(backfill("2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z"))
            .await,
        Code::InvalidArgument,
        "end",
    );
    srv.db
        .client()
        .await
        .execute(
            "UPDATE dbos.workflow_schedules SET schedule = '* * * * * *' WHERE schedule_name = 'taken'",
            &[],
        )
        .await
        .unwrap();
    assert_status(
        srv.client
            .backfill_schedule(backfill("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"))
            .await,
        Code::InvalidArgument,
        "10000 firings",
    );
}

#[tokio::test]
async fn schedule_rpcs_refuse_a_schema_that_predates_them() {
    let db = TestDb::new().await;
    db.client()
        .await
        .batch_execute("ALTER TABLE dbos.workflow_schedules DROP COLUMN queue_name")
        .await
        .unwrap();
    let mut srv = TestServer::start_on(db, |_| {}).await;
    let name = || "s".to_owned();
    let fails = [
        srv.client
            .create_schedule(create("s", pb::WorkerLanguage::Python))
            .await
            .map(|_| ()),
        srv.client
            .list_schedules(pb::ListSchedulesRequest::default())
            .await
            .map(|_| ()),
        srv.client
            .get_schedule(pb::GetScheduleRequest {
                schedule_name: name(),
            })
            .await
            .map(|_| ()),
        srv.client
            .pause_schedule(pb::PauseScheduleRequest {
                schedule_name: name(),
            })
            .await
            .map(|_| ()),
        srv.client
            .resume_schedule(pb::ResumeScheduleRequest {
                schedule_name: name(),
            })
            .await
            .map(|_| ()),
        srv.client
            .delete_schedule(pb::DeleteScheduleRequest {
                schedule_name: name(),
                allow_missing: true,
            })
            .await
            .map(|_| ()),
        srv.client
            .trigger_schedule(pb::TriggerScheduleRequest {
                schedule_name: name(),
            })
            .await
            .map(|_| ()),
        srv.client
            .backfill_schedule(pb::BackfillScheduleRequest {
                schedule_name: name(),
                start: at("2026-01-01T00:00:00Z"),
                end: at("2026-01-02T00:00:00Z"),
            })
            .await
            .map(|_| ()),
    ];
    for result in fails {
        assert_status(result, Code::FailedPrecondition, "schedule table");
    }
}
