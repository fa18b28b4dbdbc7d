//! Throwaway local PostgreSQL clusters for `dbosd start-dev` and the test harness.
//!
//! [`PgCluster`] owns one postmaster child, its data dir (a temp dir deleted on drop, or a
//! persistent path), a private unix-socket dir and a free 127.0.0.1 port. Binaries come from
//! PATH, `pg_config --bindir`, or the highest `/usr/lib/postgresql/<N>/bin`. As root (which
//! `initdb`/`postgres` refuse) the dirs are chowned to OS user `postgres` and both binaries
//! get its uid/gid in the forked child before exec, so the postmaster stays our direct child
//! (signals, `wait`, kill-on-drop reach it; no `runuser`/PAM). Durability is off (dev/tests
//! only). [`PgCluster::stop`] does a fast shutdown; dropping SIGKILLs the process group.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tokio::process::{Child, Command};
use PgClusterError as E;

pub mod stale;

const MISSING: &str = "PostgreSQL server binaries (initdb, postgres) not found; install \
    them, e.g. `apt-get install postgresql` (Debian/Ubuntu)";
const NO_USER: &str = "running as root, but OS user `postgres` (to run initdb/postgres as, \
    since they refuse root) does not exist: `useradd --system postgres`, or run as non-root";
const INITDB_ARGS: &str = "-U postgres -A trust -E UTF8 --no-locale --no-sync";
const SERVER_ARGS: &str = "-c listen_addresses=127.0.0.1 -c fsync=off \
    -c full_page_writes=off -c synchronous_commit=off -c max_connections=300 \
    -c shared_buffers=128MB";
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
const PORT_ATTEMPTS: u32 = 3;

/// Errors from finding, initialising, starting or stopping a local cluster.
#[derive(Debug, thiserror::Error)]
pub enum PgClusterError {
    /// `initdb`/`postgres` were not found; the message names the package to install.
    #[error("{0}")]
    BinariesMissing(String),
    /// Preparing the data directory, the `postgres` OS user, or `initdb` failed.
    #[error("initializing PostgreSQL cluster failed: {0}")]
    Init(String),
    /// The server did not come up; the message includes the tail of its log.
    #[error("starting PostgreSQL failed: {0}")]
    Start(String),
    /// Filesystem or process I/O error.
    #[error("local PostgreSQL I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// A running local PostgreSQL server; SIGKILLed (best effort) when dropped.
pub struct PgCluster {
    child: Child,
    port: u16,
    data_dir: PathBuf,
    /// Holds `sock/` (and `data/` for temp clusters); removed after `Drop::drop` ran.
    _scratch: TempDir,
}

impl PgCluster {
    /// Starts a fresh cluster in a new temp dir (deleted on drop) on a free 127.0.0.1 port.
    pub async fn start_temp() -> Result<Self, E> {
        Self::start_temp_with(&[]).await
    }

    /// [`PgCluster::start_temp`] with more server arguments, given after (so winning over) the
    /// defaults: the bench runs a durable cluster with `-c fsync=on ...`.
    pub async fn start_temp_with(server_args: &[&str]) -> Result<Self, E> {
        let mut run = Runner::new().await?;
        run.extra_args = server_args.iter().map(|a| (*a).to_owned()).collect();
        let scratch = run.scratch()?;
        let data_dir = scratch.path().join("data");
        run.private_dir(&data_dir)?;
        run.initdb(&data_dir).await?;
        run.launch(data_dir, scratch, None).await
    }

    /// Starts (initdb only if empty) a cluster in the given persistent data dir.
    pub async fn start_in(data_dir: &Path) -> Result<Self, E> {
        Self::start_in_at(data_dir, None).await
    }

    /// [`PgCluster::start_in`] on a given port (or a free one): stopping a cluster and starting it
    /// again on its old port looks to clients like a database restart.
    pub async fn start_in_at(data_dir: &Path, port: Option<u16>) -> Result<Self, E> {
        let run = Runner::new().await?;
        let data_dir = std::path::absolute(data_dir)?;
        if !data_dir.join("PG_VERSION").exists() {
            if std::fs::read_dir(&data_dir).is_ok_and(|mut d| d.next().is_some()) {
                let d = data_dir.display();
                return Err(E::Init(format!("{d} is not empty and has no PG_VERSION")));
            }
            run.private_dir(&data_dir)?;
            run.initdb(&data_dir).await?;
        }
        let scratch = run.scratch()?;
        run.launch(data_dir, scratch, port).await
    }

