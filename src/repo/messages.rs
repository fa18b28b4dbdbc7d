//! `notifications` (SendMessage) and `workflow_events` (GetEvent, GetWorkflowEvents).

use tokio_postgres::GenericClient;

use super::{classify, classify::is_foreign_key_violation, sql::Statements, Repo, Unnamed};
use crate::{
    error::{Error, Result},
    model::{NewMessage, StoredValue},
};

impl Repo {
    /// Inserts a message; `Ok(false)` when a message with the same id was already delivered.
    /// The DBOS trigger on `notifications` wakes a waiting `recv` on commit.
    pub async fn send_message(&self, msg: &NewMessage) -> Result<bool> {
        let conn = self.conn().await?;
        send_in(&**conn, self.sql(), msg).await
    }

    /// Sends `msg` and a copy to every fork of its destination, recursively, in one transaction
    /// (Python's send_to_forks). Returns whether the destination's message was delivered, and the forks.
    pub async fn send_message_to_forks(&self, msg: &NewMessage) -> Result<(bool, Vec<String>)> {
        let ctx = "sending a message to forks";
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(|e| classify(ctx, e))?;
        let delivered = send_in(&tx, self.sql(), msg).await?;
        let forks: Vec<String> = tx
            .query_unnamed(self.sql().forks_of.as_str(), &[&msg.destination_id])
            .await
            .map_err(|e| classify(ctx, e))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        for fork in &forks {
            send_in(&tx, self.sql(), &msg.to(fork)).await?;
        }
        tx.commit().await.map_err(|e| classify(ctx, e))?;
        Ok((delivered, forks))
    }

    /// The current value of event `key` of a workflow, if set.
    pub async fn get_event(&self, workflow_id: &str, key: &str) -> Result<Option<StoredValue>> {
        let conn = self.conn().await?;
        let row = conn
            .query_opt_hot(self.sql().get_event.as_str(), &[&workflow_id, &key])
            .await
            .map_err(|e| classify("reading an event", e))?;
        Ok(row.map(|r| StoredValue {
            text: r.get(0),
            serialization: r.get(1),
        }))
    }

    /// Every event of a workflow with its current value, by key; None when the workflow does not exist.
    pub async fn get_all_events(
        &self,
        workflow_id: &str,
    ) -> Result<Option<Vec<(String, StoredValue)>>> {
        let conn = self.conn().await?;
        let rows = conn
            .query_hot(self.sql().get_all_events.as_str(), &[&workflow_id])
            .await
            .map_err(|e| classify("reading events", e))?;
        if rows.is_empty() {
            return Ok(None);
        }
        // The LEFT JOIN yields one all-NULL event row for a workflow without events.
        Ok(Some(
            rows.iter()
                .filter_map(|r| {
                    let key: Option<String> = r.get(0);
                    key.map(|key| {
                        (
                            key,
                            StoredValue {
                                text: r.get(1),
                                serialization: r.get(2),
                            },
                        )
                    })
                })
                .collect(),
        ))
    }
}

/// Inserts a message on `client` (a pooled connection or the caller's transaction).
pub(crate) async fn send_in(
    client: &(impl GenericClient + Sync),
    sql: &Statements,
    msg: &NewMessage,
) -> Result<bool> {
    match client
        .query_opt_unnamed(
            sql.send.as_str(),
            &[
                &msg.destination_id,
                &msg.topic,
                &msg.message,
                &msg.message_id,
            ],
        )
        .await
    {
        Ok(row) => Ok(row.is_some()),
        Err(e) if is_foreign_key_violation(&e) => Err(Error::NotFound(format!(
            "destination workflow {} does not exist",
            msg.destination_id
        ))),
        Err(e) => Err(classify("sending a message", e)),
    }
}
