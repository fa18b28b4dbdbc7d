//! TriggerSchedule and BackfillSchedule against the tables: the workflow ids and rows each writes,
//! as each language's scheduler writes them (the worker-side test is in interop/schedules.rs).

use dbosd::pb;
use serde_json::json;

use super::crud::{at, create};
use crate::harness::TestServer;

#[tokio::test]
async fn backfill_and_trigger_write_the_rows_each_language_writes() {
    let mut srv = TestServer::start().await;
    let mut py = create("py", pb::WorkerLanguage::Python);
    py.cron = "0 9 * * *".into();
    py.cron_timezone = Some("America/New_York".into());
    srv.client.create_schedule(py).await.unwrap();
    let mut ts = create("ts", pb::WorkerLanguage::Typescript);
    ts.cron = "30 0 0 * * *".into();
    ts.queue_name = Some("test_queue".into());
    srv.client.create_schedule(ts).await.unwrap();

    let backfill = |name: &str| pb::BackfillScheduleRequest {
        schedule_name: name.into(),
        start: at("2026-01-01T00:00:00Z"),
        end: at("2026-01-03T00:00:00Z"),
    };
    let ids = srv
        .client
        .backfill_schedule(backfill("py"))
        .await
        .unwrap()
        .into_inner()
        .workflow_ids;
    assert_eq!(
        ids,
        [
            "sched-py-2026-01-01T09:00:00-05:00",
            "sched-py-2026-01-02T09:00:00-05:00"
        ]
    );
    let ids = srv
        .client
        .backfill_schedule(backfill("ts"))
        .await
        .unwrap()
        .into_inner()
        .workflow_ids;
    assert_eq!(
        ids,
        [
            "sched-ts-2026-01-01T00:00:30.000Z",
            "sched-ts-2026-01-02T00:00:30.000Z"
        ]
    );
    // Again: the same ids, nothing new.
    let again = srv
        .client
        .backfill_schedule(backfill("ts"))
        .await
        .unwrap()
        .into_inner()
        .workflow_ids;
    assert_eq!(again, ids);
    let db = srv.db.client().await;
    let rows = db
        .query(
            "SELECT ws.workflow_uuid, ws.serialization, ws.queue_name, ws.schedule_name, wi.inputs
             FROM dbos.workflow_status ws JOIN dbos.workflow_input wi USING (workflow_uuid)
             ORDER BY ws.workflow_uuid",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 4);
    let py_row = &rows[0];
    assert_eq!(
        py_row.get::<_, Option<String>>(1),
        None,
        "Python firings are native (NULL)"
    );
    assert_eq!(py_row.get::<_, String>(2), "_dbos_internal_queue");
    assert_eq!(py_row.get::<_, String>(3), "py");
    let ts_row = &rows[2];
    assert_eq!(
        ts_row.get::<_, Option<String>>(1).as_deref(),
        Some("js_superjson")
    );
    assert_eq!(ts_row.get::<_, String>(2), "test_queue");
    let inputs: serde_json::Value = serde_json::from_str(&ts_row.get::<_, String>(4)).unwrap();
    assert_eq!(
        inputs,
        json!({"json": ["2026-01-01T00:00:30.000Z", null], "meta": {"values": {"0": ["Date"]}},
               "__dbos_serializer": "superjson"})
    );

    let id = srv
        .client
        .trigger_schedule(pb::TriggerScheduleRequest {
            schedule_name: "ts".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .workflow_id;
    assert!(
        id.starts_with("sched-ts-trigger-") && id.ends_with('Z'),
        "{id}"
    );
    let id = srv
        .client
        .trigger_schedule(pb::TriggerScheduleRequest {
            schedule_name: "py".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .workflow_id;
    assert!(
        id.starts_with("sched-py-trigger-") && id.ends_with("+00:00"),
        "{id}"
    );
}
