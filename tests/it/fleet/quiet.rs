//! What a quiet database keeps open: a burst may open spare pooled connections, and they close once
//! idle for the pool's idle timeout even while something keeps using the pool now and then (the
//! job runner's claim, the metrics refresher's read). The pool reuses the connection returned last;
//! handing connections out in turn kept every spare busy enough never to close.

use std::time::Duration;

use dbosd::{config::Settings, server};

use crate::harness::{eventually, TestDb};

#[tokio::test]
async fn spare_pooled_connections_close_while_the_pool_stays_in_use() {
    let db = TestDb::new().await;
    let mut settings = Settings::new(db.url.clone());
    settings.pool.min_idle = 0;
    settings.pool.idle_timeout = Duration::from_millis(600);
    let repo = server::prepare(&settings).await.expect("dbosd prepare");

    // A burst: three users at once open three connections.
    {
        let (a, b, c) = tokio::join!(repo.conn(), repo.conn(), repo.conn());
        for conn in [a, b, c] {
            conn.expect("connection")
                .simple_query("SELECT 1")
                .await
                .unwrap();
        }
    }
    assert_eq!(repo.pool_state().connections, 3);

    // Then one user at a time, more often than the idle timeout: the spares must still close.
    eventually("the spare connections to close", || {
        let repo = repo.clone();
        async move {
            let conn = repo.conn().await.expect("connection");
            conn.simple_query("SELECT 1").await.unwrap();
            drop(conn);
            (repo.pool_state().connections == 1).then_some(())
        }
    })
    .await;
}