    /// Where throwaway clusters' scratch dirs go (what [`stale::remove_dead`] sweeps).
    pub fn scratch_base() -> PathBuf {
        // SAFETY: geteuid has no preconditions. As root the dirs go to /tmp (`Runner::scratch`).
        if unsafe { libc::geteuid() } == 0 {
            PathBuf::from("/tmp")
        } else {
            std::env::temp_dir()
        }
    }

    /// Whether the data dir is a temporary one (removed with the cluster).
    pub fn is_temporary(&self) -> bool {
        self.data_dir.starts_with(self._scratch.path())
    }

    /// The scratch dir (the whole temporary tree of a throwaway cluster).
    pub fn scratch_dir(&self) -> &Path {
        self._scratch.path()
    }

    /// The postmaster's pid.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Resolves when the postmaster exits on its own (crash, kill, OOM), with its exit status.
    pub async fn exited(&mut self) -> std::io::Result<ExitStatus> {
        self.child.wait().await
    }

    /// The last lines of the server log.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read(self.data_dir.join("dbosd-postgres.log")).unwrap_or_default();
        tail(&log, 0)
    }

    /// The TCP port the server listens on (127.0.0.1 only).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://postgres@127.0.0.1:<port>/<db>`
    pub fn url(&self, db: &str) -> String {
        url_for(self.port, db)
    }

    /// The data directory; the server's stdout+stderr go to `dbosd-postgres.log` in it.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Stops the server (fast shutdown: SIGINT, wait up to 10s, then SIGKILL) and waits for
    /// the child.
    pub async fn stop(mut self) -> Result<(), E> {
        let child = &mut self.child; // stays in `self`; once reaped, `Drop` leaves it alone
        if let (None, Some(pid)) = (child.try_wait()?, child.id()) {
            // SAFETY: plain syscall; `pid` is our unreaped child, so it cannot be recycled.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGINT) };
            let stopped = tokio::time::timeout(STOP_TIMEOUT, child.wait()).await;
            if stopped.is_err() {
                tracing::warn!(port = self.port, "postgres ignored SIGINT; killing it");
                kill_group(child);
            }
            child.wait().await?;
        }
        Ok(())
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let child = &mut self.child;
        if child.id().is_some() {
            kill_group(child);
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

fn url_for(port: u16, db: &str) -> String {
    format!("postgres://postgres@127.0.0.1:{port}/{db}")
}

/// SIGKILLs the postmaster + backends. Only while unreaped: its pid (== pgid) is still ours.
fn kill_group(child: &mut Child) {
    if let Some(pid) = child.id() {
        // SAFETY: plain syscall on our own child's process group.
        unsafe { libc::killpg(pid as libc::pid_t, libc::SIGKILL) };
    }
    let _ = child.start_kill();
}

/// Polls until a connection succeeds (`Err(Some)`: child exited, `Err(None)`: timeout), via our
/// private socket dir so a server that grabbed our TCP port meanwhile can't pass for ours.
async fn wait_ready(child: &mut Child, port: u16, sock: &Path) -> Result<(), Option<ExitStatus>> {
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut config = tokio_postgres::Config::new();
    config.host_path(sock).port(port);
    config.user("postgres").dbname("postgres");
    let mut backoff =
        crate::backoff::Backoff::new(Duration::from_millis(10), Duration::from_millis(200));
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(Some(status));
        }
        let connect = config.connect(tokio_postgres::NoTls);
        let attempt = tokio::time::timeout(Duration::from_secs(2), connect).await;
        if let Ok(Ok(_)) = attempt {
            return Ok(()); // dropping an idle connection is silent server-side
        }
        if Instant::now() >= deadline {
            return Err(None);
        }
        tokio::time::sleep(backoff.pause()).await;
    }
}

/// Where the binaries are and, when we are root, the `postgres` user's (uid, gid).
struct Runner {
    bin_dir: PathBuf,
    owner: Option<(u32, u32)>,
    /// Server arguments after [`SERVER_ARGS`].
    extra_args: Vec<String>,
}

impl Runner {
    async fn new() -> Result<Self, E> {
        Ok(Self {
            bin_dir: find_bin_dir().await?,
            owner: postgres_owner()?,
            extra_args: Vec::new(),
        })
    }

    fn cmd(&self, name: &str, data_dir: &Path) -> Command {
        let mut cmd = Command::new(self.bin_dir.join(name));
        cmd.current_dir(data_dir).stdin(Stdio::null());
        cmd.arg("-D").arg(data_dir);
        if let Some((uid, gid)) = self.owner {
            // As root, std also drops supplementary groups (setgroups(0)) before setuid.
            cmd.uid(uid).gid(gid);
        }
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: async-signal-safe syscalls only. The child is SIGKILLed when the thread that
        // spawned it exits, even if we are SIGKILLed or never drop (e.g. a cluster in a static).
        unsafe {
            cmd.pre_exec(move || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                match libc::getppid() == parent {
                    true => Ok(()),
                    false => Err(std::io::Error::from_raw_os_error(libc::ESRCH)), // we died
                }
            });
        }
        cmd
    }

