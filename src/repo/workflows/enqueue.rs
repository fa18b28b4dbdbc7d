//! Enqueue: the `workflow_status` row and its `workflow_input` row written by ONE statement (a
//! data-modifying CTE, atomic without BEGIN/COMMIT) in one round trip, as the DBOS clients'
//! two-insert transaction writes them.

use tokio_postgres::{error::SqlState, GenericClient, Row, Transaction};

use crate::repo::db::row::Columns;
use crate::repo::{
    db::classify::classify,
    sql::Statements,
    workflows::{
        outcome::{outcome, outcomes, settle, DedupConflict},
        session::EnqueueSession,
    },
    Repo, Unnamed,
};
use crate::{
    error::{Error, Result},
    model::{EnqueueOutcome, Enqueued, NewWorkflow, WorkflowStatus},
};

/// How many times an enqueue under RETURN_EXISTING retries when the deduplication holder vanishes
/// between the failed insert and the lookup.
const DEDUP_RETRIES: usize = 5;

impl Repo {
    /// Enqueues `wf` atomically (status row and input row), as the DBOS clients do.
    pub async fn enqueue(&self, wf: &NewWorkflow) -> Result<Enqueued> {
        for attempt in 1.. {
            let conn = self.conn().await?;
            // One workflow needs no transaction: on a conflict nothing was inserted.
            match run(&**conn, self.sql(), std::slice::from_ref(wf)).await? {
                Ok(rows) => return outcome(wf, rows.first()),
                Err(DedupConflict(_)) => {
                    if let Some(done) = dedup_holder(&**conn, self.sql(), wf, attempt).await? {
                        return Ok(done);
                    }
                }
            }
        }
        unreachable!("the attempts are unbounded; dedup_holder ends the loop")
    }

    /// Enqueues independent workflows with one statement where it can (on `session` when given,
    /// else on a pooled connection): each gets its own outcome, as if enqueued alone. Ids must be
    /// distinct. When the shared statement fails for a reason that may belong to one workflow (a
    /// deduplication conflict, a value the database rejects), nothing was written and each is
    /// enqueued alone, so only the workflow at fault gets the error.
    pub async fn enqueue_each(
        &self,
        wfs: &[NewWorkflow],
        session: Option<&EnqueueSession>,
    ) -> Vec<Result<Enqueued>> {
        let mut shared = match session {
            Some(session) => Some(session.run(self.sql(), wfs).await),
            None => None,
        };
        // A broken session (say, a database restart, or its backend terminated) tells nothing
        // about the workflows: the pool may still reach the database.
        let broken = session.is_some_and(EnqueueSession::is_closed)
            || matches!(shared, Some(Err(Error::Unavailable(_))));
        if broken || (shared.is_none() && wfs.len() > 1) {
            shared = Some(match self.conn().await {
                Ok(conn) => run(&**conn, self.sql(), wfs).await,
                Err(e) => Err(e),
            });
        }
        match shared {
            Some(Ok(Ok(rows))) => return outcomes(wfs, &rows),
            Some(Err(e)) if e.retryable() => {
                return wfs.iter().map(|_| Err(e.for_another_caller())).collect()
            }
            _ => {}
        }
        futures::future::join_all(wfs.iter().map(|wf| self.enqueue(wf))).await
    }

    /// Enqueues several workflows atomically (one statement, one transaction): every one is
    /// written, or none. Ids must be distinct. A deduplication conflict fails the whole batch with
    /// ALREADY_EXISTS.
    ///
    /// The first try expects every id to be new (the common case): one prepared statement, atomic
    /// on its own, in one round trip. An id already taken (or a deduplication id held) fails it
    /// with a unique violation and writes nothing; the batch then goes again the long way, in a
    /// transaction that sees the existing rows, so a replayed id gets EXISTING and a conflicting
    /// one undoes the whole batch.
    pub async fn enqueue_many(&self, wfs: &[NewWorkflow]) -> Result<Vec<Enqueued>> {
        let mut conn = self.conn().await?;
        let stmt = &self.sql().enqueue;
        let token = uuid::Uuid::new_v4().to_string();
        let params = stmt.params(&token, wfs);
        let params = params.refs();
        match conn.query_hot(&stmt.fresh_text, &params).await {
            Ok(rows) => return outcomes(wfs, &rows).into_iter().collect(),
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {}
            Err(e) => return Err(classify("enqueueing workflows", e)),
        }
        // A batch that finds a conflicting id after inserting others must undo them: dropping `tx`
        // on an error rolls it back.
        let tx = conn
            .transaction()
            .await
            .map_err(|e| classify("enqueueing workflows", e))?;
        let done = match run(&tx, self.sql(), wfs).await? {
            Ok(rows) => outcomes(wfs, &rows)
                .into_iter()
                .collect::<Result<Vec<_>>>()?,
            Err(DedupConflict(detail)) => {
                return Err(Error::AlreadyExists(format!(
                    "a workflow of the batch was deduplicated ({detail}); nothing was enqueued"
                )))
            }
        };
        tx.commit()
            .await
            .map_err(|e| classify("enqueueing workflows", e))?;
        Ok(done)
    }
}

