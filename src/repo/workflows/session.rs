//! A database session of its own for single enqueues, with the enqueue statement prepared once.
//!
//! Parsing and planning the enqueue statement costs PostgreSQL about twice what running it does
//! (measured: ~550 µs sent unnamed vs ~170 µs prepared, one workflow), so the hot path pays for it
//! once per session instead of once per call. The session connects straight to PostgreSQL, as the
//! hub does: a transaction-pooling proxy cannot keep a prepared statement across transactions.
//! Its statements run for several callers at once, so they carry the session's ceiling
//! (`--statement-timeout-ms`, a startup option), never one caller's deadline.

use tokio::task::JoinHandle;
use tokio_postgres::{Client, Row, Statement};

use crate::repo::{
    db::classify::classify,
    db::unnamed::query_prepared,
    sql::Statements,
    workflows::outcome::{settle, DedupConflict},
    Repo,
};
use crate::{error::Result, model::NewWorkflow};

/// How an enqueue session shows in `pg_stat_activity.application_name`.
pub const APPLICATION_NAME: &str = "dbosd enqueue session";

/// One connection with the enqueue statement prepared on it.
pub struct EnqueueSession {
    client: Client,
    statement: Statement,
    driver: JoinHandle<()>,
}

impl EnqueueSession {
    /// Connects and prepares the enqueue statement.
    pub async fn open(repo: &Repo) -> Result<Self> {
        let (client, driver) = repo.dedicated_request_client(APPLICATION_NAME).await?;
        let enqueue = &repo.sql().enqueue;
        let statement = client
            .prepare_typed(&enqueue.text, &enqueue.types())
            .await
            .map_err(|e| classify("preparing the enqueue statement", e))?;
        Ok(EnqueueSession {
            client,
            statement,
            driver,
        })
    }

    /// Whether the connection is gone (the session must be replaced).
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// Runs the prepared enqueue statement for `wfs`: one round trip, atomic on its own.
    pub(in crate::repo) async fn run(
        &self,
        sql: &Statements,
        wfs: &[NewWorkflow],
    ) -> Result<Result<Vec<Row>, DedupConflict>> {
        let token = uuid::Uuid::new_v4().to_string();
        let params = sql.enqueue.params(&token, wfs);
        let params = params.refs();
        settle(query_prepared(&self.client, &self.statement, &params).await)
    }
}

impl Drop for EnqueueSession {
    fn drop(&mut self) {
        // Dropping the client ends the connection; the driver then ends by itself, but a session
        // replaced while the server stalls should not leave it waiting.
        self.driver.abort();
    }
}
