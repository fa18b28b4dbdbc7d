//! The wake-up hub: one place where every waiting RPC learns that something it waits for may have
//! changed. It carries wake-ups, not data: a woken waiter re-reads its row through the repository, so
//! the database stays the source of truth and pg_notify's payload limit never matters.
//!
//! Producers: the LISTEN connection (`listener`) for events and streams, and ONE batched poll per tick
//! (`poller`) for everything, since DBOS notifies nothing when a workflow's status changes. The poll
//! sweeps the keys in bounded chunks (the hub keeps them in a sweep order and remembers each key's
//! last fingerprint, both updated in O(1) per change) and finds results by index, so neither a tick
//! nor a subscription costs O(keys). The poller also feeds `WatchWorkflows` through a broadcast of
//! status transitions (`feed`), finding most by index every tick and the rest by a rescan of the
//! in-flight rows whose spacing follows its cost (`rescan`).
//!
//! The keys are capped (`--max-hub-keys`): every key costs memory and a place in the sweep, so a
//! wait on one key too many fails RESOURCE_EXHAUSTED instead of growing the set without bound.

pub mod chunk;
pub mod feed;
pub mod listener;
pub mod poller;
pub mod rescan;

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex, MutexGuard,
    },
    time::{Duration, Instant},
};

use tokio::sync::{broadcast, watch, Notify};

use crate::{error::Error, model::WorkflowRow};

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

/// One waited key: its wake-up channel, its place in the sweep order and the fingerprint the poller
/// last saw for it (`None` until the first sight).
struct Entry {
    tx: watch::Sender<u64>,
    at: usize,
    fingerprint: Option<String>,
}

/// The waited keys. `order` lists them for the poller's sweep, kept in step with the map in O(1)
/// per change (swap-remove), so nothing costs O(keys) per tick or per subscription.
#[derive(Default)]
struct State {
    waiters: HashMap<Key, Entry>,
    order: Vec<Key>,
    /// Where the next sweep chunk starts in `order`.
    cursor: usize,
}

/// One tick's share of the sweep.
#[derive(Debug, Default)]
pub struct Sweep {
    /// The keys to check this tick.
    pub keys: Vec<Key>,
    /// Whether `keys` is every waited key (then nothing else needs checking this tick).
    pub whole: bool,
}

