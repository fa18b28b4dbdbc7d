//! ApplySchedules: create or replace several schedules atomically, as the clients' apply_schedules.

use dbosd::pb::{self, ScheduleStatus, WorkerLanguage};
use tonic::Code;

use crate::harness::{assert_status, TestServer};

fn schedule(name: &str, cron: &str, app: Option<&str>) -> pb::CreateScheduleRequest {
    pb::CreateScheduleRequest {
        schedule_name: name.into(),
        workflow_name: "scheduled".into(),
        cron: cron.into(),
        language: WorkerLanguage::Python as i32,
        application_name: app.map(str::to_owned),
        ..Default::default()
    }
}

#[tokio::test]
async fn apply_creates_and_replaces_keeping_identity_and_status() {
    let mut srv = TestServer::start().await;
    let existing = srv
        .client
        .create_schedule(schedule("b", "0 0 1 1 *", None))
        .await
        .unwrap()
        .into_inner()
        .schedule
        .unwrap();
    srv.client
        .pause_schedule(pb::PauseScheduleRequest {
            schedule_name: "b".into(),
        })
        .await
        .unwrap();
    let applied = srv
        .client
        .apply_schedules(pb::ApplySchedulesRequest {
            schedules: vec![
                schedule("a", "*/5 * * * *", None),
                schedule("b", "0 12 * * *", None),
            ],
        })
        .await
        .unwrap()
        .into_inner()
        .schedules;
    let names: Vec<&str> = applied.iter().map(|s| s.schedule_name.as_str()).collect();
    assert_eq!(names, ["a", "b"], "results come back in request order");
    assert_eq!(applied[0].status(), ScheduleStatus::Active);
    let b = &applied[1];
    assert_eq!(
        b.schedule_id, existing.schedule_id,
        "a replaced schedule keeps its id"
    );
    assert_eq!(b.status(), ScheduleStatus::Paused, "and its status");
    assert_eq!(b.cron, "0 12 * * *", "and takes the new definition");
    srv.stop().await;
}

#[tokio::test]
async fn apply_is_all_or_nothing_and_validates_every_item() {
    let mut srv = TestServer::start().await;
    srv.client
        .create_schedule(schedule("owned", "0 0 1 1 *", Some("other")))
        .await
        .unwrap();
    let apply = |schedules| pb::ApplySchedulesRequest { schedules };
    assert_status(
        srv.client
            .apply_schedules(apply(vec![
                schedule("new", "0 0 1 1 *", Some("mine")),
                schedule("owned", "0 1 * * *", Some("mine")),
            ]))
            .await,
        Code::FailedPrecondition,
        "another application",
    );
    let db = srv.db.client().await;
    let rows: Vec<(String, String)> = db
        .query(
            "SELECT schedule_name, schedule FROM dbos.workflow_schedules ORDER BY schedule_name",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        rows,
        [("owned".to_owned(), "0 0 1 1 *".to_owned())],
        "nothing was applied"
    );

    assert_status(
        srv.client.apply_schedules(apply(vec![])).await,
        Code::InvalidArgument,
        "schedules",
    );
    assert_status(
        srv.client
            .apply_schedules(apply(vec![schedule("x", "not cron", None)]))
            .await,
        Code::InvalidArgument,
        "schedules[0].cron",
    );
    assert_status(
        srv.client
            .apply_schedules(apply(vec![
                schedule("x", "0 0 1 1 *", None),
                schedule("x", "0 0 2 1 *", None),
            ]))
            .await,
        Code::InvalidArgument,
        "schedules[1].schedule_name",
    );
    srv.stop().await;
}

#[tokio::test]
async fn update_changes_only_the_given_fields() {
    let mut srv = TestServer::start().await;
    let mut ts = schedule("ts", "0 0 1 1 *", None);
    ts.language = WorkerLanguage::Typescript as i32;
    ts.queue_name = Some("q1".into());
    let created = srv
        .client
        .create_schedule(ts)
        .await
        .unwrap()
        .into_inner()
        .schedule
        .unwrap();
    let updated = srv
        .client
        .update_schedule(pb::UpdateScheduleRequest {
            schedule_name: "ts".into(),
            cron: Some("*/10 * * * *".into()),
            queue_name: Some(String::new()),
            context: Some(pb::update_schedule_request::Context::ContextJson(
                crate::harness::pv(serde_json::json!({"region": "eu"})),
            )),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .schedule
        .unwrap();
    assert_eq!(updated.schedule_id, created.schedule_id);
    assert_eq!(updated.cron, "*/10 * * * *");
    assert_eq!(updated.queue_name, "", "an empty queue clears it");
    assert_eq!(
        updated.workflow_name, created.workflow_name,
        "unset fields are kept"
    );
    let db = srv.db.client().await;
    let context: String = db
        .query_one(
            "SELECT context FROM dbos.workflow_schedules WHERE schedule_name = 'ts'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        context, r#"{"json":{"region":"eu"},"__dbos_serializer":"superjson"}"#,
        "the new context keeps the schedule's language (TypeScript superjson)"
    );

    let update = |name: &str, cron: &str| pb::UpdateScheduleRequest {
        schedule_name: name.into(),
        cron: Some(cron.into()),
        ..Default::default()
    };
    assert_status(
        srv.client
            .update_schedule(update("ghost", "0 0 1 1 *"))
            .await,
        Code::NotFound,
        "ghost",
    );
    assert_status(
        srv.client.update_schedule(update("ts", "nope")).await,
        Code::InvalidArgument,
        "cron",
    );
    assert_status(
        srv.client.update_schedule(update("", "0 0 1 1 *")).await,
        Code::InvalidArgument,
        "schedule_name",
    );
    srv.stop().await;
}
