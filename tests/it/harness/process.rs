//! The real `dbosd` binary as a child process: spawned with its own flags, found by the address it
//! prints, signalled like Kubernetes signals it, with its log kept for assertions.

use std::{
    net::SocketAddr,
    process::{ExitStatus, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, AsyncRead, BufReader},
    process::{Child, Command},
};
use tonic::transport::Channel;

use super::WAIT;

/// The line dbosd prints on stdout once it accepts connections.
const LISTENING: &str = "dbosd listening on ";

/// A running `dbosd` child, killed when dropped.
pub struct Dbosd {
    child: Child,
    pub addr: SocketAddr,
    pub channel: Channel,
    log: Arc<Mutex<String>>,
}

impl Dbosd {
    /// The child's resident set size in KiB (from /proc), if it is still running.
    pub fn rss_kib(&self) -> Option<u64> {
        let pid = self.child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }

    /// How many tokio worker threads the child runs (from /proc; 0 once it exited).
    pub fn worker_threads(&self) -> usize {
        let Some(pid) = self.child.id() else { return 0 };
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            return 0;
        };
        tasks
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
            // tokio's name for its worker threads (blocking-pool threads have another).
            .filter(|name| name.trim() == "tokio-rt-worker")
            .count()
    }

    /// Runs `dbosd <args>` and waits (up to `ready_within`) until it listens.
    pub async fn spawn(args: &[&str], env: &[(&str, &str)], ready_within: Duration) -> Dbosd {
        let mut child = Command::new(env!("CARGO_BIN_EXE_dbosd"))
            .args(args)
            .envs(env.iter().copied())
            .env_remove("DBOS_SYSTEM_DATABASE_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn dbosd");
        let log = Arc::new(Mutex::new(String::new()));
        tokio::spawn(keep_lines(child.stderr.take().unwrap(), Arc::clone(&log)));
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = tokio::time::timeout(ready_within, async {
            while let Ok(Some(line)) = stdout.next_line().await {
                if let Some(addr) = line.strip_prefix(LISTENING) {
                    return addr.parse::<SocketAddr>().ok();
                }
            }
            None
        })
        .await
        .expect("dbosd prints its address in time")
        .expect("dbosd address line");
        // Keep reading stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });
        let channel = super::connect_channel(addr).await;
        Dbosd {
            child,
            addr,
            channel,
            log,
        }
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) to the process.
    pub fn signal(&self, signal: i32) {
        let pid = self.child.id().expect("dbosd still running") as i32;
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe { libc::kill(pid, signal) };
    }

    /// Waits (up to `bound`) for the process to exit.
    pub async fn exited_within(&mut self, bound: Duration) -> ExitStatus {
        tokio::time::timeout(bound, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("dbosd did not exit within {bound:?}; log:\n{}", self.log()))
            .expect("wait for dbosd")
    }

    /// The exit status if the process has exited, without waiting.
    pub fn try_exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    /// Everything dbosd logged on stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until a logged line contains `needle`, and returns that line.
    pub async fn logged(&self, needle: &str) -> String {
        self.logged_with(&[needle]).await
    }

    /// Waits until a logged line contains every one of `needles`, and returns that line.
    pub async fn logged_with(&self, needles: &[&str]) -> String {
        // The log says what happened instead, in the failure's own message.
        let explain = || format!("; log:\n{}", self.log());
        super::eventually_explained(&format!("dbosd to log {needles:?}"), explain, || async {
            self.log()
                .lines()
                .find(|l| needles.iter().all(|n| l.contains(n)))
                .map(str::to_owned)
        })
        .await
    }

    /// The default bound for a dbosd on an existing database to start.
    pub const READY: Duration = WAIT;
}

/// Copies `from` line by line into `into` (and the test's stderr, where failed tests show it).
async fn keep_lines(from: impl AsyncRead + Unpin, into: Arc<Mutex<String>>) {
    let mut lines = BufReader::new(from).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        eprintln!("[dbosd] {line}");
        let mut log = into.lock().unwrap();
        log.push_str(&line);
        log.push('\n');
    }
}
