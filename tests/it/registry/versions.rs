//! Application versions, RenameApplication and the registry RPCs on old schemas, against the tables
//! (queues are in queues.rs; the worker-side tests are in interop/registry.rs).

use dbosd::pb;
use prost_types::FieldMask;
use tonic::Code;

use crate::{
    harness::{assert_status, TestDb, TestServer},
    registry::queues::register,
};

/// Inserts a version row as a worker registers it.
async fn version(db: &tokio_postgres::Client, name: &str, owner: Option<&str>, ts: i64) {
    db.execute(
        "INSERT INTO dbos.application_versions (version_id, version_name, version_timestamp, application_name)
         VALUES (gen_random_uuid()::text, $1, $2, $3)",
        &[&name, &ts, &owner],
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn application_versions_are_listed_and_the_latest_is_read_and_set() {
    let mut srv = TestServer::start().await;
    assert_status(
        srv.client
            .get_latest_application_version(pb::GetLatestApplicationVersionRequest::default())
            .await,
        Code::NotFound,
        "no application version",
    );
    let db = srv.db.client().await;
    version(&db, "a1", Some("app-a"), 1_000).await;
    version(&db, "a2", Some("app-a"), 3_000).await;
    version(&db, "b1", Some("app-b"), 5_000).await;
    version(&db, "free", None, 2_000).await;

    let list = |apps: &[&str]| pb::ListApplicationVersionsRequest {
        application_names: apps.iter().map(|a| a.to_string()).collect(),
    };
    let names = |resp: pb::ListApplicationVersionsResponse| -> Vec<String> {
        resp.versions.into_iter().map(|v| v.version_name).collect()
    };
    let all = srv
        .client
        .list_application_versions(list(&[]))
        .await
        .unwrap();
    assert_eq!(names(all.into_inner()), ["b1", "a2", "free", "a1"]);
    let a = srv
        .client
        .list_application_versions(list(&["app-a"]))
        .await
        .unwrap();
    assert_eq!(names(a.into_inner()), ["a2", "free", "a1"]);

    let latest = |app: Option<&str>| pb::GetLatestApplicationVersionRequest {
        application_name: app.map(str::to_owned),
    };
    let got = srv
        .client
        .get_latest_application_version(latest(Some("app-a")))
        .await
        .unwrap()
        .into_inner()
        .version
        .unwrap();
    assert_eq!(
        (got.version_name.as_str(), got.application_name.as_str()),
        ("a2", "app-a")
    );
    let got = srv
        .client
        .get_latest_application_version(latest(None))
        .await
        .unwrap()
        .into_inner()
        .version
        .unwrap();
    assert_eq!(
        got.version_name, "b1",
        "no application: every version counts"
    );

    // Setting a1 latest makes it newer than every version, even b1's future-ish timestamp.
    let set = |v: &str, app: Option<&str>| pb::SetLatestApplicationVersionRequest {
        version_name: v.into(),
        application_name: app.map(str::to_owned),
    };
    let v = srv
        .client
        .set_latest_application_version(set("a1", Some("app-a")))
        .await
        .unwrap()
        .into_inner()
        .version
        .unwrap();
    assert_eq!(v.version_name, "a1");
    let got = srv
        .client
        .get_latest_application_version(latest(Some("app-a")))
        .await
        .unwrap()
        .into_inner()
        .version
        .unwrap();
    assert_eq!(got.version_name, "a1");
    // An unclaimed version is claimed by the application that promotes it.
    let v = srv
        .client
        .set_latest_application_version(set("free", Some("app-b")))
        .await
        .unwrap()
        .into_inner()
        .version
        .unwrap();
    assert_eq!(v.application_name, "app-b");
    assert_status(
        srv.client
            .set_latest_application_version(set("a2", Some("app-b")))
            .await,
        Code::FailedPrecondition,
        "app-a",
    );
    assert_status(
        srv.client
            .set_latest_application_version(set("nope", None))
            .await,
        Code::NotFound,
        "nope",
    );
    assert_status(
        srv.client
            .set_latest_application_version(set("", None))
            .await,
        Code::InvalidArgument,
        "version_name",
    );
}

#[tokio::test]
async fn rename_application_moves_every_owned_row_in_batches() {
    let mut srv = TestServer::start().await;
    let db = srv.db.client().await;
    db.batch_execute(
        "INSERT INTO dbos.queues (name, polling_interval_sec, application_name) VALUES
             ('q-old', 1.0, 'old-app'), ('q-free', 1.0, NULL), ('q-other', 1.0, 'other');
         INSERT INTO dbos.application_versions (version_id, version_name, application_name) VALUES
             ('v1', 'v1', 'old-app'), ('v2', 'v2', NULL);
         INSERT INTO dbos.workflow_schedules (schedule_id, schedule_name, workflow_name, schedule, context, application_name)
             VALUES ('s1', 's1', 'wf', '* * * * *', 'x', 'old-app');
         INSERT INTO dbos.workflow_status (workflow_uuid, status, name, application_name) VALUES
             ('w1', 'ENQUEUED', 'wf', 'old-app'), ('w2', 'SUCCESS', 'wf', 'old-app'),
             ('w3', 'ERROR', 'wf', 'old-app'), ('w4', 'SUCCESS', 'wf', 'old-app'),
             ('w5', 'SUCCESS', 'wf', NULL), ('w6', 'SUCCESS', 'wf', 'other');
         INSERT INTO dbos.operation_outputs (workflow_uuid, function_id, function_name, application_name) VALUES
             ('w2', 1, 's', 'old-app'), ('w2', 2, 's', 'old-app'), ('w3', 1, 's', 'old-app'),
             ('w5', 1, 's', NULL);",
    )
    .await
    .unwrap();
    let counts = srv
        .client
        .rename_application(pb::RenameApplicationRequest {
            old_name: Some("old-app".into()),
            new_name: "new-app".into(),
            batch_size: Some(1),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            counts.queues,
            counts.schedules,
            counts.versions,
            counts.workflows,
            counts.steps
        ),
        (1, 1, 1, 4, 3)
    );
    let owned: i64 = db
        .query_one(
            "SELECT (SELECT count(*) FROM dbos.workflow_status WHERE application_name = 'new-app')
                  + (SELECT count(*) FROM dbos.operation_outputs WHERE application_name = 'new-app')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(owned, 7);

    // Adopting unclaimed rows, in one transaction.
    let counts = srv
        .client
        .rename_application(pb::RenameApplicationRequest {
            old_name: None,
            new_name: "new-app".into(),
            single_transaction: true,
            adopt_unclaimed_rows: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            counts.queues,
            counts.versions,
            counts.workflows,
            counts.steps
        ),
        (1, 1, 1, 1)
    );
    let other: Option<String> = db
        .query_one(
            "SELECT application_name FROM dbos.workflow_status WHERE workflow_uuid = 'w6'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        other.as_deref(),
        Some("other"),
        "other applications keep their rows"
    );

    let bad = |old: Option<&str>, new: &str, adopt: bool, batch: Option<i32>| {
        pb::RenameApplicationRequest {
            old_name: old.map(str::to_owned),
            new_name: new.into(),
            batch_size: batch,
            adopt_unclaimed_rows: adopt,
            ..Default::default()
        }
    };
    for (req, needle) in [
        (bad(Some("a-b-c"), "Bad Name", false, None), "new_name"),
        (bad(Some("a-b-c"), "ab", false, None), "new_name"),
        (bad(Some(""), "new-app", false, None), "old_name"),
        (bad(None, "new-app", false, None), "old_name"),
        (bad(Some("new-app"), "new-app", false, None), "new_name"),
        (bad(Some("x-y"), "new-app", false, Some(0)), "batch_size"),
    ] {
        assert_status(
            srv.client.rename_application(req).await,
            Code::InvalidArgument,
            needle,
        );
    }
}

#[tokio::test]
async fn registry_rpcs_refuse_a_schema_that_predates_them() {
    let db = TestDb::new().await;
    db.client()
        .await
        .batch_execute(
            "ALTER TABLE dbos.queues DROP COLUMN partition_concurrency;
             ALTER TABLE dbos.application_versions DROP COLUMN application_name;",
        )
        .await
        .unwrap();
    let mut srv = TestServer::start_on(db, |_| {}).await;
    assert_status(
        srv.client
            .list_queues(pb::ListQueuesRequest::default())
            .await,
        Code::FailedPrecondition,
        "queue registry",
    );
    assert_status(
        srv.client
            .register_queue(register(
                pb::Queue {
                    name: "q".into(),
                    ..Default::default()
                },
                pb::QueueConflictPolicy::Unspecified,
            ))
            .await,
        Code::FailedPrecondition,
        "queue registry",
    );
    assert_status(
        srv.client
            .get_queue(pb::GetQueueRequest { name: "q".into() })
            .await,
        Code::FailedPrecondition,
        "queue registry",
    );
    assert_status(
        srv.client
            .delete_queue(pb::DeleteQueueRequest {
                name: "q".into(),
                allow_missing: true,
            })
            .await,
        Code::FailedPrecondition,
        "queue registry",
    );
    assert_status(
        srv.client
            .update_queue(pb::UpdateQueueRequest {
                queue: Some(pb::Queue {
                    name: "q".into(),
                    ..Default::default()
                }),
                update_mask: Some(FieldMask {
                    paths: vec!["concurrency".into()],
                }),
            })
            .await,
        Code::FailedPrecondition,
        "queue registry",
    );
    assert_status(
        srv.client
            .list_application_versions(pb::ListApplicationVersionsRequest::default())
            .await,
        Code::FailedPrecondition,
        "application versions",
    );
    assert_status(
        srv.client
            .get_latest_application_version(pb::GetLatestApplicationVersionRequest::default())
            .await,
        Code::FailedPrecondition,
        "application versions",
    );
    assert_status(
        srv.client
            .set_latest_application_version(pb::SetLatestApplicationVersionRequest {
                version_name: "v".into(),
                application_name: None,
            })
            .await,
        Code::FailedPrecondition,
        "application versions",
    );
}
