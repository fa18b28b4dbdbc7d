//! Small synchronisation helpers shared by every layer.

/// `mutex`'s guard even if a panic poisoned it: dbosd's mutexes guard plain data (queues, caches)
/// that every update leaves consistent.
pub fn lock_unpoisoned<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
