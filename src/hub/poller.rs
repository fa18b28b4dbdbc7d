//! The hub's poller: ONE batched query per tick, because DBOS notifies nothing when a workflow's
//! status changes and worker notifications for events and streams are best effort. The query checks
//! a chunk of at most [`SWEEP_KEYS`] waited keys, round-robin (a tick's cost stays flat however many
//! streams wait), sized so a poll takes about a tick (`chunk`: between 100 and 1,000 keys, so every
//! key is checked at least once per `ceil(keys / 100)` ticks), and, when the chunk is not every key,
//! the status rows created or finished lately (by index), so a result still wakes its waiter at the
//! next tick. It also feeds WatchWorkflows. Keys whose fingerprint changed (or that are seen for the
//! first time) are woken; waiters then re-read their own rows.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::time::MissedTickBehavior;

use super::{chunk, chunk::ChunkSize, feed::FeedState, Hub, Key};
use crate::{
    backoff::Backoff,
    error::Result,
    repo::{waits::PollKeys, Repo},
};

/// Most waited keys one tick's poll checks by primary key (about 2 ms of PostgreSQL time on a quiet
/// machine; fewer when polls run longer than a tick, see `chunk`).
pub const SWEEP_KEYS: usize = chunk::MAX_KEYS;

/// How far the "created or finished lately" watermark trails the database clock: `created_at` and
/// `completed_at` are the writer's clock at its statement, and a commit can follow a little later
/// (the sweep still finds anything slower).
const RECENT_MARGIN_MS: i64 = 1_000;

const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Polls every `tick` while anyone waits, forever (the server aborts the task on shutdown);
/// `rescan_floor` is the shortest spacing of the WatchWorkflows feed's rescans (see `rescan`).
pub async fn run(repo: Repo, hub: Arc<Hub>, tick: Duration, rescan_floor: Duration) {
    let mut backoff = Backoff::new(MIN_BACKOFF, MAX_BACKOFF);
    loop {
        let mut connected = false;
        let polled = poll_connected(&repo, &hub, tick, rescan_floor, &mut connected).await;
        if let Err(e) = polled {
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
    rescan_floor: Duration,
    connected: &mut bool,
) -> Result<()> {
    hub.wait_for_interest().await;
    let (conn, driver) = repo.dedicated_client().await?;
    // The driver task ends with the connection; dropping the handle on return detaches nothing alive.
    let _driver = AbortOnDrop(driver);
    let mut poller = repo.prepare_poll(&conn).await?;
    *connected = true;
    let mut feed = FeedState::new(rescan_floor);
    // The database clock at the previous poll: the "created or finished lately" watermark.
    let mut db_now: Option<i64> = None;
    let mut chunk = ChunkSize::new(tick);
    let mut ticker = tokio::time::interval(tick);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        if hub.waiting_keys() == 0 && hub.feed_watched_since().is_none() {
            feed.watermark(false, Instant::now());
            hub.activity().await;
            continue;
        }
        ticker.tick().await;
        // Read after the tick: a watcher that subscribed while this loop slept is fed by this poll.
        let watched_since = hub.feed_watched_since();
        let watching = watched_since.is_some();
        let sweep = hub.sweep(chunk.keys());
        let keys = KeyArrays::of(&sweep.keys);
        // A chunk of every key sees every change anyway; otherwise catch results by index.
        let recent_since = match sweep.whole {
            true => None,
            false => db_now.map(|now| now - RECENT_MARGIN_MS),
        };
        let started = Instant::now();
        let feed_since = feed.watermark(watching, started);
        let result = poller
            .poll(&conn, keys.poll_keys(), recent_since, feed_since)
            .await?;
        let took = started.elapsed();
        // A rescan's extra time is the feed's, not the chunk's.
        if !sweep.whole && feed_since.rescan.is_none() {
            chunk.measured(sweep.keys.len(), took);
        }
        tracing::trace!(
            keys = sweep.keys.len(),
            rescan = feed_since.rescan.is_some(),
            elapsed_us = took.as_micros() as u64,
            "hub poll"
        );
        Hub::count(&hub.stats.poll_ticks);
        Hub::count(&hub.stats.poll_queries);
        db_now = Some(result.db_now_ms);

        // A swept key whose row is absent has the empty fingerprint; found rows override it.
        let absent = sweep.keys.into_iter().map(|key| (key, String::new()));
        let statuses = result
            .statuses
            .into_iter()
            .map(|(id, fp)| (Key::Status(id), fp));
        let events = result
            .events
            .into_iter()
            .map(|(workflow_id, key, fp)| (Key::Event { workflow_id, key }, fp));
        let streams = result
            .streams
            .into_iter()
            .map(|(workflow_id, key, fp)| (Key::Stream { workflow_id, key }, fp));
        hub.observe(merge(absent, statuses.chain(events).chain(streams)));
        if watching {
            // Up to this poll's start (the feed also allows for when within the poll the
            // database clock was read; `FeedState::ingest`).
            let watched_ms = watched_since.map_or(0, |at| {
                started.saturating_duration_since(at).as_millis() as i64
            });
            feed.ingest(hub, result.changed, result.db_now_ms, watched_ms, took);
        }
    }
}

/// The swept keys as the poll statement's parallel arrays.
#[derive(Default)]
struct KeyArrays<'a> {
    status_ids: Vec<&'a str>,
    event_ids: Vec<&'a str>,
    event_keys: Vec<&'a str>,
    stream_ids: Vec<&'a str>,
    stream_keys: Vec<&'a str>,
}

impl<'a> KeyArrays<'a> {
    fn of(keys: &'a [Key]) -> Self {
        let mut arrays = KeyArrays::default();
        for key in keys {
            match key {
                Key::Status(id) => arrays.status_ids.push(id),
                Key::Event { workflow_id, key } => {
                    arrays.event_ids.push(workflow_id);
                    arrays.event_keys.push(key);
                }
                Key::Stream { workflow_id, key } => {
                    arrays.stream_ids.push(workflow_id);
                    arrays.stream_keys.push(key);
                }
            }
        }
        arrays
    }

    fn poll_keys(&self) -> PollKeys<'_> {
        PollKeys {
            status_ids: &self.status_ids,
            event_ids: &self.event_ids,
            event_keys: &self.event_keys,
            stream_ids: &self.stream_ids,
            stream_keys: &self.stream_keys,
        }
    }
}

/// The swept keys' fingerprints: `found` where the poll found the key's row, else the absent one
/// (a key found twice, by the sweep and as a recent row, has the same fingerprint both times).
fn merge(
    absent: impl Iterator<Item = (Key, String)>,
    found: impl Iterator<Item = (Key, String)>,
) -> Vec<(Key, String)> {
    let mut seen: std::collections::HashMap<Key, String> = absent.collect();
    seen.extend(found);
    seen.into_iter().collect()
}

/// Aborts a task when dropped (the dedicated connection's driver).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