/// Shared registry of waiters, one generation counter per key.
pub struct Hub {
    // A std mutex: nothing awaits while it is held, and the critical sections are map operations.
    state: Mutex<State>,
    /// Wakes the poller when the first key arrives after an idle spell.
    activity: Notify,
    feed: broadcast::Sender<Arc<WorkflowRow>>,
    /// When the feed's first current subscriber subscribed (`None` while nobody watches): the
    /// poller's first feed poll comes later, and transitions in between belong to that watcher.
    feed_opened: Mutex<Option<Instant>>,
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
            feed_opened: Mutex::new(None),
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
            Some(entry) => entry.tx.subscribe(),
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
                let at = state.order.len();
                state.order.push(key.clone());
                let entry = Entry {
                    tx,
                    at,
                    fingerprint: None,
                };
                state.waiters.insert(key.clone(), entry);
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
        if let Some(entry) = self.lock().waiters.get(key) {
            entry.tx.send_modify(|generation| *generation += 1);
        }
    }

    /// Wakes every waiter (after notifications may have been lost, e.g. across a reconnect).
    pub fn wake_all(&self) {
        for entry in self.lock().waiters.values() {
            entry.tx.send_modify(|generation| *generation += 1);
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

    /// Subscribes to the status-transition feed (WatchWorkflows). Every transition committed after
    /// this returns is delivered, including those before the poller's next tick.
    pub fn subscribe_feed(&self) -> broadcast::Receiver<Arc<WorkflowRow>> {
        let mut opened = self.feed_opened.lock().unwrap_or_else(|e| e.into_inner());
        let rx = self.feed.subscribe();
        opened.get_or_insert_with(Instant::now);
        drop(opened);
        self.activity.notify_one();
        rx
    }

    /// Whether anyone watches the feed, and since when; forgets the time when nobody does. Checked
    /// under the same lock as [`Hub::subscribe_feed`], so a subscription is never forgotten.
    pub(crate) fn feed_watched_since(&self) -> Option<Instant> {
        let mut opened = self.feed_opened.lock().unwrap_or_else(|e| e.into_inner());
        if self.feed.receiver_count() == 0 {
            *opened = None;
        }
        *opened
    }

    pub(crate) fn publish(&self, row: Arc<WorkflowRow>) {
        // No receivers is fine: nobody watches.
        let _ = self.feed.send(row);
    }

    /// The next `max` keys of the sweep, round-robin over every waited key, so one tick's poll costs
    /// at most `max` key look-ups however many keys are waited on.
    pub(crate) fn sweep(&self, max: usize) -> Sweep {
        let mut state = self.lock();
        let total = state.order.len();
        if total <= max {
            state.cursor = 0;
            return Sweep {
                keys: state.order.clone(),
                whole: true,
            };
        }
        let start = state.cursor % total;
        let keys = (0..max)
            .map(|i| state.order[(start + i) % total].clone())
            .collect();
        state.cursor = (start + max) % total;
        Sweep { keys, whole: false }
    }

    /// Takes the poller's current fingerprints of keys (first sight counts as a change: a waiter's
    /// own read may predate it) and wakes the waiters of every key whose fingerprint changed. Keys
    /// nobody waits on any more are skipped.
    pub(crate) fn observe(&self, seen: impl IntoIterator<Item = (Key, String)>) {
        let mut state = self.lock();
        for (key, fingerprint) in seen {
            let Some(entry) = state.waiters.get_mut(&key) else {
                continue;
            };
            if entry.fingerprint.as_deref() != Some(fingerprint.as_str()) {
                entry.fingerprint = Some(fingerprint);
                entry.tx.send_modify(|generation| *generation += 1);
            }
        }
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

    /// Tells the hub the fingerprint (in the poll's format) of what the waiter's own read saw, if
    /// the poller has not seen the key yet: its first sight then wakes the waiter only if the row
    /// changed since, instead of always (a burst of new waits would re-read twice each).
    pub fn saw(&self, fingerprint: String) {
        let mut state = self.hub.lock();
        if let Some(entry) = state.waiters.get_mut(&self.key) {
            if entry.fingerprint.is_none() {
                entry.fingerprint = Some(fingerprint);
            }
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut state = self.hub.lock();
        // This receiver is still alive here, so 1 means nobody else waits on the key.
        let last = state
            .waiters
            .get(&self.key)
            .is_some_and(|entry| entry.tx.receiver_count() <= 1);
        if !last {
            return;
        }
        if let Some(entry) = state.waiters.remove(&self.key) {
            state.order.swap_remove(entry.at);
            // The key that took the freed place learns its new position.
            if let Some(moved) = state.order.get(entry.at).cloned() {
                if let Some(moved) = state.waiters.get_mut(&moved) {
                    moved.at = entry.at;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

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
        assert_eq!(hub.sweep(10).keys, [event("a")]);
        drop(sub);
        assert_eq!(hub.waiting_keys(), 1);
        drop(second);
        assert_eq!(hub.waiting_keys(), 0);
        assert!(hub.sweep(10).keys.is_empty());
    }

    #[tokio::test]
    async fn the_sweep_visits_every_key_in_bounded_chunks_through_removals() {
        let hub = Hub::new();
        let mut subs: Vec<_> = (0..10)
            .map(|i| hub.subscribe(event(&i.to_string())).unwrap())
            .collect();
        let whole = hub.sweep(10);
        assert!(whole.whole && whole.keys.len() == 10);
        // Removing keys (swap-remove) keeps the order consistent with the map.
        subs.remove(3);
        subs.remove(0);
        let mut seen = HashSet::new();
        for _ in 0..3 {
            let chunk = hub.sweep(3);
            assert!(!chunk.whole);
            assert_eq!(chunk.keys.len(), 3);
            seen.extend(chunk.keys);
        }
        assert_eq!(seen.len(), 8, "three chunks of three cover all eight keys");
        assert!(!seen.contains(&event("0")) && !seen.contains(&event("3")));
    }

    #[tokio::test]
    async fn observing_wakes_on_first_sight_and_on_change_only() {
        let hub = Hub::new();
        let mut sub = hub.subscribe(event("a")).unwrap();
        let woken = |sub: &mut Subscription| sub.rx.has_changed().unwrap_or(false);
        hub.observe([(event("a"), "1".to_owned())]);
        assert!(woken(&mut sub), "first sight wakes");
        sub.rx.mark_unchanged();
        hub.observe([
            (event("a"), "1".to_owned()),
            (event("gone"), "x".to_owned()),
        ]);
        assert!(!woken(&mut sub), "the same fingerprint does not wake");
        hub.observe([(event("a"), "2".to_owned())]);
        assert!(woken(&mut sub), "a new fingerprint wakes");
    }

    #[tokio::test]
    async fn what_a_waiter_saw_stands_in_for_the_first_sight() {
        let hub = Hub::new();
        let sub = hub.subscribe(event("a")).unwrap();
        sub.saw("1".to_owned());
        hub.observe([(event("a"), "1".to_owned())]);
        assert!(
            !sub.rx.has_changed().unwrap(),
            "the row the waiter read is no change"
        );
        // Once the poller has seen the key, a late report changes nothing.
        sub.saw("0".to_owned());
        hub.observe([(event("a"), "2".to_owned())]);
        assert!(sub.rx.has_changed().unwrap(), "a newer row wakes");
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
