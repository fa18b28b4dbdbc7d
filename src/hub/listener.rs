//! The hub's LISTEN connection: its own tokio-postgres connection (not from the pool) on the three
//! DBOS channels. Workers notify `dbos_workflow_events_channel` and `dbos_streams_channel` after commits;
//! payloads are `<workflow_id>::<key>`. It reconnects with backoff and then wakes every waiter,
//! because notifications sent while disconnected are gone.

use std::{sync::Arc, time::Duration};

use futures::{stream, StreamExt};
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, NoTls};

use super::{Hub, Key};
use crate::backoff::Backoff;

const NOTIFICATIONS_CHANNEL: &str = "dbos_notifications_channel";
const EVENTS_CHANNEL: &str = "dbos_workflow_events_channel";
const STREAMS_CHANNEL: &str = "dbos_streams_channel";
const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Runs the listener until the task is aborted.
pub async fn run(url: String, hub: Arc<Hub>) {
    let mut backoff = Backoff::new(MIN_BACKOFF, MAX_BACKOFF);
    loop {
        match listen_once(&url, &hub).await {
            Ok(()) => backoff.reset(),
            Err(e) => {
                tracing::warn!(error = %e, "LISTEN connection failed; retrying");
            }
        }
        hub.wake_all();
        tokio::time::sleep(backoff.pause()).await;
    }
}

/// One connection's life: connect, LISTEN, dispatch until the connection ends.
async fn listen_once(url: &str, hub: &Hub) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = tokio_postgres::connect(url, NoTls).await?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut messages = stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(n)) => {
                    if tx.send(n).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "LISTEN connection lost");
                    break;
                }
            }
        }
    });
    client
        .batch_execute(&format!(
            "LISTEN {NOTIFICATIONS_CHANNEL}; LISTEN {EVENTS_CHANNEL}; LISTEN {STREAMS_CHANNEL};"
        ))
        .await?;
    Hub::count(&hub.stats.listen_connects);
    // Anything set between the previous connection's end and this LISTEN is re-read by the waiters.
    hub.wake_all();
    while let Some(n) = rx.recv().await {
        Hub::count(&hub.stats.notifications);
        let Some((workflow_id, key)) = n.payload().split_once("::") else {
            continue; // e.g. the TS worker's LISTEN self-test payload
        };
        let (workflow_id, key) = (workflow_id.to_owned(), key.to_owned());
        // Messages (`dbos_notifications_channel`) wake nothing: dbosd never waits on a recv.
        match n.channel() {
            EVENTS_CHANNEL => hub.wake(&Key::Event { workflow_id, key }),
            STREAMS_CHANNEL => hub.wake(&Key::Stream { workflow_id, key }),
            _ => {}
        }
    }
    drop(client);
    let _ = driver.await;
    Ok(())
}
