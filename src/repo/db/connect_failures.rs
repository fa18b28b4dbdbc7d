//! Connection failures seen by the pool. bb8's `get` never returns a failed connect: it hands the
//! error to the pool's error sink and keeps waiting, so a database that refuses connections would
//! reach callers as RESOURCE_EXHAUSTED once the acquire timeout ran out. This sink publishes each
//! failure, so a request waiting for a connection fails at once with UNAVAILABLE instead.

use std::{fmt, sync::Arc};

use bb8::ErrorSink;
use tokio::sync::watch;

/// The last connect failure of one pool (its text), as a watch: waiters see every new failure.
#[derive(Clone)]
pub struct ConnectFailures {
    last: Arc<watch::Sender<Option<String>>>,
}

impl ConnectFailures {
    pub fn new() -> Self {
        ConnectFailures {
            last: Arc::new(watch::Sender::new(None)),
        }
    }

    /// A receiver that sees failures from now on (the current one counts as seen).
    pub fn subscribe(&self) -> watch::Receiver<Option<String>> {
        self.last.subscribe()
    }

    /// The sink to give the pool.
    pub fn sink(&self) -> Box<dyn ErrorSink<tokio_postgres::Error>> {
        Box::new(self.clone())
    }
}

impl fmt::Debug for ConnectFailures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectFailures").finish_non_exhaustive()
    }
}

impl ErrorSink<tokio_postgres::Error> for ConnectFailures {
    fn sink(&self, error: tokio_postgres::Error) {
        tracing::debug!(%error, "system database connection failed");
        self.last.send_replace(Some(error.to_string()));
    }

    fn boxed_clone(&self) -> Box<dyn ErrorSink<tokio_postgres::Error>> {
        self.sink()
    }
}
