//! The DBOS registries beside workflows: queues (`queues`), application versions
//! (`application_versions`), schedules (`workflow_schedules`), and what renaming an application moves.

/// A rate limit: at most `limit` starts per rolling `period_sec` seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub limit: i32,
    pub period_sec: f64,
}

/// A queue's configuration: every column a registrar writes except the owner.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueSpec {
    pub name: String,
    pub concurrency: Option<i32>,
    pub worker_concurrency: Option<i32>,
    pub rate_limit: Option<RateLimit>,
    pub partition_concurrency: Option<i32>,
    pub partition_worker_concurrency: Option<i32>,
    pub partition_rate_limit: Option<RateLimit>,
    pub polling_interval_sec: f64,
}

impl QueueSpec {
    /// Any partition limit makes the queue partitioned (DBOS's rule; the legacy `partition_queue` column).
    pub fn partitioned(&self) -> bool {
        self.partition_concurrency.is_some()
            || self.partition_worker_concurrency.is_some()
            || self.partition_rate_limit.is_some()
    }
}

/// A stored queue.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueRow {
    pub spec: QueueSpec,
    pub queue_id: String,
    /// None = unclaimed (every application polls it).
    pub application_name: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What RegisterQueue does when the name exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnConflict {
    Update,
    Keep,
}

/// A stored application version.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionRow {
    pub version_id: String,
    pub version_name: String,
    pub version_timestamp: i64,
    pub created_at: i64,
    pub application_name: Option<String>,
}

/// Which rows a rename moves, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct Rename {
    /// The old owner; None moves only unclaimed rows.
    pub old_name: Option<String>,
    pub new_name: String,
    /// Terminal workflows (and steps) per transaction; None moves them in one transaction.
    pub batch_size: Option<i64>,
    pub adopt_unclaimed: bool,
}

/// How many rows a rename moved, by table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RenameCounts {
    pub queues: u64,
    pub schedules: u64,
    pub versions: u64,
    pub workflows: u64,
    pub steps: u64,
}

/// Owner resolution for a named row (queue, version, schedule), as DBOS's `_resolve_row_owner`:
/// the owner to store, or the current owner when `wanted` collides with it.
pub fn resolve_owner(
    current: Option<&str>,
    exists: bool,
    wanted: Option<&str>,
) -> Result<Option<String>, String> {
    match (exists, current, wanted) {
        (false, _, w) | (true, None, w) => Ok(w.map(str::to_owned)),
        (true, Some(c), None) => Ok(Some(c.to_owned())),
        (true, Some(c), Some(w)) if c == w => Ok(Some(c.to_owned())),
        (true, Some(c), Some(_)) => Err(c.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::resolve_owner;

    #[test]
    fn owners_follow_dbos_rules() {
        assert_eq!(resolve_owner(None, false, Some("a")), Ok(Some("a".into())));
        assert_eq!(resolve_owner(None, true, Some("a")), Ok(Some("a".into())));
        assert_eq!(resolve_owner(Some("a"), true, None), Ok(Some("a".into())));
        assert_eq!(
            resolve_owner(Some("a"), true, Some("a")),
            Ok(Some("a".into()))
        );
        assert_eq!(resolve_owner(Some("a"), true, Some("b")), Err("a".into()));
        assert_eq!(resolve_owner(None, true, None), Ok(None));
    }
}
