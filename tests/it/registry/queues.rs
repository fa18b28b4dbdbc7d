//! The queue registry against the tables (versions and rename are in versions.rs; the
//! worker-side tests are in interop/registry.rs).

use dbosd::pb;
use prost_types::{Duration, FieldMask};
use tonic::Code;

use crate::harness::{assert_status, TestDb, TestServer};

fn secs(s: i64, nanos: i32) -> Option<Duration> {
    Some(Duration { seconds: s, nanos })
}

fn full_queue(name: &str) -> pb::Queue {
    pb::Queue {
        name: name.into(),
        concurrency: Some(10),
        worker_concurrency: Some(4),
        rate_limit: Some(pb::RateLimit {
            limit: 50,
            period: secs(30, 0),
        }),
        partition_concurrency: Some(3),
        partition_worker_concurrency: Some(2),
        partition_rate_limit: Some(pb::RateLimit {
            limit: 5,
            period: secs(1, 500_000_000),
        }),
        polling_interval: secs(0, 250_000_000),
        ..Default::default()
    }
}

pub(crate) fn register(
    queue: pb::Queue,
    on_conflict: pb::QueueConflictPolicy,
) -> pb::RegisterQueueRequest {
    pb::RegisterQueueRequest {
        queue: Some(queue),
        on_conflict: on_conflict as i32,
    }
}

