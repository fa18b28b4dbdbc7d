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
