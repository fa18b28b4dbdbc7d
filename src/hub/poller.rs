//! The hub's poller: ONE batched query per tick covers every awaited workflow, event and stream (and
//! the WatchWorkflows feed), because DBOS notifies nothing when a workflow's status changes and
//! worker notifications for events and streams are best effort. Keys whose fingerprint changed (or
//! that are seen for the first time) are woken; waiters then re-read their own rows.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use tokio::time::MissedTickBehavior;

use super::{feed::FeedState, Hub, Key, PollSet};
use crate::{backoff::Backoff, error::Result, repo::Repo};

const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Polls every `tick` while anyone waits, forever (the server aborts the task on shutdown).
pub async fn run(repo: Repo, hub: Arc<Hub>, tick: Duration) {
    let mut backoff = Backoff::new(MIN_BACKOFF, MAX_BACKOFF);
    loop {
        let mut connected = false;
        if let Err(e) = poll_connected(&repo, &hub, tick, &mut connected).await {
            tracing::warn!(error = %e, "hub poll failed; retrying");
            // Whatever changed while the poll was down is re-read by everyone.
            hub.wake_all();
        }
        if connected {
            // A connection that worked ends the outage: the next one is tried quickly again.
            backoff.reset();
        }
        tokio::time::sleep(backoff.pause()).await;
    }
}

/// Polls on a connection of its own (made at the first wait, statement prepared once) until an error.
async fn poll_connected(
    repo: &Repo,
    hub: &Hub,
    tick: Duration,
    connected: &mut bool,
) -> Result<()> {
    hub.wait_for_interest().await;
    let (conn, driver) = repo.dedicated_client().await?;
    // The driver task ends with the connection; dropping the handle on return detaches nothing alive.
    let _driver = AbortOnDrop(driver);
    let poller = repo.prepare_poll(&conn).await?;
    *connected = true;
    let mut version = u64::MAX;
    let mut set = PollSet::default();
    // The last fingerprint seen per key, kept across key-set changes by key.
    let mut fingerprints: HashMap<Key, String> = HashMap::new();
    let mut feed = FeedState::default();
    let mut ticker = tokio::time::interval(tick);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        if let Some((v, fresh)) = hub.poll_set(version) {
            version = v;
            set = fresh;
            let live: HashSet<&Key> = set.keys.iter().collect();
            fingerprints.retain(|key, _| live.contains(key));
        }
        let watching = hub.feed_subscribers() > 0;
        if set.is_empty() && !watching {
            feed.watermark(false);
            hub.activity().await;
            continue;
        }
        ticker.tick().await;
        let started = std::time::Instant::now();
        let result = poller
            .poll(&conn, set.poll_keys(), feed.watermark(watching))
            .await?;
        tracing::trace!(
            keys = set.keys.len(),
            elapsed_us = started.elapsed().as_micros() as u64,
            "hub poll"
        );
        Hub::count(&hub.stats.poll_ticks);
        Hub::count(&hub.stats.poll_queries);

        // An absent row has the empty fingerprint.
        let mut now: Vec<String> = vec![String::new(); set.keys.len()];
        for (id, fp) in result.statuses {
            if let Some(at) = set.status_position(&id) {
                now[at] = fp;
            }
        }
        for (id, key, fp) in result.events {
            if let Some(at) = set.event_position(&id, &key) {
                now[at] = fp;
            }
        }
        for (id, key, fp) in result.streams {
            if let Some(at) = set.stream_position(&id, &key) {
                now[at] = fp;
            }
        }
        for (key, fp) in set.keys.iter().zip(now) {
            // First sight of a key counts as a change: the waiter's own read may predate it.
            if fingerprints.get(key) != Some(&fp) {
                hub.wake(key);
                fingerprints.insert(key.clone(), fp);
            }
        }
        if watching {
            feed.ingest(hub, result.changed, result.db_now_ms);
        }
    }
}

/// Aborts a task when dropped (the dedicated connection's driver).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
