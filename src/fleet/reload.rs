//! Reloading the config file: on SIGHUP, and when the file changes (its modification time or
//! size, polled), the file is read again and the fleet made to serve what it lists besides the
//! `--database` flags' databases. A file that does not parse changes nothing (the error is
//! logged); databases whose settings did not change keep serving their calls and streams.

use std::{path::PathBuf, sync::Arc, time::Duration};

use tokio::signal::unix::{signal, Signal, SignalKind};

use super::{tasks::Tasks, Fleet};
use crate::fleet_config::{merge, DatabaseSpec, FleetConfig};

/// What a reload reads and keeps.
pub struct Reload {
    pub path: PathBuf,
    /// The `--database` flags' databases, served whatever the file says.
    pub flags: Vec<DatabaseSpec>,
    /// The default database's name: it is not reloaded.
    pub default: String,
    /// How often the file's modification time is looked at.
    pub poll: Duration,
}

/// Starts reloading on SIGHUP or a change of the file; stops when the returned tasks drop. SIGHUP
/// is caught from this call on (before it, the signal's default would end the process).
pub fn start(fleet: Arc<Fleet>, reload: Reload) -> Tasks {
    let hangup = match signal(SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch SIGHUP; the config file is reloaded when it changes only");
            None
        }
    };
    Tasks::one(tokio::spawn(run(fleet, reload, hangup)))
}

async fn run(fleet: Arc<Fleet>, reload: Reload, mut hangup: Option<Signal>) {
    let mut seen = stamp(&reload.path);
    loop {
        let why = tokio::select! {
            Some(()) = async { hangup.as_mut()?.recv().await } => "SIGHUP",
            () = tokio::time::sleep(reload.poll) => {
                let now = stamp(&reload.path);
                if now == seen {
                    continue;
                }
                "the file changed"
            }
        };
        seen = stamp(&reload.path);
        match specs(&reload) {
            Ok(specs) => {
                let changes = fleet.apply(&specs);
                tracing::info!(reason = why, added = ?changes.added, removed = ?changes.removed, replaced = ?changes.replaced, "config reloaded");
            }
            Err(e) => {
                tracing::error!(reason = why, error = %e, "config not reloaded; serving the databases as before")
            }
        }
    }
}

/// The databases the file and the flags list now, without the default.
pub fn specs(reload: &Reload) -> Result<Vec<DatabaseSpec>, String> {
    let file = FleetConfig::load(&reload.path)?;
    let mut specs = merge(&reload.flags, &file.databases)?;
    specs.retain(|s| s.name != reload.default);
    Ok(specs)
}

/// What tells a changed file from the one last read.
fn stamp(path: &std::path::Path) -> Option<(std::time::SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}
