//! Scratch directories of dead runs. Each scratch dir (`dbosd-pg-*`, holding a throwaway cluster's
//! data and socket) gets an owner file naming the creating process (pid and its start time, so a
//! recycled pid does not pass for the owner). `start-dev` removes the dirs whose owner is gone and
//! whose postmaster is not running; dirs without an owner file are not provably ours and stay.

use std::path::{Path, PathBuf};

/// The owner file in each scratch dir.
pub const OWNER_FILE: &str = "dbosd-owner";

/// `"<pid> <start time>"` of this process.
pub fn owner_line() -> String {
    let pid = std::process::id();
    format!("{pid} {}", start_time(pid).unwrap_or_default())
}

/// The process's start time (clock ticks since boot, field 22 of `/proc/<pid>/stat`).
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the process `line` names still runs (same pid, same start time).
fn alive(line: &str) -> bool {
    let mut parts = line.split_whitespace();
    let pid: Option<u32> = parts.next().and_then(|p| p.parse().ok());
    let started: Option<u64> = parts.next().and_then(|s| s.parse().ok());
    match (pid, started) {
        (Some(pid), Some(started)) => start_time(pid) == Some(started),
        // Unreadable: treat as alive, never delete what we cannot attribute.
        _ => true,
    }
}

/// Whether the cluster in `data` has a postmaster still running (its `postmaster.pid`).
fn postmaster_running(data: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(data.join("postmaster.pid")) else {
        return false;
    };
    let pid = text
        .lines()
        .next()
        .and_then(|l| l.trim().parse::<u32>().ok());
    pid.is_none_or(|pid| Path::new(&format!("/proc/{pid}")).exists())
}

/// Bytes under `dir` (best effort).
fn size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => size(&e.path()),
            _ => e.metadata().map_or(0, |m| m.len()),
        })
        .sum()
}

/// A removed directory and how many bytes it held.
#[derive(Debug)]
pub struct Removed {
    pub path: PathBuf,
    pub bytes: u64,
    pub owner: String,
}

/// Removes the `dbosd-pg-*` dirs under `base` whose owner process is dead and whose postmaster is
/// not running; returns what it removed.
pub fn remove_dead(base: &Path) -> Vec<Removed> {
    let Ok(entries) = std::fs::read_dir(base) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let ours = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with("dbosd-pg-"));
        if !ours || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let Ok(owner) = std::fs::read_to_string(path.join(OWNER_FILE)) else {
            continue;
        };
        if alive(&owner) || postmaster_running(&path.join("data")) {
            continue;
        }
        let bytes = size(&path);
        if std::fs::remove_dir_all(&path).is_ok() {
            let owner = owner.split_whitespace().next().unwrap_or("?").to_owned();
            removed.push(Removed { path, bytes, owner });
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_only_owned_dirs_of_dead_processes() {
        let base = tempfile::tempdir().expect("tmp");
        let mk = |name: &str, owner: Option<&str>| {
            let d = base.path().join(name);
            std::fs::create_dir_all(d.join("data")).expect("mkdir");
            std::fs::write(d.join("data/PG_VERSION"), "16").expect("write");
            if let Some(o) = owner {
                std::fs::write(d.join(OWNER_FILE), o).expect("owner");
            }
            d
        };
        let dead = mk("dbosd-pg-dead", Some("999999999 1"));
        let live = mk("dbosd-pg-live", Some(&owner_line()));
        let unowned = mk("dbosd-pg-unowned", None);
        let other = mk("other-dead", Some("999999999 1"));
        let removed = remove_dead(base.path());
        assert_eq!(removed.len(), 1, "{removed:?}");
        assert_eq!(removed[0].path, dead);
        assert!(removed[0].bytes >= 2);
        assert!(!dead.exists() && live.exists() && unowned.exists() && other.exists());
    }
}
