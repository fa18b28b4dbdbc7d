//! The status-transition feed behind WatchWorkflows: the poller asks for status rows updated since a
//! watermark, and every row whose (status, updated_at) differs from what was last seen is broadcast.
//!
//! `updated_at` is the writer's transaction start time, so a row can commit with a timestamp slightly
//! behind the watermark; the watermark therefore trails the database clock by a margin, and rows seen
//! again inside the margin are recognised and not repeated.
//!
//! Two watermarks: the indexed one moves every tick (new, dequeued and finished rows, found by
//! index), the rescan's moves only when a poll rescans every in-flight row ([`RescanBudget`] says
//! when), so a change no index finds (resume, recovery) is found by the next rescan. Rows are
//! remembered back to the older of the two, so a row both parts find is sent once.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use super::{rescan::RescanBudget, Hub};
use crate::{model::WorkflowRow, repo::waits::FeedSince};

/// Transitions buffered per watcher; a watcher that falls further behind re-reads from the database.
pub const CAPACITY: usize = 4096;

/// How far the watermark trails the database clock: the longest a DBOS transaction that changes a
/// status row may stay open between its start and its commit without its transition being missed.
const MARGIN_MS: i64 = 2_000;

/// The poller's feed bookkeeping.
#[derive(Debug)]
pub struct FeedState {
    /// Database time when watching began; rows older than this are baseline, not transitions.
    activated_at: Option<i64>,
    /// The indexed watermark passed to the next poll.
    since: Option<i64>,
    /// The rescan's watermark: the indexed one as it was at the last rescan.
    rescan_since: Option<i64>,
    /// When this tick's poll, if it rescans, started.
    rescanning: Option<Instant>,
    budget: RescanBudget,
    /// Last (status, updated_at) seen per workflow since the older watermark.
    seen: HashMap<String, (Option<String>, i64)>,
}

impl FeedState {
    /// A feed whose rescans are at least `rescan_floor` apart.
    pub fn new(rescan_floor: Duration) -> Self {
        FeedState {
            activated_at: None,
            since: None,
            rescan_since: None,
            rescanning: None,
            budget: RescanBudget::new(rescan_floor),
            seen: HashMap::new(),
        }
    }

    /// The watermarks for the poll starting `now`: none when nobody watches (which also forgets
    /// state), the rescan's only when it is due.
    pub fn watermark(&mut self, active: bool, now: Instant) -> FeedSince {
        self.rescanning = None;
        if !active {
            self.activated_at = None;
            self.since = None;
            self.rescan_since = None;
            self.budget.reset();
            self.seen.clear();
            return FeedSince::default();
        }
        // Before the first poll the database time is unknown: ask for nothing, learn the clock.
        let Some(since) = self.since else {
            return FeedSince::default();
        };
        let rescan = self.rescan_since.filter(|_| self.budget.due(now));
        if rescan.is_some() {
            self.rescanning = Some(now);
        }
        FeedSince {
            indexed: Some(since),
            rescan,
        }
    }

