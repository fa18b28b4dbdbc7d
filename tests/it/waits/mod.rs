//! Waits (`src/api/waits/`, the hub in `src/hub/`): AwaitWorkflow(s) in `awaits.rs`; WatchEvent,
//! ReadStream and WatchWorkflows in `watch.rs`; WatchWorkflows' indexed finds and spaced rescans
//! in `watch_rescan.rs`; more waits than one tick's poll checks in `sweep.rs`; the poll's two
//! statements and how each is planned in `poll_plans.rs`.

mod awaits;
mod poll_plans;
mod sweep;
mod watch;
mod watch_rescan;

/// A poller of its own on `db`, as the hub keeps one: its connection (and the connection's driver,
/// alive as long as this is) and its prepared statements.
pub struct OwnPoller {
    pub conn: tokio_postgres::Client,
    pub poller: dbosd::repo::waits::Poller,
    _driver: tokio::task::JoinHandle<()>,
}

impl OwnPoller {
    pub async fn on(db: &crate::harness::TestDb) -> OwnPoller {
        let repo = dbosd::server::prepare(&dbosd::config::Settings::new(db.url.clone()))
            .await
            .expect("dbosd prepare");
        let (conn, driver) = repo.dedicated_client().await.unwrap();
        let poller = repo.prepare_poll(&conn).await.unwrap();
        OwnPoller {
            conn,
            poller,
            _driver: driver,
        }
    }
}

/// Poll keys asking about these workflows only.
pub fn status_keys<'a>(ids: &'a [&'a str]) -> dbosd::repo::waits::PollKeys<'a> {
    dbosd::repo::waits::PollKeys {
        status_ids: ids,
        event_ids: &[],
        event_keys: &[],
        stream_ids: &[],
        stream_keys: &[],
    }
}
