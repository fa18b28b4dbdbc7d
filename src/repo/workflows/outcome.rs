//! What an enqueue statement's returned rows mean for each requested workflow: created, an
//! existing row the caller may see (same workflow: an idempotent replay), or an id taken by a
//! different workflow or one outside the caller's scope.

use tokio_postgres::Row;

use crate::repo::{
    db::classify::{classify, is_unique_violation},
    db::row::Columns,
    workflows::statement::initial_status,
};
use crate::{
    error::{Error, Result},
    model::{EnqueueOutcome, Enqueued, NewWorkflow, WorkflowStatus},
};

/// Each requested workflow's outcome, in request order, from the statement's returned rows.
pub(in crate::repo) fn outcomes(wfs: &[NewWorkflow], rows: &[Row]) -> Vec<Result<Enqueued>> {
    let by_id: std::collections::HashMap<&str, &Row> = match rows
        .iter()
        .map(|r| Ok((r.col::<_, &str>("workflow_uuid")?, r)))
        .collect::<Result<_>>()
    {
        Ok(by_id) => by_id,
        Err(e) => return wfs.iter().map(|_| Err(e.for_another_caller())).collect(),
    };
    wfs.iter()
        .map(|wf| outcome(wf, by_id.get(wf.workflow_id.as_str()).copied()))
        .collect()
}

/// One requested workflow's outcome, from its returned row.
pub(in crate::repo) fn outcome(wf: &NewWorkflow, row: Option<&Row>) -> Result<Enqueued> {
    let row = row.ok_or_else(|| {
        Error::internal(
            "enqueueing workflows",
            format!("no row returned for {}", wf.workflow_id),
        )
    })?;
    if row.col::<_, bool>("created")? {
        return Ok(Enqueued {
            workflow_id: wf.workflow_id.clone(),
            outcome: EnqueueOutcome::Created,
            status: Some(initial_status(wf)),
        });
    }
    let owner = |col: &str| row.col::<_, Option<String>>(col);
    if !wf.caller_scope.allows(
        owner("application_name")?.as_deref(),
        owner("queue_name")?.as_deref(),
    ) {
        return Err(taken_elsewhere(&wf.workflow_id));
    }
    check_same_workflow(wf, row)?;
    Ok(Enqueued {
        workflow_id: wf.workflow_id.clone(),
        outcome: EnqueueOutcome::Existing,
        status: row
            .col::<_, Option<String>>("status")?
            .as_deref()
            .and_then(WorkflowStatus::parse),
    })
}

/// An id held by a workflow outside the caller's scope: the id is taken, and nothing else about
/// that workflow (name, status, owner) is told.
fn taken_elsewhere(workflow_id: &str) -> Error {
    Error::AlreadyExists(format!(
        "workflow id {workflow_id} is already taken; choose another id"
    ))
}

/// An existing id must hold the same workflow (name, class, config), as DBOS checks.
fn check_same_workflow(wf: &NewWorkflow, row: &Row) -> Result<()> {
    let found = |col: &str| row.col::<_, Option<String>>(col);
    for (what, existing, requested) in [
        ("workflow name", found("name")?, Some(wf.name.as_str())),
        ("class name", found("class_name")?, wf.class_name.as_deref()),
        (
            "config name",
            found("config_name")?,
            wf.config_name.as_deref(),
        ),
    ] {
        if existing.as_deref() != requested {
            return Err(Error::AlreadyExists(format!(
                "workflow {} already exists with a different {what} ({} instead of {})",
                wf.workflow_id,
                existing.as_deref().unwrap_or("none"),
                requested.unwrap_or("none"),
            )));
        }
    }
    Ok(())
}

/// A deduplication id is held by another active workflow of its queue (the database's detail).
pub(in crate::repo) struct DedupConflict(pub(in crate::repo) String);

/// The enqueue statement's rows, or its deduplication conflict, or its error.
pub(in crate::repo) fn settle(
    done: Result<Vec<Row>, tokio_postgres::Error>,
) -> Result<Result<Vec<Row>, DedupConflict>> {
    match done {
        Ok(rows) => Ok(Ok(rows)),
        Err(e) => dedup_or_error(e),
    }
}

/// A failed enqueue statement: a deduplication conflict (reported with the database's detail), or
/// an error.
fn dedup_or_error<T>(e: tokio_postgres::Error) -> Result<Result<T, DedupConflict>> {
    if is_unique_violation(&e, "dedup") {
        let detail = e
            .as_db_error()
            .and_then(|d| d.detail())
            .unwrap_or("duplicate deduplication id");
        return Ok(Err(DedupConflict(detail.to_owned())));
    }
    Err(classify("enqueueing workflows", e))
}