    /// Takes one poll's changed rows: broadcasts transitions and advances the watermarks.
    /// `watched_ms` is how long before this poll started the first current watcher subscribed:
    /// watching began then, not at this (later) poll, so a change a caller makes right after
    /// opening its watch is delivered. The database clock `db_now_ms` was read somewhere within the
    /// poll's `took`, late in it when PostgreSQL is slow to start the statement, so watching counts
    /// from that much earlier still: a change just before the subscription may arrive as a
    /// transition, and none just after it is taken for the starting state.
    /// `took` is how long the poll took (a rescan's cost spaces the next one).
    pub fn ingest(
        &mut self,
        hub: &Hub,
        changed: Vec<WorkflowRow>,
        db_now_ms: i64,
        watched_ms: i64,
        took: Duration,
    ) {
        let first = self.activated_at.is_none();
        let activated_at = *self.activated_at.get_or_insert(
            db_now_ms
                .saturating_sub(watched_ms)
                .saturating_sub(took.as_millis() as i64),
        );
        for row in changed {
            let fingerprint = (row.status.clone(), row.updated_at);
            let previous = self
                .seen
                .insert(row.workflow_id.clone(), fingerprint.clone());
            let is_new = previous.as_ref() != Some(&fingerprint);
            // A row last changed before watching began is the starting state, not a transition.
            if is_new && (previous.is_some() || row.updated_at >= activated_at) {
                hub.publish(Arc::new(row));
            }
        }
        // The first watermark reaches back to when watching began, however long before this poll
        // that was (a loaded poller's ticks run late): a change since then is still read.
        let since = match first {
            true => activated_at,
            false => db_now_ms,
        }
        .saturating_sub(MARGIN_MS);
        if let Some(started) = self.rescanning.take() {
            self.budget.ran(started, took);
            self.rescan_since = Some(since);
        }
        // The first rescan reaches back to the first poll's watermark.
        let keep_from = since.min(*self.rescan_since.get_or_insert(since));
        self.seen
            .retain(|_, (_, updated_at)| *updated_at >= keep_from);
        self.since = Some(since);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, status: &str, updated_at: i64) -> WorkflowRow {
        WorkflowRow {
            workflow_id: id.into(),
            status: Some(status.into()),
            updated_at,
            ..Default::default()
        }
    }

    fn published(
        rx: &mut tokio::sync::broadcast::Receiver<Arc<WorkflowRow>>,
    ) -> Vec<(String, String)> {
        std::iter::from_fn(|| rx.try_recv().ok())
            .map(|r| (r.workflow_id.clone(), r.status.clone().unwrap_or_default()))
            .collect()
    }

    fn pair(id: &str, status: &str) -> (String, String) {
        (id.to_owned(), status.to_owned())
    }

    const MS: Duration = Duration::from_millis(1);

    /// "before", last changed to `status` at `before_at` (the starting state), and "after",
    /// cancelled at `after_at` (a transition once watching began).
    fn before_and_after((status, before_at): (&str, i64), after_at: i64) -> Vec<WorkflowRow> {
        vec![
            row("before", status, before_at),
            row("after", "CANCELLED", after_at),
        ]
    }

    /// A hub, its feed's receiver, and a feed whose first watcher has just subscribed.
    fn first_watcher() -> (
        Arc<Hub>,
        tokio::sync::broadcast::Receiver<Arc<WorkflowRow>>,
        FeedState,
    ) {
        let hub = Hub::new();
        let rx = hub.subscribe_feed();
        let mut feed = FeedState::new(Duration::ZERO);
        feed.watermark(true, Instant::now());
        (hub, rx, feed)
    }

    /// The first watched poll read the database clock late in a slow poll: a change made after
    /// the subscription but before that read is still a transition, not the starting state.
    #[tokio::test]
    async fn watching_counts_from_before_a_slow_poll_read_the_clock() {
        let (hub, mut rx, mut feed) = first_watcher();
        feed.ingest(
            &hub,
            before_and_after(("PENDING", 9_900), 9_970),
            10_000,
            0,
            50 * MS,
        );
        assert_eq!(published(&mut rx), [pair("after", "CANCELLED")]);
    }

    #[tokio::test]
    async fn transitions_are_published_once_and_baseline_is_not() {
        let hub = Hub::new();
        let mut rx = hub.subscribe_feed();
        let mut feed = FeedState::new(Duration::ZERO);
        let now = Instant::now();
        assert_eq!(feed.watermark(true, now), FeedSince::default());
        feed.ingest(&hub, vec![], 10_000, 0, MS);
        assert_eq!(feed.watermark(true, now).indexed, Some(7_999));
        // "old" changed before watching began: baseline. "a" is new.
        feed.ingest(
            &hub,
            vec![row("old", "SUCCESS", 9_000), row("a", "ENQUEUED", 10_001)],
            10_050,
            0,
            MS,
        );
        // The same rows again inside the margin, then a's transition.
        feed.ingest(
            &hub,
            vec![row("old", "SUCCESS", 9_000), row("a", "ENQUEUED", 10_001)],
            10_100,
            0,
            MS,
        );
        feed.ingest(&hub, vec![row("a", "PENDING", 10_150)], 10_200, 0, MS);
        assert_eq!(
            published(&mut rx),
            [pair("a", "ENQUEUED"), pair("a", "PENDING")]
        );
        assert_eq!(feed.watermark(false, now), FeedSince::default());
        assert_eq!(
            feed.watermark(true, now),
            FeedSince::default(),
            "state is forgotten when nobody watches: the next poll learns the clock again"
        );
    }

