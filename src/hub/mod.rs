//! The wake-up hub: one place where every waiting RPC learns that something it waits for may have
//! changed. It carries wake-ups, not data: a woken waiter re-reads its row through the repository, so
//! the database stays the source of truth and pg_notify's payload limit never matters.
//!
//! Producers: the LISTEN connection (`listener`) for events and streams, and ONE batched poll per tick
//! (`poller`) for everything, since DBOS notifies nothing when a workflow's status changes. The poller
//! also feeds `WatchWorkflows` through a broadcast of status transitions (`feed`).
//!
//! The keys are capped (`--max-hub-keys`): every key costs memory and a place in each poll, so a
//! wait on one key too many fails RESOURCE_EXHAUSTED instead of growing the set without bound.

pub mod feed;
pub mod listener;
pub mod poller;

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex, MutexGuard,
    },
    time::Duration,
};

use tokio::sync::{broadcast, watch, Notify};

use crate::{error::Error, model::WorkflowRow, repo::waits::PollKeys};

/// How long a wait refused for want of a key is told to wait before retrying.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// What a waiter waits for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// The status row of a workflow changed (or appeared).
    Status(String),
    /// An event key of a workflow was set.
    Event { workflow_id: String, key: String },
    /// A value was written to a stream of a workflow.
    Stream { workflow_id: String, key: String },
}

/// Counters for tests, benchmarks and metrics.
#[derive(Debug, Default)]
pub struct HubStats {
    /// Poll ticks that ran a query.
    pub poll_ticks: AtomicU64,
    /// Poll statements sent to the database (one per tick by design).
    pub poll_queries: AtomicU64,
    /// Notifications received on the LISTEN connection.
    pub notifications: AtomicU64,
    /// Times the LISTEN connection was (re)established.
    pub listen_connects: AtomicU64,
}

/// The keys being waited on, grouped the way the poll query takes them, with lookups from a result
/// row back to its key (built once per key-set change, not per tick).
#[derive(Debug, Clone, Default)]
pub struct PollSet {
    pub keys: Vec<Key>,
    pub status_ids: Vec<String>,
    pub event_ids: Vec<String>,
    pub event_keys: Vec<String>,
    pub stream_ids: Vec<String>,
    pub stream_keys: Vec<String>,
    status_index: HashMap<String, usize>,
    event_index: HashMap<String, HashMap<String, usize>>,
    stream_index: HashMap<String, HashMap<String, usize>>,
}

impl PollSet {
    /// The arrays the poll statement takes.
    pub fn poll_keys(&self) -> PollKeys<'_> {
        PollKeys {
            status_ids: &self.status_ids,
            event_ids: &self.event_ids,
            event_keys: &self.event_keys,
            stream_ids: &self.stream_ids,
            stream_keys: &self.stream_keys,
        }
    }

    /// Whether nothing is waited on.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The position in `keys` of a workflow's status key.
    pub fn status_position(&self, workflow_id: &str) -> Option<usize> {
        self.status_index.get(workflow_id).copied()
    }

    /// The position in `keys` of an event key.
    pub fn event_position(&self, workflow_id: &str, key: &str) -> Option<usize> {
        self.event_index.get(workflow_id)?.get(key).copied()
    }

    /// The position in `keys` of a stream key.
    pub fn stream_position(&self, workflow_id: &str, key: &str) -> Option<usize> {
        self.stream_index.get(workflow_id)?.get(key).copied()
    }

    fn push(&mut self, key: Key) {
        let at = self.keys.len();
        match &key {
            Key::Status(id) => {
                self.status_ids.push(id.clone());
                self.status_index.insert(id.clone(), at);
            }
            Key::Event { workflow_id, key } => {
                self.event_ids.push(workflow_id.clone());
                self.event_keys.push(key.clone());
                self.event_index
                    .entry(workflow_id.clone())
                    .or_default()
                    .insert(key.clone(), at);
            }
            Key::Stream { workflow_id, key } => {
                self.stream_ids.push(workflow_id.clone());
                self.stream_keys.push(key.clone());
                self.stream_index
                    .entry(workflow_id.clone())
                    .or_default()
                    .insert(key.clone(), at);
            }
        }
        self.keys.push(key);
    }
}

#[derive(Default)]
struct State {
    waiters: HashMap<Key, watch::Sender<u64>>,
    /// Bumped whenever a key is added or removed, so the poller rebuilds its id lists only then.
    version: u64,
}

/// Shared registry of waiters, one generation counter per key.
pub struct Hub {
    // A std mutex: nothing awaits while it is held, and the critical sections are map operations.
    state: Mutex<State>,
    /// Wakes the poller when the first key arrives after an idle spell.
    activity: Notify,
    feed: broadcast::Sender<Arc<WorkflowRow>>,
    /// Most distinct keys waited on at once.
    max_keys: AtomicUsize,
    /// Counters.
    pub stats: HubStats,
}

impl Hub {
    /// A new, empty hub.
    pub fn new() -> Arc<Self> {
        Arc::new(Hub {
            state: Mutex::new(State::default()),
            activity: Notify::new(),
            feed: broadcast::channel(feed::CAPACITY).0,
            max_keys: AtomicUsize::new(usize::MAX),
            stats: HubStats::default(),
        })
    }

    /// Caps the distinct keys waited on at once (none by default).
    pub fn set_max_keys(&self, max: usize) {
        self.max_keys.store(max, Ordering::Relaxed);
    }

