//! The wake-up hub: one place where every waiting RPC learns that something it waits for may have
//! changed. It carries wake-ups, not data: a woken waiter re-reads the row through the repository,
//! so the database stays the source of truth and pg_notify's payload limit never matters.

pub mod listener;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use tokio::sync::watch;

/// What a waiter waits for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// An event key of a workflow was set.
    Event { workflow_id: String, key: String },
    /// A value was written to a stream of a workflow.
    Stream { workflow_id: String, key: String },
}

/// Shared registry of waiters, one generation counter per key.
#[derive(Debug, Default)]
pub struct Hub {
    // A std mutex: nothing awaits while it is held, and the critical sections are a map lookup.
    state: Mutex<HashMap<Key, watch::Sender<u64>>>,
}

impl Hub {
    /// A new, empty hub.
    pub fn new() -> Arc<Self> {
        Arc::new(Hub::default())
    }

    /// Registers interest in `key`. Subscribe before re-reading, so a change between the read and the
    /// wait is never lost (the generation counter remembers it).
    pub fn subscribe(self: &Arc<Self>, key: Key) -> Subscription {
        let mut state = self.lock();
        let rx = state
            .entry(key.clone())
            .or_insert_with(|| watch::channel(0).0)
            .subscribe();
        Subscription {
            hub: Arc::clone(self),
            key,
            rx,
        }
    }

    /// Wakes every waiter of `key`.
    pub fn wake(&self, key: &Key) {
        if let Some(tx) = self.lock().get(key) {
            tx.send_modify(|generation| *generation += 1);
        }
    }

    /// Wakes every waiter (after the listener lost notifications, e.g. across a reconnect).
    pub fn wake_all(&self) {
        for tx in self.lock().values() {
            tx.send_modify(|generation| *generation += 1);
        }
    }

    /// How many distinct keys have waiters.
    pub fn waiting_keys(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, watch::Sender<u64>>> {
        // A poisoned lock only means another thread panicked mid-update of a counter; the map is still valid.
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
        // The sender lives in the hub map for as long as this receiver exists, so this cannot fail.
        let _ = self.rx.changed().await;
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut state = self.hub.lock();
        if let Some(tx) = state.get(&self.key) {
            // This receiver is still alive here, so 1 means nobody else waits on the key.
            if tx.receiver_count() <= 1 {
                state.remove(&self.key);
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
        let mut sub = hub.subscribe(event("a"));
        hub.wake(&event("a"));
        tokio::time::timeout(std::time::Duration::from_secs(1), sub.changed())
            .await
            .expect("a wake before waiting must be remembered");
        let second = hub.subscribe(event("a"));
        drop(sub);
        assert_eq!(hub.waiting_keys(), 1);
        drop(second);
        assert_eq!(hub.waiting_keys(), 0);
    }
}