    async fn initdb(&self, data_dir: &Path) -> Result<(), E> {
        let mut cmd = self.cmd("initdb", data_dir);
        let out = cmd.args(INITDB_ARGS.split_whitespace()).output().await;
        let who = self.owner.map_or("", |_| " as user postgres");
        let d = data_dir.display();
        let out = out.map_err(|e| E::Init(format!("cannot run initdb{who} in {d}: {e}")))?;
        if out.status.success() {
            return Ok(());
        }
        let stderr = tail(&out.stderr, 0);
        Err(E::Init(format!("initdb {}:\n{stderr}", out.status)))
    }

    /// Spawns the postmaster on `fixed` or a free port and waits until it accepts connections.
    async fn launch(
        self,
        data_dir: PathBuf,
        scratch: TempDir,
        fixed: Option<u16>,
    ) -> Result<PgCluster, E> {
        let socket_dir = scratch.path().join("sock");
        self.private_dir(&socket_dir)?;
        let log_path = data_dir.join("dbosd-postgres.log");
        for attempt in 1..=PORT_ATTEMPTS {
            let port = match fixed {
                Some(port) => port,
                None => TcpListener::bind("127.0.0.1:0")?.local_addr()?.port(),
            };
            let mut options = std::fs::File::options();
            let log = options.create(true).append(true).open(&log_path)?;
            let start = log.metadata()?.len() as usize; // tails show only this attempt
            let mut cmd = self.cmd("postgres", &data_dir);
            cmd.arg("-k").arg(&socket_dir);
            cmd.args(["-p", &port.to_string()]);
            cmd.args(SERVER_ARGS.split_whitespace());
            cmd.args(&self.extra_args);
            cmd.stdout(log.try_clone()?).stderr(log).kill_on_drop(true);
            let spawned = cmd.process_group(0).spawn();
            let mut child = spawned.map_err(|e| E::Start(format!("cannot run postgres: {e}")))?;
            let log = || tail(&std::fs::read(&log_path).unwrap_or_default(), start);
            let tail = || format!("tail of {}:\n{}", log_path.display(), log());
            let msg = match wait_ready(&mut child, port, &socket_dir).await {
                Ok(()) => {
                    tracing::info!(port, data_dir = %data_dir.display(), "local postgres ready");
                    return Ok(PgCluster {
                        child,
                        port,
                        data_dir,
                        _scratch: scratch,
                    });
                }
                Err(Some(status)) => {
                    let retry = fixed.is_none() && attempt < PORT_ATTEMPTS;
                    if retry && tail().contains("Address already in use") {
                        tracing::warn!(port, attempt, "port taken before postgres bound it");
                        continue;
                    }
                    format!("postgres exited early ({status}); {}", tail())
                }
                Err(None) => {
                    kill_group(&mut child);
                    let _ = child.wait().await;
                    format!("no connection after {READY_TIMEOUT:?}; {}", tail())
                }
            };
            return Err(E::Start(msg));
        }
        Err(E::Start("port taken 3 times in a row".into()))
    }

    /// Creates (if missing) `dir` with mode 0700, owned by the server user.
    fn private_dir(&self, dir: &Path) -> Result<(), E> {
        std::fs::create_dir_all(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        if let Some((uid, gid)) = self.owner {
            std::os::unix::fs::chown(dir, Some(uid), Some(gid))?;
        }
        Ok(())
    }

    /// A fresh private temp dir; as root under /tmp, which the server user can traverse
    /// (TMPDIR might be inside root's 0700 home).
    fn scratch(&self) -> Result<TempDir, E> {
        let base = self.owner.map(|_| PathBuf::from("/tmp"));
        let base = base.unwrap_or_else(std::env::temp_dir);
        let mut builder = tempfile::Builder::new();
        let dir = builder.prefix("dbosd-pg-").tempdir_in(base)?;
        self.private_dir(dir.path())?;
        // Who made it, so a later `start-dev` can remove it if we die without cleaning up.
        std::fs::write(dir.path().join(stale::OWNER_FILE), stale::owner_line())?;
        Ok(dir)
    }
}

/// `Some((uid, gid))` of the `postgres` OS user when we run as root, else `None`.
fn postgres_owner() -> Result<Option<(u32, u32)>, E> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let (name, len) = (c"postgres".as_ptr(), buf.len());
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: passwd is plain old data; getpwnam_r gets valid pointers and buf's length.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getpwnam_r(name, &mut pwd, buf.as_mut_ptr(), len, &mut found) };
    let user = (rc == 0 && !found.is_null()).then_some((pwd.pw_uid, pwd.pw_gid));
    user.map(Some).ok_or_else(|| E::Init(NO_USER.into()))
}

