//! SendMessages and Transact: enqueues and sends run in order in one transaction, with the same
//! statements as the single RPCs (`workflow_status::enqueue_in`, `messages::send_in`). Any failure
//! rolls everything back.

use crate::repo::{
    db::classify::classify, messaging::messages::send_in, workflows::enqueue::enqueue_in, Repo,
};
use crate::{
    error::{Error, Result},
    model::Scope,
    model::{TxOp, TxOutcome},
};

impl Repo {
    /// Runs `ops` in one transaction: all committed, or none. A failing operation's error names it
    /// as `<label>[i]`. For callers that may touch every workflow (Transact, schedule firings).
    pub async fn transact(&self, ops: &[TxOp], label: &str) -> Result<Vec<TxOutcome>> {
        self.transact_scoped(ops, label, &Scope::default()).await
    }

    /// [`Repo::transact`] whose sends reach only destinations inside `scope` (one outside it fails
    /// as a missing one does).
    pub async fn transact_scoped(
        &self,
        ops: &[TxOp],
        label: &str,
        scope: &Scope,
    ) -> Result<Vec<TxOutcome>> {
        let ctx = "running a transaction";
        let sql = self.sql();
        let mut conn = self.conn().await?;
        let mut tx = conn.transaction().await.map_err(|e| classify(ctx, e))?;
        let mut outcomes = Vec::with_capacity(ops.len());
        for (i, op) in ops.iter().enumerate() {
            let outcome = match op {
                TxOp::Enqueue(wf) => enqueue_in(&mut tx, sql, wf).await.map(TxOutcome::Enqueued),
                TxOp::Send(msg) => send_in(&tx, sql, msg, scope).await.map(TxOutcome::Sent),
            };
            outcomes.push(outcome.map_err(|e| at(label, i, e))?);
        }
        tx.commit().await.map_err(|e| classify(ctx, e))?;
        Ok(outcomes)
    }
}

/// `err` as the failure of operation `i` (retryable failures are the whole call's, left as they are).
fn at(label: &str, i: usize, err: Error) -> Error {
    let name = |msg: String| format!("{label}[{i}]: {msg}");
    match err {
        Error::NotFound(msg) => Error::NotFound(name(msg)),
        Error::AlreadyExists(msg) => Error::AlreadyExists(name(msg)),
        Error::FailedPrecondition(msg) => Error::FailedPrecondition(name(msg)),
        Error::InvalidArgument { field, reason } => Error::InvalidArgument {
            field: format!("{label}[{i}].{field}"),
            reason,
        },
        other => other,
    }
}