    #[tokio::test]
    async fn a_change_between_subscribing_and_the_first_poll_is_a_transition() {
        let (hub, mut rx, mut feed) = first_watcher();
        // The watcher subscribed 300 ms before this first poll learned the clock (10,000).
        feed.ingest(&hub, vec![], 10_000, 300, MS);
        feed.ingest(
            &hub,
            before_and_after(("SUCCESS", 9_600), 9_800),
            10_050,
            350,
            MS,
        );
        assert_eq!(published(&mut rx), [pair("after", "CANCELLED")]);
    }

    /// The poller's first watched poll came long after the subscription (its ticks ran late): the
    /// next poll still reads back to when watching began, so a cancel made just after subscribing
    /// is read and sent.
    #[tokio::test]
    async fn the_first_watermark_reaches_back_to_when_watching_began() {
        let (hub, mut rx, mut feed) = first_watcher();
        // Subscribed 5 s before this poll learned the clock (10,000): watching began at 5,000.
        feed.ingest(&hub, vec![], 10_000, 5_000, Duration::ZERO);
        let since = feed.watermark(true, Instant::now()).indexed;
        assert_eq!(since, Some(5_000 - MARGIN_MS));
        feed.ingest(
            &hub,
            vec![row("after", "CANCELLED", 5_100)],
            10_050,
            5_050,
            MS,
        );
        assert_eq!(published(&mut rx), [pair("after", "CANCELLED")]);
    }

    #[tokio::test]
    async fn the_rescan_reaches_back_to_the_previous_rescan_and_repeats_nothing() {
        let hub = Hub::new();
        let mut rx = hub.subscribe_feed();
        let mut feed = FeedState::new(Duration::from_secs(60));
        let start = Instant::now();
        feed.watermark(true, start);
        feed.ingest(&hub, vec![], 10_000, 0, MS);
        // The first real poll rescans from the first watermark.
        assert_eq!(
            feed.watermark(true, start),
            FeedSince {
                indexed: Some(7_999),
                rescan: Some(7_999)
            }
        );
        feed.ingest(&hub, vec![row("a", "ENQUEUED", 10_001)], 10_005, 0, MS);
        // Ticks later, inside the rescan's spacing: the indexed watermark moves on alone, and the
        // indexed part finds a's dequeue.
        let mut db_now = 10_005;
        for tick in 1..=100 {
            let since = feed.watermark(true, start + tick * MS);
            assert_eq!(since.rescan, None, "not due before the spacing");
            let changed = match tick {
                50 => vec![row("a", "PENDING", 10_200)],
                _ => vec![],
            };
            db_now += 50;
            feed.ingest(&hub, changed, db_now, 0, MS);
        }
        assert_eq!(
            feed.watermark(true, start + 2 * MS).indexed,
            Some(db_now - MARGIN_MS)
        );
        // Once due, the rescan reaches back to the last rescan's watermark: it finds b's resume
        // (no index does) and a's dequeue again, which is not repeated.
        let since = feed.watermark(true, start + Duration::from_secs(61));
        assert_eq!(since.rescan, Some(8_005));
        feed.ingest(
            &hub,
            vec![row("a", "PENDING", 10_200), row("b", "ENQUEUED", 10_300)],
            db_now + 50,
            0,
            MS,
        );
        assert_eq!(
            published(&mut rx),
            [
                pair("a", "ENQUEUED"),
                pair("a", "PENDING"),
                pair("b", "ENQUEUED")
            ]
        );
    }
}