    /// Registers interest in `key`. Subscribe before re-reading, so a change between the read and the
    /// wait is never lost (the generation counter remembers it). RESOURCE_EXHAUSTED when `key` is
    /// new and the hub already tracks its maximum of keys.
    pub fn subscribe(self: &Arc<Self>, key: Key) -> Result<Subscription, Error> {
        let mut state = self.lock();
        let rx = match state.waiters.get(&key) {
            Some(tx) => tx.subscribe(),
            None => {
                let max = self.max_keys.load(Ordering::Relaxed);
                if state.waiters.len() >= max {
                    return Err(Error::Overloaded {
                        message: format!(
                            "too many distinct waits on this dbosd (limit {max}, --max-hub-keys); \
                             retry later or on another replica"
                        ),
                        retry_after: RETRY_AFTER,
                    });
                }
                let (tx, rx) = watch::channel(0);
                state.waiters.insert(key.clone(), tx);
                state.version += 1;
                rx
            }
        };
        drop(state);
        self.activity.notify_one();
        Ok(Subscription {
            hub: Arc::clone(self),
            key,
            rx,
        })
    }

    /// Wakes every waiter of `key`.
    pub fn wake(&self, key: &Key) {
        if let Some(tx) = self.lock().waiters.get(key) {
            tx.send_modify(|generation| *generation += 1);
        }
    }

    /// Wakes every waiter (after notifications may have been lost, e.g. across a reconnect).
    pub fn wake_all(&self) {
        for tx in self.lock().waiters.values() {
            tx.send_modify(|generation| *generation += 1);
        }
    }

    /// How many distinct keys have waiters.
    pub fn waiting_keys(&self) -> usize {
        self.lock().waiters.len()
    }

    /// How many `WatchWorkflows` streams are subscribed to the transition feed.
    pub fn feed_subscribers(&self) -> usize {
        self.feed.receiver_count()
    }

    /// Subscribes to the status-transition feed (WatchWorkflows).
    pub fn subscribe_feed(&self) -> broadcast::Receiver<Arc<WorkflowRow>> {
        let rx = self.feed.subscribe();
        self.activity.notify_one();
        rx
    }

    pub(crate) fn publish(&self, row: Arc<WorkflowRow>) {
        // No receivers is fine: nobody watches.
        let _ = self.feed.send(row);
    }

    /// The key-set version and, if it differs from `known`, the keys grouped for the poll query.
    pub(crate) fn poll_set(&self, known: u64) -> Option<(u64, PollSet)> {
        let state = self.lock();
        if state.version == known {
            return None;
        }
        let mut set = PollSet::default();
        for key in state.waiters.keys() {
            set.push(key.clone());
        }
        Some((state.version, set))
    }

    /// Resolves at once if anyone waits or watches, else when someone starts to.
    pub(crate) async fn wait_for_interest(&self) {
        while self.waiting_keys() == 0 && self.feed_subscribers() == 0 {
            self.activity().await;
        }
    }

    /// Resolves when a waiter or watcher arrives (the poller sleeps on this while idle).
    pub(crate) async fn activity(&self) {
        self.activity.notified().await
    }

    pub(crate) fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a thread panicked mid-update of a counter; the map is still valid.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// One waiter's interest in a key; dropping it unregisters the key when it was the last waiter.
pub struct Subscription {
    hub: Arc<Hub>,
    key: Key,
    rx: watch::Receiver<u64>,
}

impl Subscription {
    /// Resolves once the key was woken after the last call (or after subscribing).
    pub async fn changed(&mut self) {
        // The sender lives in the hub map while this receiver exists, so this cannot fail; if it ever
        // did, never resolving is the safe answer (the caller's deadline still applies).
        if self.rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut state = self.hub.lock();
        if let Some(tx) = state.waiters.get(&self.key) {
            // This receiver is still alive here, so 1 means nobody else waits on the key.
            if tx.receiver_count() <= 1 {
                state.waiters.remove(&self.key);
                state.version += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str) -> Key {
        Key::Event {
            workflow_id: id.into(),
            key: "k".into(),
        }
    }

    #[tokio::test]
    async fn wake_before_wait_is_not_lost_and_keys_are_pruned() {
        let hub = Hub::new();
        let mut sub = hub.subscribe(event("a")).unwrap();
        hub.wake(&event("a"));
        tokio::time::timeout(std::time::Duration::from_secs(1), sub.changed())
            .await
            .expect("a wake before waiting must be remembered");
        let second = hub.subscribe(event("a")).unwrap();
        let (v1, set) = hub.poll_set(0).expect("changed");
        assert_eq!(set.event_ids, ["a"]);
        assert!(
            hub.poll_set(v1).is_none(),
            "unchanged key set is not rebuilt"
        );
        drop(sub);
        assert_eq!(hub.waiting_keys(), 1);
        drop(second);
        assert_eq!(hub.waiting_keys(), 0);
        assert!(hub.poll_set(v1).expect("changed").1.is_empty());
    }

    #[test]
    fn keys_beyond_the_cap_are_refused_but_known_keys_are_shared() {
        let hub = Hub::new();
        hub.set_max_keys(2);
        let a = hub.subscribe(event("a")).unwrap();
        let _b = hub.subscribe(event("b")).unwrap();
        let refused = hub
            .subscribe(event("c"))
            .err()
            .expect("a third key is refused");
        assert!(matches!(refused, Error::Overloaded { .. }), "{refused}");
        assert!(refused.to_string().contains("limit 2"), "{refused}");
        let _another_a = hub.subscribe(event("a")).expect("a known key adds nothing");
        drop(a);
        drop(_another_a);
        hub.subscribe(event("c")).expect("a freed key makes room");
    }
}
