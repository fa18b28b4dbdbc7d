//! `notifications` (SendMessage) and `workflow_events` (GetEvent).

use tokio_postgres::types::Type;

use super::{classify, classify::is_foreign_key_violation, Repo};
use crate::{
    error::{Error, Result},
    model::{NewMessage, StoredValue},
};

impl Repo {
    /// Inserts a message; `Ok(false)` when a message with the same id was already delivered.
    /// The DBOS trigger on `notifications` wakes a waiting `recv` on commit.
    pub async fn send_message(&self, msg: &NewMessage) -> Result<bool> {
        let conn = self.conn().await?;
        match conn
            .query_typed_opt(
                self.sql().send.as_str(),
                &[
                    (&msg.destination_id, Type::TEXT),
                    (&msg.topic, Type::TEXT),
                    (&msg.message, Type::TEXT),
                    (&msg.message_id, Type::TEXT),
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

    /// The current value of event `key` of a workflow, if set.
    pub async fn get_event(&self, workflow_id: &str, key: &str) -> Result<Option<StoredValue>> {
        let conn = self.conn().await?;
        let row = conn
            .query_typed_opt(
                self.sql().get_event.as_str(),
                &[(&workflow_id, Type::TEXT), (&key, Type::TEXT)],
            )
            .await
            .map_err(|e| classify("reading an event", e))?;
        Ok(row.map(|r| StoredValue {
            text: r.get(0),
            serialization: r.get(1),
        }))
    }
}
