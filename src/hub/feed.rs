//! The status-transition feed behind WatchWorkflows: the poller asks for status rows updated since a
//! watermark, and every row whose (status, updated_at) differs from what was last seen is broadcast.
//!
//! `updated_at` is the writer's transaction start time, so a row can commit with a timestamp slightly
//! behind the watermark; the watermark therefore trails the database clock by a margin, and rows seen
//! again inside the margin are recognised and not repeated.

use std::{collections::HashMap, sync::Arc};

use super::Hub;
use crate::model::WorkflowRow;

/// Transitions buffered per watcher; a watcher that falls further behind re-reads from the database.
pub const CAPACITY: usize = 4096;

/// How far the watermark trails the database clock: the longest a DBOS transaction that changes a
/// status row may stay open between its start and its commit without its transition being missed.
const MARGIN_MS: i64 = 2_000;

/// The poller's feed bookkeeping.
#[derive(Debug, Default)]
pub struct FeedState {
    /// Database time when watching began; rows older than this are baseline, not transitions.
    activated_at: Option<i64>,
    /// The watermark passed to the next poll.
    since: Option<i64>,
    /// Last (status, updated_at) seen per workflow inside the margin.
    seen: HashMap<String, (Option<String>, i64)>,
}

impl FeedState {
    /// The watermark for this tick's poll, or `None` when nobody watches (which also forgets state).
    pub fn watermark(&mut self, active: bool) -> Option<i64> {
        if !active {
            *self = FeedState::default();
            return None;
        }
        // Before the first poll the database time is unknown: ask for nothing, learn the clock.
        Some(self.since.unwrap_or(i64::MAX))
    }

    /// Takes one poll's changed rows: broadcasts transitions and advances the watermark.
    /// `watched_ms` is how long ago the first current watcher subscribed: watching began then, not
    /// at this (later) poll, so a change a caller makes right after opening its watch is delivered.
    pub fn ingest(
        &mut self,
        hub: &Hub,
        changed: Vec<WorkflowRow>,
        db_now_ms: i64,
        watched_ms: i64,
    ) {
        let activated_at = *self
            .activated_at
            .get_or_insert(db_now_ms.saturating_sub(watched_ms));
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
        let since = db_now_ms - MARGIN_MS;
        self.seen.retain(|_, (_, updated_at)| *updated_at >= since);
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

    #[tokio::test]
    async fn transitions_are_published_once_and_baseline_is_not() {
        let hub = Hub::new();
        let mut rx = hub.subscribe_feed();
        let mut feed = FeedState::default();
        assert_eq!(feed.watermark(true), Some(i64::MAX));
        feed.ingest(&hub, vec![], 10_000, 0);
        assert_eq!(feed.watermark(true), Some(8_000));
        // "old" changed before watching began: baseline. "a" is new.
        feed.ingest(
            &hub,
            vec![row("old", "SUCCESS", 9_000), row("a", "ENQUEUED", 10_001)],
            10_050,
            0,
        );
        // The same rows again inside the margin, then a's transition.
        feed.ingest(
            &hub,
            vec![row("old", "SUCCESS", 9_000), row("a", "ENQUEUED", 10_001)],
            10_100,
            0,
        );
        feed.ingest(&hub, vec![row("a", "PENDING", 10_150)], 10_200, 0);
        let got: Vec<(String, Option<String>)> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|r| (r.workflow_id.clone(), r.status.clone()))
            .collect();
        assert_eq!(
            got,
            [
                ("a".to_owned(), Some("ENQUEUED".to_owned())),
                ("a".to_owned(), Some("PENDING".to_owned()))
            ]
        );
        assert_eq!(feed.watermark(false), None);
        assert_eq!(
            feed.watermark(true),
            Some(i64::MAX),
            "state is forgotten when nobody watches"
        );
    }

    #[tokio::test]
    async fn a_change_between_subscribing_and_the_first_poll_is_a_transition() {
        let hub = Hub::new();
        let mut rx = hub.subscribe_feed();
        let mut feed = FeedState::default();
        feed.watermark(true);
        // The watcher subscribed 300 ms before this first poll learned the clock (10,000).
        feed.ingest(&hub, vec![], 10_000, 300);
        feed.ingest(
            &hub,
            vec![
                row("before", "SUCCESS", 9_600),
                row("after", "CANCELLED", 9_800),
            ],
            10_050,
            350,
        );
        let got: Vec<String> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|r| r.workflow_id.clone())
            .collect();
        assert_eq!(got, ["after"]);
    }
}
