//! How many waited keys one tick's poll checks. A result wakes its waiter at the first poll that
//! starts after its commit (found by index, whatever the chunk), so a wake takes up to two polls:
//! the poll is kept about one tick long by sizing the chunk from the last poll's measured time.
//! With 100,000 waits a 1,000-key chunk took 10-20 ms of PostgreSQL time on a loaded 2-core VM,
//! which held result wakes at 45 ms and more; a smaller chunk only slows the sweep, which bounds
//! what no index or notification finds.

use std::time::Duration;

/// Most keys one poll checks.
pub const MAX_KEYS: usize = 1_000;

/// Fewest keys one poll checks while more are waited on: the sweep keeps moving however slow the
/// database is (at 100,000 waits, every key at least every 1,000 ticks).
pub const MIN_KEYS: usize = 100;

/// The chunk's size, adjusted after every poll that checked a partial chunk.
#[derive(Debug)]
pub struct ChunkSize {
    keys: usize,
    target: Duration,
}

impl ChunkSize {
    /// Starts at [`MAX_KEYS`]; polls should take about `target` (the tick).
    pub fn new(target: Duration) -> Self {
        ChunkSize {
            keys: MAX_KEYS,
            target: target.max(Duration::from_millis(1)),
        }
    }

    /// The keys the next poll checks.
    pub fn keys(&self) -> usize {
        self.keys
    }

    /// Takes a poll of `checked` keys that took `took`: the next chunk is scaled by how far the
    /// poll was from the target, at most halved or doubled at once (one slow poll, e.g. when the
    /// machine is busy elsewhere, does not collapse it).
    pub fn measured(&mut self, checked: usize, took: Duration) {
        // A poll of every key (fewer than the chunk) says little about a full chunk's cost.
        if checked < self.keys {
            return;
        }
        let ratio = self.target.as_secs_f64() / took.as_secs_f64().max(1e-6);
        let scaled = (self.keys as f64 * ratio.clamp(0.5, 2.0)) as usize;
        self.keys = scaled.clamp(MIN_KEYS, MAX_KEYS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_chunk_follows_the_poll_time_within_its_bounds() {
        let mut chunk = ChunkSize::new(5 * MS);
        assert_eq!(chunk.keys(), MAX_KEYS);
        // 1,000 keys took 20 ms: halve, then settle where a poll takes about 5 ms (10 us a key).
        chunk.measured(1_000, 20 * MS);
        assert_eq!(chunk.keys(), 500);
        for _ in 0..10 {
            let keys = chunk.keys();
            chunk.measured(keys, Duration::from_micros(10) * keys as u32);
        }
        assert_eq!(chunk.keys(), 500);
        // Very slow polls stop at the floor; fast ones grow back to the cap.
        for _ in 0..10 {
            chunk.measured(chunk.keys(), 100 * MS);
        }
        assert_eq!(chunk.keys(), MIN_KEYS);
        for _ in 0..10 {
            chunk.measured(chunk.keys(), MS);
        }
        assert_eq!(chunk.keys(), MAX_KEYS);
        // A poll of fewer keys than the chunk (every waited key) leaves it alone.
        chunk.measured(10, 100 * MS);
        assert_eq!(chunk.keys(), MAX_KEYS);
    }
}