/// Enqueues `wf` inside the caller's transaction (Transact): like [`Repo::enqueue`], with a savepoint
/// around the statement so a deduplication conflict or an existing id leaves the transaction usable.
pub(crate) async fn enqueue_in(
    tx: &mut Transaction<'_>,
    sql: &Statements,
    wf: &NewWorkflow,
) -> Result<Enqueued> {
    let ctx = "enqueueing a workflow";
    for attempt in 1.. {
        let sp = tx
            .savepoint("dbosd_enqueue")
            .await
            .map_err(|e| classify(ctx, e))?;
        match run(&sp, sql, std::slice::from_ref(wf)).await? {
            Ok(rows) => {
                sp.commit().await.map_err(|e| classify(ctx, e))?;
                return outcome(wf, rows.first());
            }
            Err(DedupConflict(_)) => {
                sp.rollback().await.map_err(|e| classify(ctx, e))?;
                if let Some(done) = dedup_holder(&*tx, sql, wf, attempt).await? {
                    return Ok(done);
                }
            }
        }
    }
    unreachable!("the attempts are unbounded; dedup_holder ends the loop")
}

/// Runs the enqueue statement for `wfs` on `client` (which the caller commits or rolls back).
/// `Ok(Err(DedupConflict))` leaves a transaction aborted.
async fn run(
    client: &(impl GenericClient + Sync),
    sql: &Statements,
    wfs: &[NewWorkflow],
) -> Result<Result<Vec<Row>, DedupConflict>> {
    let stmt = &sql.enqueue;
    let token = uuid::Uuid::new_v4().to_string();
    let params = stmt.params(&token, wfs);
    let params = params.refs();
    settle(client.query_unnamed(&stmt.text, &params).await)
}

/// After a deduplication conflict: ALREADY_EXISTS under REJECT, else the holder (DEDUPLICATED), or
/// None to retry the insert when the holder released the id meanwhile (ABORTED after a few tries).
async fn dedup_holder(
    client: &(impl GenericClient + Sync),
    sql: &Statements,
    wf: &NewWorkflow,
    attempt: usize,
) -> Result<Option<Enqueued>> {
    let queue = wf.queue_name.as_str();
    let dedup = wf.deduplication_id.as_deref().unwrap_or_default();
    if !wf.return_existing_on_dedup {
        return Err(Error::AlreadyExists(format!(
            "workflow {} was deduplicated: an active workflow in queue {queue} already has deduplication id {dedup}",
            wf.workflow_id
        )));
    }
    let holder = client
        .query_opt_unnamed(sql.dedup_holder.as_str(), &[&queue, &dedup])
        .await
        .map_err(|e| classify("looking up the deduplication holder", e))?;
    if let Some(row) = holder {
        let (app, queue): (Option<String>, Option<String>) = (row.col(2)?, row.col(3)?);
        if !wf.caller_scope.allows(app.as_deref(), queue.as_deref()) {
            // Another application's workflow holds the id: answered as REJECT would be.
            return Err(Error::AlreadyExists(format!(
                "workflow {} was deduplicated: an active workflow in queue {queue} already has deduplication id {dedup}",
                wf.workflow_id,
                queue = wf.queue_name,
            )));
        }
        return Ok(Some(Enqueued {
            workflow_id: row.col(0)?,
            outcome: EnqueueOutcome::Deduplicated,
            status: row
                .col::<_, Option<String>>(1)?
                .as_deref()
                .and_then(WorkflowStatus::parse),
        }));
    }
    if attempt >= DEDUP_RETRIES {
        return Err(Error::Aborted(format!(
            "deduplication id {dedup} of queue {queue} kept changing hands; retry"
        )));
    }
    Ok(None)
}
