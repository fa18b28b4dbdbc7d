//! Shutdown: the SIGTERM/SIGINT signals, and the [`Drain`] token that ends every open wait when dbosd
//! drains (ARCHITECTURE.md, "Drain"). The order of the drain itself lives in `server.rs`.

use tokio::signal::unix::{self, Signal, SignalKind};
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};

/// SIGTERM and SIGINT, listened to for the life of the process.
pub struct Signals {
    term: Option<Signal>,
    int: Option<Signal>,
}

impl Signals {
    /// Installs the handlers. From here on the signals no longer kill the process by default, so a
    /// caller that wants "second signal exits at once" must keep listening (see [`Signals::next`]).
    pub fn install() -> Signals {
        Signals {
            term: unix::signal(SignalKind::terminate()).ok(),
            int: unix::signal(SignalKind::interrupt()).ok(),
        }
    }

    /// Resolves on the next SIGTERM or SIGINT and returns its name and number.
    pub async fn next(&mut self) -> (&'static str, i32) {
        async fn recv(s: &mut Option<Signal>) {
            // Without a handler the signal keeps its default action, so this arm never wins.
            let Some(s) = s else {
                return std::future::pending().await;
            };
            if s.recv().await.is_none() {
                std::future::pending::<()>().await;
            }
        }
        tokio::select! {
            _ = recv(&mut self.term) => ("SIGTERM", libc::SIGTERM),
            _ = recv(&mut self.int) => ("SIGINT", libc::SIGINT),
        }
    }
}

/// Resolves on the first SIGTERM or SIGINT, then watches for a second one, which exits the process
/// at once (an operator who signals twice does not want to wait for the drain).
///
/// The handlers are installed here, when `signal()` is called, not when the future is first polled:
/// a server reports SERVING as soon as it serves, and a SIGTERM between that and the first poll of
/// a lazily installed handler would kill the process instead of draining it.
pub fn signal() -> impl std::future::Future<Output = ()> + Send {
    let mut signals = Signals::install();
    async move {
        let (name, _) = signals.next().await;
        tracing::info!(signal = name, "draining; signal again to exit at once");
        tokio::spawn(async move {
            let (name, number) = signals.next().await;
            tracing::warn!(signal = name, "second signal: exiting without draining");
            std::process::exit(128 + number);
        });
    }
}

/// The drain token: cloned into every wait; cancelled once, when open waits must end.
#[derive(Clone, Debug, Default)]
pub struct Drain {
    token: CancellationToken,
}

impl Drain {
    /// A token that has not started draining.
    pub fn new() -> Drain {
        Drain::default()
    }

    /// Starts draining: every [`Drain::guard`]ed future ends with [`Error::Draining`].
    pub fn start(&self) {
        self.token.cancel();
    }

    /// A token that drains with this one, and also on its own (one database of a fleet removed).
    pub fn child(&self) -> Drain {
        Drain {
            token: self.token.child_token(),
        }
    }

    /// Whether draining has started.
    pub fn is_draining(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Resolves once draining has started.
    pub async fn draining(&self) {
        self.token.cancelled().await
    }

    /// Runs `fut` unless draining starts first (or has already started), in which case it is dropped
    /// and the call ends with UNAVAILABLE and a retry hint.
    pub async fn guard<T>(&self, fut: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        tokio::select! {
            // Checked first, so a call that arrives while draining never starts its work.
            biased;
            _ = self.token.cancelled() => Err(Error::Draining),
            result = fut => result,
        }
    }
}
