//! `notifications` (SendMessage) and `workflow_events` (GetEvent, GetWorkflowEvents).

use tokio_postgres::GenericClient;

use crate::repo::db::row::Columns;
use crate::repo::{
    db::classify::classify, db::classify::is_foreign_key_violation, db::scope::Bound,
    sql::Statements, Repo, Unnamed,
};
use crate::{
    error::{Error, Result},
    model::Scope,
    model::{NewMessage, StoredValue},
};

impl Repo {
    /// Inserts a message for a workflow inside `scope`; `Ok(false)` when a message with the same id
    /// was already delivered. The DBOS trigger on `notifications` wakes a waiting `recv` on commit.
    pub async fn send_message(&self, msg: &NewMessage, scope: &Scope) -> Result<bool> {
        let conn = self.conn().await?;
        send_in(&**conn, self.sql(), msg, scope).await
    }

    /// Sends `msg` and a copy to every fork of its destination, recursively, in one transaction
    /// (Python's send_to_forks). Returns whether the destination's message was delivered, and the
    /// forks. The destination and every fork must be inside `scope`; forks outside it are skipped.
    pub async fn send_message_to_forks(
        &self,
        msg: &NewMessage,
        scope: &Scope,
    ) -> Result<(bool, Vec<String>)> {
        let ctx = "sending a message to forks";
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(|e| classify(ctx, e))?;
        let delivered = send_in(&tx, self.sql(), msg, scope).await?;
        let bound = Bound::of(scope);
        let forks: Vec<String> = tx
            .query_unnamed(
                self.sql().forks_of.as_str(),
                &[&msg.destination_id, &bound.apps, &bound.queues],
            )
            .await
            .map_err(|e| classify(ctx, e))?
            .iter()
            .map(|r| r.col(0))
            .collect::<Result<_>>()?;
        for fork in &forks {
            send_in(&tx, self.sql(), &msg.to(fork), scope).await?;
        }
        tx.commit().await.map_err(|e| classify(ctx, e))?;
        Ok((delivered, forks))
    }

    /// The current value of event `key` of a workflow inside `scope`, if set (an event belongs to
    /// its workflow: one outside the scope has none).
    pub async fn get_event(
        &self,
        workflow_id: &str,
        key: &str,
        scope: &Scope,
    ) -> Result<Option<StoredValue>> {
        let conn = self.conn().await?;
        let bound = Bound::of(scope);
        let row = conn
            .query_opt_hot(
                self.sql().get_event.as_str(),
                &[&workflow_id, &key, &bound.apps, &bound.queues],
            )
            .await
            .map_err(|e| classify("reading an event", e))?;
        row.map(|r| {
            Ok(StoredValue {
                text: r.col(0)?,
                serialization: r.col(1)?,
            })
        })
        .transpose()
    }

    /// Every event of a workflow with its current value, by key; None when the workflow does not
    /// exist or is outside `scope`.
    pub async fn get_all_events(
        &self,
        workflow_id: &str,
        scope: &Scope,
    ) -> Result<Option<Vec<(String, StoredValue)>>> {
        let conn = self.conn().await?;
        let bound = Bound::of(scope);
        let rows = conn
            .query_hot(
                self.sql().get_all_events.as_str(),
                &[&workflow_id, &bound.apps, &bound.queues],
            )
            .await
            .map_err(|e| classify("reading events", e))?;
        if rows.is_empty() {
            return Ok(None);
        }
        // The LEFT JOIN yields one all-NULL event row for a workflow without events.
        Ok(Some(
            rows.iter()
                .filter_map(|r| {
                    let key: Option<String> = match r.col(0) {
                        Ok(key) => key,
                        Err(e) => return Some(Err(e)),
                    };
                    key.map(|key| {
                        Ok((
                            key,
                            StoredValue {
                                text: r.col(1)?,
                                serialization: r.col(2)?,
                            },
                        ))
                    })
                })
                .collect::<Result<_>>()?,
        ))
    }
}

/// Inserts a message on `client` (a pooled connection or the caller's transaction) for a
/// destination inside `scope`; one outside it is answered as a missing one.
pub(crate) async fn send_in(
    client: &(impl GenericClient + Sync),
    sql: &Statements,
    msg: &NewMessage,
    scope: &Scope,
) -> Result<bool> {
    let missing = || {
        Error::NotFound(format!(
            "destination workflow {} does not exist",
            msg.destination_id
        ))
    };
    let bound = Bound::of(scope);
    let row = client
        .query_one_unnamed(
            sql.send.as_str(),
            &[
                &msg.destination_id,
                &msg.topic,
                &msg.message,
                &msg.message_id,
                &bound.apps,
                &bound.queues,
            ],
        )
        .await;
    match row {
        Ok(row) if !row.col::<_, bool>(0)? => Err(missing()),
        Ok(row) => Ok(row.col(1)?),
        // The destination was deleted between the lookup and the insert.
        Err(e) if is_foreign_key_violation(&e) => Err(missing()),
        Err(e) => Err(classify("sending a message", e)),
    }
}