#[tokio::test]
async fn queues_are_registered_read_listed_updated_and_deleted_with_every_column() {
    let mut srv = TestServer::start().await;
    let resp = srv
        .client
        .register_queue(register(
            full_queue("orders"),
            pb::QueueConflictPolicy::Unspecified,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(resp.created);
    let q = resp.queue.unwrap();
    assert_eq!(q.concurrency, Some(10));
    assert_eq!(q.partition_rate_limit.unwrap().period, secs(1, 500_000_000));
    assert_eq!(q.polling_interval, secs(0, 250_000_000));
    assert!(q.partitioned && q.application_name.is_empty() && !q.queue_id.is_empty());

    // The row is the one DBOS's register_queue writes, legacy columns included.
    let db = srv.db.client().await;
    let row = db
        .query_one(
            "SELECT concurrency, worker_concurrency, rate_limit_max, rate_limit_period_sec,
                    partition_concurrency, partition_worker_concurrency, partition_rate_limit_max,
                    partition_rate_limit_period_sec, polling_interval_sec, priority_enabled,
                    partition_queue, application_name
             FROM dbos.queues WHERE name = 'orders'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, Option<i32>>(0), Some(10));
    assert_eq!(row.get::<_, Option<i32>>(1), Some(4));
    assert_eq!(row.get::<_, Option<i32>>(2), Some(50));
    assert_eq!(row.get::<_, Option<f64>>(3), Some(30.0));
    assert_eq!(row.get::<_, Option<i32>>(6), Some(5));
    assert_eq!(row.get::<_, Option<f64>>(7), Some(1.5));
    assert_eq!(row.get::<_, f64>(8), 0.25);
    assert!(row.get::<_, bool>(9) && row.get::<_, bool>(10));
    assert_eq!(row.get::<_, Option<String>>(11), None);

    // ALWAYS_UPDATE overwrites every limit; NEVER_UPDATE leaves the queue as it is.
    let plain = pb::Queue {
        name: "orders".into(),
        concurrency: Some(1),
        ..Default::default()
    };
    let resp = srv
        .client
        .register_queue(register(
            plain.clone(),
            pb::QueueConflictPolicy::AlwaysUpdate,
        ))
        .await
        .unwrap()
        .into_inner();
    let q = resp.queue.unwrap();
    assert!(!resp.created);
    assert_eq!((q.concurrency, q.worker_concurrency), (Some(1), None));
    assert!(!q.partitioned);
    assert_eq!(q.polling_interval, secs(1, 0), "the DBOS default");
    let mut other = plain.clone();
    other.concurrency = Some(7);
    let resp = srv
        .client
        .register_queue(register(other, pb::QueueConflictPolicy::NeverUpdate))
        .await
        .unwrap()
        .into_inner();
    assert!(!resp.created);
    assert_eq!(resp.queue.unwrap().concurrency, Some(1));

    // UpdateQueue writes the masked fields only; a masked field left unset is cleared.
    let update = |queue: pb::Queue, paths: &[&str]| pb::UpdateQueueRequest {
        queue: Some(queue),
        update_mask: Some(FieldMask {
            paths: paths.iter().map(|p| p.to_string()).collect(),
        }),
    };
    let q = srv
        .client
        .update_queue(update(
            pb::Queue {
                name: "orders".into(),
                worker_concurrency: Some(1),
                concurrency: Some(99),
                ..Default::default()
            },
            &["worker_concurrency"],
        ))
        .await
        .unwrap()
        .into_inner()
        .queue
        .unwrap();
    assert_eq!((q.concurrency, q.worker_concurrency), (Some(1), Some(1)));
    let q = srv
        .client
        .update_queue(update(
            pb::Queue {
                name: "orders".into(),
                ..Default::default()
            },
            &["concurrency", "worker_concurrency"],
        ))
        .await
        .unwrap()
        .into_inner()
        .queue
        .unwrap();
    assert_eq!((q.concurrency, q.worker_concurrency), (None, None));
    assert_status(
        srv.client
            .update_queue(update(
                pb::Queue {
                    name: "orders".into(),
                    concurrency: Some(1),
                    worker_concurrency: Some(2),
                    ..Default::default()
                },
                &["worker_concurrency", "concurrency"],
            ))
            .await,
        Code::InvalidArgument,
        "worker_concurrency",
    );
    assert_status(
        srv.client
            .update_queue(update(
                pb::Queue {
                    name: "orders".into(),
                    ..Default::default()
                },
                &["name"],
            ))
            .await,
        Code::InvalidArgument,
        "update_mask",
    );
    assert_status(
        srv.client
            .update_queue(update(
                pb::Queue {
                    name: "orders".into(),
                    ..Default::default()
                },
                &[],
            ))
            .await,
        Code::InvalidArgument,
        "update_mask",
    );
    assert_status(
        srv.client
            .update_queue(update(
                pb::Queue {
                    name: "nope".into(),
                    ..Default::default()
                },
                &["concurrency"],
            ))
            .await,
        Code::NotFound,
        "nope",
    );

    // Get, list, delete.
    let got = srv
        .client
        .get_queue(pb::GetQueueRequest {
            name: "orders".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .queue
        .unwrap();
    assert_eq!(got.name, "orders");
    assert_status(
        srv.client
            .get_queue(pb::GetQueueRequest {
                name: "nope".into(),
            })
            .await,
        Code::NotFound,
        "nope",
    );
    assert_status(
        srv.client
            .get_queue(pb::GetQueueRequest { name: " ".into() })
            .await,
        Code::InvalidArgument,
        "name",
    );
    let deleted = srv
        .client
        .delete_queue(pb::DeleteQueueRequest {
            name: "orders".into(),
            allow_missing: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(deleted.deleted);
    assert_status(
        srv.client
            .delete_queue(pb::DeleteQueueRequest {
                name: "orders".into(),
                allow_missing: false,
            })
            .await,
        Code::NotFound,
        "orders",
    );
    let missing = srv
        .client
        .delete_queue(pb::DeleteQueueRequest {
            name: "orders".into(),
            allow_missing: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!missing.deleted);
    assert!(srv
        .client
        .list_queues(pb::ListQueuesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .queues
        .is_empty());
}

#[tokio::test]
async fn queue_limits_are_validated_as_dbos_validates_them() {
    let mut srv = TestServer::start().await;
    let cases: Vec<(pb::Queue, &str)> = vec![
        (
            pb::Queue {
                name: "_dbos_mine".into(),
                ..Default::default()
            },
            "reserved",
        ),
        (pb::Queue::default(), "queue.name"),
        (
            pb::Queue {
                name: "q".into(),
                concurrency: Some(2),
                worker_concurrency: Some(3),
                ..Default::default()
            },
            "worker_concurrency",
        ),
        (
            pb::Queue {
                name: "q".into(),
                partition_concurrency: Some(0),
                ..Default::default()
            },
            "partition_concurrency",
        ),
        (
            pb::Queue {
                name: "q".into(),
                concurrency: Some(-1),
                ..Default::default()
            },
            "concurrency",
        ),
        (
            pb::Queue {
                name: "q".into(),
                rate_limit: Some(pb::RateLimit {
                    limit: 3,
                    period: None,
                }),
                ..Default::default()
            },
            "rate_limit.period",
        ),
        (
            pb::Queue {
                name: "q".into(),
                polling_interval: secs(0, 0),
                ..Default::default()
            },
            "polling_interval",
        ),
    ];
    for (queue, needle) in cases {
        assert_status(
            srv.client
                .register_queue(register(queue, pb::QueueConflictPolicy::Unspecified))
                .await,
            Code::InvalidArgument,
            needle,
        );
    }
    assert_status(
        srv.client
            .register_queue(pb::RegisterQueueRequest::default())
            .await,
        Code::InvalidArgument,
        "queue",
    );
}

#[tokio::test]
async fn queue_ownership_follows_dbos_rules() {
    let mut srv = TestServer::start_on(TestDb::new().await, |s| {
        s.application_name = Some("app-a".into());
    })
    .await;
    let named = |name: &str, owner: &str| pb::Queue {
        name: name.into(),
        application_name: owner.into(),
        ..Default::default()
    };
    // dbosd's configured application owns what it registers without a name.
    let q = srv
        .client
        .register_queue(register(
            named("mine", ""),
            pb::QueueConflictPolicy::Unspecified,
        ))
        .await
        .unwrap()
        .into_inner()
        .queue
        .unwrap();
    assert_eq!(q.application_name, "app-a");
    // Another application cannot take the name, under either policy.
    for policy in [
        pb::QueueConflictPolicy::AlwaysUpdate,
        pb::QueueConflictPolicy::NeverUpdate,
    ] {
        assert_status(
            srv.client
                .register_queue(register(named("mine", "app-b"), policy))
                .await,
            Code::AlreadyExists,
            "app-a",
        );
    }
    // An unclaimed queue is claimed by a named registrar.
    let db = srv.db.client().await;
    db.execute(
        "INSERT INTO dbos.queues (name, polling_interval_sec) VALUES ('shared', 1.0), ('other', 1.0)",
        &[],
    )
    .await
    .unwrap();
    db.execute(
        "UPDATE dbos.queues SET application_name = 'app-c' WHERE name = 'other'",
        &[],
    )
    .await
    .unwrap();
    let q = srv
        .client
        .register_queue(register(
            named("shared", "app-b"),
            pb::QueueConflictPolicy::Unspecified,
        ))
        .await
        .unwrap()
        .into_inner()
        .queue
        .unwrap();
    assert_eq!(q.application_name, "app-b");

    // Listing defaults to dbosd's application plus unclaimed queues.
    db.execute(
        "INSERT INTO dbos.queues (name, polling_interval_sec) VALUES ('free', 1.0)",
        &[],
    )
    .await
    .unwrap();
    let names = |resp: pb::ListQueuesResponse| -> Vec<String> {
        resp.queues.into_iter().map(|q| q.name).collect()
    };
    let default = srv
        .client
        .list_queues(pb::ListQueuesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(names(default), ["free", "mine"]);
    let b_and_c = srv
        .client
        .list_queues(pb::ListQueuesRequest {
            application_names: vec!["app-b".into(), "app-c".into()],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(names(b_and_c), ["free", "other", "shared"]);
}
