//! The hub's two poll statements (`src/repo/waits.rs`): a tick that sweeps every waited key and
//! feeds no watcher runs the keyed statement; a tick that also asks for recent rows runs the full
//! one; both planned once (generic). A tick that feeds watchers runs the full statement planned with
//! the feed's watermarks each time. All on one connection, which switches `plan_cache_mode` when
//! watchers come or go, and never plans parallel workers.

use dbosd::repo::waits::FeedSince;

use super::{status_keys, OwnPoller};

use crate::harness::TestDb;

/// (generic plans, custom plans) PostgreSQL made for the session's prepared statement whose text
/// contains `marker` and not `without`.
async fn plans(conn: &tokio_postgres::Client, marker: &str, without: &str) -> (i64, i64) {
    let row = conn
        .query_one(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements \
             WHERE statement LIKE '%' || $1 || '%' AND statement NOT LIKE '%' || $2 || '%'",
            &[&marker, &without],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

#[tokio::test]
async fn polls_are_planned_once_unless_they_feed_watchers() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .execute(
            "INSERT INTO dbos.workflow_status (workflow_uuid, status, name, queue_name, serialization) \
             VALUES ('polled', 'PENDING', 'echo', 'q', 'portable_json')",
            &[],
        )
        .await
        .unwrap();
    let OwnPoller {
        conn, mut poller, ..
    } = OwnPoller::on(&db).await;
    let ids = ["polled", "absent"];
    let keys = status_keys(&ids);
    let found = |result: dbosd::repo::waits::PollResult| {
        assert!(result.db_now_ms > 0, "every poll reads the database clock");
        result
            .statuses
            .into_iter()
            .map(|(id, fp)| (id, fp.split('|').next().unwrap_or_default().to_owned()))
            .collect::<Vec<_>>()
    };
    let pending = vec![("polled".to_owned(), "PENDING".to_owned())];
    // Alternate the three kinds of poll: feeding watchers switches the session's plan mode.
    for _ in 0..3 {
        for _ in 0..3 {
            let keyed = poller.poll(&conn, keys, None, Default::default()).await;
            assert_eq!(found(keyed.unwrap()), pending);
        }
        let now = db_now_ms(&conn).await;
        let full = poller
            .poll(&conn, keys, Some(now - 60_000), Default::default())
            .await
            .unwrap();
        // Found twice: swept by key, and created within the last minute.
        assert_eq!(found(full), [pending.clone(), pending.clone()].concat());
        let feed = FeedSince {
            indexed: Some(now - 60_000),
            rescan: None,
        };
        let fed = poller.poll(&conn, keys, None, feed).await.unwrap();
        let changed: Vec<&str> = fed.changed.iter().map(|r| r.workflow_id.as_str()).collect();
        assert_eq!(changed, ["polled"], "the feed finds the new row");
    }
    // The keyed statement (no row_to_json): generic plans only. The full one: a generic plan for
    // the three polls without watchers, a custom plan for each of the three that fed them.
    let (generic, custom) = plans(&conn, "SELECT 's', s.id", "row_to_json").await;
    assert!(
        generic >= 1 && custom == 0,
        "keyed poll: {generic} generic and {custom} custom plans"
    );
    let (generic, custom) = plans(&conn, "row_to_json", "no such text").await;
    assert!(
        generic == 3 && custom == 3,
        "full poll: {generic} generic and {custom} custom plans"
    );
    // A plan made once could start parallel workers for an arm its gate skips, every tick.
    let workers: String = conn
        .query_one("SHOW max_parallel_workers_per_gather", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(workers, "0");
}

async fn db_now_ms(conn: &tokio_postgres::Client) -> i64 {
    conn.query_one("SELECT (EXTRACT(epoch FROM now()) * 1000)::bigint", &[])
        .await
        .unwrap()
        .get(0)
}
