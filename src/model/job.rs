//! Bulk jobs: one management operation over every workflow a filter selects, applied in batches by
//! whichever dbosd replica holds the job's lease. The job row (schema `dbosd`) is the only state.

use crate::model::Scope;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Not finished: a replica runs it, or the next to look takes it up.
    Running,
    Completed,
    Aborted,
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Running => "RUNNING",
            JobState::Completed => "COMPLETED",
            JobState::Aborted => "ABORTED",
            JobState::Failed => "FAILED",
        }
    }

    pub fn parse(text: &str) -> Option<JobState> {
        [
            JobState::Running,
            JobState::Completed,
            JobState::Aborted,
            JobState::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    /// Whether the job will not change any more.
    pub fn is_final(self) -> bool {
        self != JobState::Running
    }
}

/// A job as started: what the store keeps. `request` is the operation's request as the API
/// received it, opaque below the API (the runner hands it back to the API to decode).
#[derive(Debug, Clone)]
pub struct NewJob {
    pub job_id: String,
    pub operation: String,
    pub request: Vec<u8>,
    /// The starting caller's scope: every batch's SQL carries it, and only callers of the same
    /// scope (or unrestricted ones) see the job.
    pub scope: Scope,
    pub created_by: Option<String>,
    pub rows_per_second: u32,
    pub batch_size: u32,
}

/// The end of a job's selection: the last matching (created_at, workflow_uuid) when it started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobBound {
    pub created_at: i64,
    pub workflow_id: String,
}

/// A job as stored, with its progress.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRow {
    pub job_id: String,
    pub operation: String,
    pub request: Vec<u8>,
    pub scope: Scope,
    pub created_by: Option<String>,
    pub rows_per_second: u32,
    pub batch_size: u32,
    pub state: JobState,
    pub total_count: i64,
    pub processed_count: i64,
    pub changed_count: i64,
    pub batch_count: i64,
    pub error: Option<String>,
    pub runner_id: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub finished_at_ms: Option<i64>,
}

/// What one batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchOutcome {
    /// Committed: `processed` selected workflows, `changed` rows changed; `done` when it was the last.
    Applied {
        processed: usize,
        changed: usize,
        done: bool,
    },
    /// The job is no longer this runner's (its lease passed to another replica) or no longer
    /// RUNNING (aborted): nothing was applied.
    Stopped,
}

/// A scope in its stored form: lists sorted, so two equal scopes compare equal in SQL.
pub fn canonical_scope(scope: &Scope) -> Scope {
    let sorted = |list: &Option<Vec<String>>| {
        list.clone().map(|mut l| {
            l.sort();
            l.dedup();
            l
        })
    };
    Scope {
        applications: sorted(&scope.applications),
        queues: sorted(&scope.queues),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_and_only_running_is_not_final() {
        for s in [
            JobState::Running,
            JobState::Completed,
            JobState::Aborted,
            JobState::Failed,
        ] {
            assert_eq!(JobState::parse(s.as_str()), Some(s));
            assert_eq!(s.is_final(), s != JobState::Running);
        }
        assert_eq!(JobState::parse("running"), None);
    }

    #[test]
    fn canonical_scopes_compare_equal_whatever_the_order() {
        let a = Scope {
            applications: Some(vec!["b".into(), "a".into(), "a".into()]),
            queues: None,
        };
        let b = Scope {
            applications: Some(vec!["a".into(), "b".into()]),
            queues: None,
        };
        assert_eq!(canonical_scope(&a), canonical_scope(&b));
    }
}
