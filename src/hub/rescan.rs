//! When the WatchWorkflows feed re-reads every in-flight row (the rescan). Most transitions are
//! found by index at every tick; the rest (resume, recovery, a new delay) change no indexed column,
//! and reading every ENQUEUED/PENDING/DELAYED row costs as much as there are such rows. So the
//! rescan runs on a time budget: after a rescan that took `d`, the next waits `SPACING × d` (at
//! least the configured floor), which keeps its share of the poller's time near `1 / SPACING`
//! however large the backlog. A transition no index finds is delivered within that spacing plus a
//! tick.

use std::time::{Duration, Instant};

/// A rescan's poll may take at most about one tenth of the poller's time.
pub const SPACING: u32 = 10;

/// Weight of the newest measurement in the smoothed rescan cost (one slow poll, e.g. while the
/// machine is busy elsewhere, does not postpone the next rescan by much on its own).
const NEW_WEIGHT: f64 = 0.5;

/// The rescan's schedule.
#[derive(Debug)]
pub struct RescanBudget {
    /// Shortest spacing between rescans, whatever they cost (`--hub-watch-rescan-ms`).
    floor: Duration,
    /// Smoothed duration of a poll that rescanned.
    cost: Option<Duration>,
    /// When the last rescan's poll started.
    last: Option<Instant>,
}

impl RescanBudget {
    pub fn new(floor: Duration) -> Self {
        RescanBudget {
            floor,
            cost: None,
            last: None,
        }
    }

    /// How long after a rescan the next one is due.
    pub fn spacing(&self) -> Duration {
        let earned = self.cost.map_or(Duration::ZERO, |cost| cost * SPACING);
        earned.max(self.floor)
    }

    /// Whether the poll starting `now` should rescan.
    pub fn due(&self, now: Instant) -> bool {
        self.last
            .is_none_or(|last| now.saturating_duration_since(last) >= self.spacing())
    }

    /// Records a rescanning poll that started at `started` and took `took`.
    pub fn ran(&mut self, started: Instant, took: Duration) {
        self.last = Some(started);
        self.cost = Some(match self.cost {
            None => took,
            Some(cost) => cost.mul_f64(1.0 - NEW_WEIGHT) + took.mul_f64(NEW_WEIGHT),
        });
    }

    /// Forgets the schedule (nobody watches any more): the next watcher's first poll rescans.
    pub fn reset(&mut self) {
        self.cost = None;
        self.last = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_costly_rescan_is_spaced_by_its_cost_and_a_cheap_one_by_the_floor() {
        let start = Instant::now();
        let mut budget = RescanBudget::new(Duration::from_millis(20));
        assert!(budget.due(start), "the first poll rescans");
        budget.ran(start, Duration::from_millis(100));
        assert_eq!(budget.spacing(), Duration::from_secs(1));
        assert!(!budget.due(start + Duration::from_millis(999)));
        assert!(budget.due(start + Duration::from_secs(1)));
        // Cheaper rescans bring the spacing down, smoothed, to the floor.
        let mut at = start;
        for _ in 0..20 {
            at += budget.spacing();
            budget.ran(at, Duration::from_micros(100));
        }
        assert_eq!(budget.spacing(), Duration::from_millis(20));
        budget.reset();
        assert!(budget.due(at), "after a reset the next poll rescans");
    }
}
