//! `workflow_schedules`: DBOS cron schedules.

/// A schedule row (the `schedule` column is `cron`).
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleRow {
    pub schedule_id: String,
    pub schedule_name: String,
    pub workflow_name: String,
    pub workflow_class_name: Option<String>,
    pub cron: String,
    /// `ACTIVE` or `PAUSED`.
    pub status: String,
    /// The creator's native encoding (see `native`).
    pub context: String,
    pub last_fired_at: Option<String>,
    pub automatic_backfill: bool,
    pub cron_timezone: Option<String>,
    pub queue_name: Option<String>,
    pub application_name: Option<String>,
}

/// ListSchedules filters, ANDed; empty means no filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScheduleFilter {
    pub statuses: Vec<String>,
    pub workflow_names: Vec<String>,
    pub name_prefixes: Vec<String>,
    /// Owners; unclaimed schedules always match when set.
    pub application_names: Vec<String>,
}
