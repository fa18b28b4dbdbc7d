//! GetWorkflowAggregates / GetStepAggregates: grouped counts (the Go client's aggregates).

use super::ListFilter;

/// A workflow column to group by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkflowGroup {
    Status,
    Name,
    QueueName,
    ExecutorId,
    AppVersion,
    ApplicationName,
}

/// A step column to group by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepGroup {
    FunctionName,
    /// SUCCESS, or ERROR when the step recorded an error.
    Status,
}

/// A workflow aggregate query.
#[derive(Debug, Clone)]
pub struct WorkflowAggQuery {
    pub filter: ListFilter,
    pub group_by: Vec<WorkflowGroup>,
    /// Creation-time bucket size in ms.
    pub bucket_ms: Option<i64>,
    pub limit: i64,
}

/// A step aggregate query; empty lists and None mean "no filter".
#[derive(Debug, Clone)]
pub struct StepAggQuery {
    pub group_by: Vec<StepGroup>,
    /// Completion-time bucket size in ms.
    pub bucket_ms: Option<i64>,
    /// true = ERROR, false = SUCCESS.
    pub errors: Vec<bool>,
    pub function_names: Vec<String>,
    pub id_prefixes: Vec<String>,
    pub completed_after: Option<i64>,
    pub completed_before: Option<i64>,
    /// Owning applications; unclaimed rows always match when set.
    pub application_names: Vec<String>,
    pub limit: i64,
}

/// One group: its values (in group_by order), bucket start, and measures.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateRow {
    pub group: Vec<Option<String>>,
    pub bucket_start: Option<i64>,
    pub count: i64,
    /// Workflows: MIN(created_at); steps: unused.
    pub min_created_at: Option<i64>,
    /// Workflows: longest queue wait; steps: longest duration (ms).
    pub max_wait_ms: Option<i64>,
    /// Workflows: longest total latency (ms).
    pub max_latency_ms: Option<i64>,
}
