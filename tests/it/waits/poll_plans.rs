//! The hub's two poll statements (`src/repo/waits.rs`): a tick that sweeps every waited key and
//! feeds no watcher runs the keyed statement, planned once (generic); a tick that also asks for
//! recent or changed rows runs the full one, planned with its watermarks' values each time. Both
//! on one connection, which switches `plan_cache_mode` when the statement changes.

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
async fn the_keyed_poll_is_planned_once_and_the_full_poll_at_each_run() {
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
    // Alternate the two statements: each switch changes the session's plan mode.
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
    }
    // The keyed statement (no row_to_json): generic plans only; the full one: custom plans only.
    let (generic, custom) = plans(&conn, "SELECT 's', s.id", "row_to_json").await;
    assert!(
        generic >= 1 && custom == 0,
        "keyed poll: {generic} generic and {custom} custom plans"
    );
    let (generic, custom) = plans(&conn, "row_to_json", "no such text").await;
    assert!(
        generic == 0 && custom == 3,
        "full poll: {generic} generic and {custom} custom plans"
    );
}

async fn db_now_ms(conn: &tokio_postgres::Client) -> i64 {
    conn.query_one("SELECT (EXTRACT(epoch FROM now()) * 1000)::bigint", &[])
        .await
        .unwrap()
        .get(0)
}