/// Finds a directory holding both `initdb` and `postgres`: PATH, then
/// `pg_config --bindir`, then `/usr/lib/postgresql/<N>/bin`, highest N first.
async fn find_bin_dir() -> Result<PathBuf, E> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    let out = Command::new("pg_config").arg("--bindir").output().await;
    let bindir = out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    dirs.extend(bindir.ok().map(PathBuf::from));
    let entries = std::fs::read_dir("/usr/lib/postgresql");
    let mut versions: Vec<_> = entries.into_iter().flatten().flatten().collect();
    versions.sort_by_key(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()));
    dirs.extend(versions.iter().rev().map(|e| e.path().join("bin")));
    let has = |d: &PathBuf, bin: &str| d.is_absolute() && d.join(bin).is_file();
    dirs.retain(|d| has(d, "initdb") && has(d, "postgres"));
    let found = dirs.into_iter().next();
    found.ok_or_else(|| E::BinariesMissing(MISSING.into()))
}

/// The last 30 lines of `bytes[skip..]` (a log or a captured stderr).
fn tail(bytes: &[u8], skip: usize) -> String {
    let text = String::from_utf8_lossy(bytes.get(skip..).unwrap_or_default());
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn connect(pg: &PgCluster) -> tokio_postgres::Client {
        let url = pg.url("postgres");
        let connected = tokio_postgres::connect(&url, tokio_postgres::NoTls).await;
        let (client, conn) = connected.expect("connect");
        tokio::spawn(conn);
        client
    }

    async fn query_i32(pg: &PgCluster, sql: &str) -> i32 {
        let row = connect(pg).await.query_one(sql, &[]).await;
        row.expect(sql).get(0)
    }

    #[test]
    fn url_format() {
        assert_eq!(url_for(5433, "db"), "postgres://postgres@127.0.0.1:5433/db");
    }

    #[tokio::test]
    async fn temp_cluster_select_stop_and_drop() {
        let pg = PgCluster::start_temp().await.expect("start_temp");
        let expected = format!("postgres://postgres@127.0.0.1:{}/x", pg.port());
        assert_eq!(pg.url("x"), expected);
        assert_eq!(query_i32(&pg, "SELECT 1").await, 1);
        let data = pg.data_dir().to_path_buf();
        pg.stop().await.expect("stop");
        assert!(!data.exists(), "temp dir removed");

        // Dropping SIGKILLs and reaps the postmaster, and removes the temp dir.
        let pg = PgCluster::start_temp().await.expect("start_temp");
        let (pid, data) = (pg.child.id().expect("pid"), pg.data_dir.clone());
        drop(pg);
        let gone = !Path::new(&format!("/proc/{pid}")).exists();
        assert!(gone, "postmaster survived drop");
        assert!(!data.exists(), "temp dir removed on drop");
    }

    #[tokio::test]
    async fn persistent_dir_survives_restart() {
        let base = tempfile::Builder::new().tempdir_in("/tmp").expect("tmp");
        let mode = std::fs::Permissions::from_mode(0o755);
        std::fs::set_permissions(base.path(), mode).expect("chmod");
        let dir = base.path().join("pgdata");
        let pg = PgCluster::start_in(&dir).await.expect("first start");
        let sql = "CREATE TABLE t AS SELECT 42 AS v";
        connect(&pg).await.batch_execute(sql).await.expect(sql);
        pg.stop().await.expect("stop");
        let pg = PgCluster::start_in(&dir).await.expect("second start");
        assert_eq!(query_i32(&pg, "SELECT v FROM t").await, 42);
        let port = pg.port();
        pg.stop().await.expect("stop");
        let pg = PgCluster::start_in_at(&dir, Some(port)).await;
        let pg = pg.expect("restart on the same port");
        assert_eq!(
            (pg.port(), query_i32(&pg, "SELECT v FROM t").await),
            (port, 42)
        );
        pg.stop().await.expect("stop");

        std::fs::write(base.path().join("junk"), b"x").expect("write");
        let err = PgCluster::start_in(base.path()).await.err();
        assert!(matches!(err, Some(E::Init(_))), "{err:?}");
    }
}
