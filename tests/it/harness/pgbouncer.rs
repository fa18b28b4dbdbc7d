//! Debian's pgbouncer in transaction-pooling mode in front of a test database, with a tiny server
//! pool so consecutive statements of one client land on different server connections (which is
//! what breaks named prepared statements and session state).

use std::{ffi::CString, path::PathBuf, process::Stdio};

use tokio::process::{Child, Command};

use super::{eventually, TestDb};

const BINARY: &str = "/usr/sbin/pgbouncer";

/// A running pgbouncer, killed when dropped.
pub struct Pgbouncer {
    /// The test database, through pgbouncer.
    pub url: String,
    _child: Child,
    _dir: tempfile::TempDir,
}

impl Pgbouncer {
    /// pgbouncer for `db` with `server_pool` server connections, once it accepts connections.
    pub async fn start(db: &TestDb, server_pool: u32) -> Pgbouncer {
        assert!(
            std::path::Path::new(BINARY).exists(),
            "pgbouncer is not installed: scripts/install-postgres.sh installs it"
        );
        let direct: tokio_postgres::Config = db.url.parse().expect("test URL");
        let pg_port = direct.get_ports()[0];
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("pgbouncer.ini");
        std::fs::write(
            &config,
            format!(
                "[databases]\n* = host=127.0.0.1 port={pg_port} user=postgres\n\
                 [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\n\
                 unix_socket_dir =\nauth_type = any\npool_mode = transaction\n\
                 default_pool_size = {server_pool}\nmax_client_conn = 500\n\
                 ignore_startup_parameters = extra_float_digits\n"
            ),
        )
        .expect("write pgbouncer.ini");
        let mut command = Command::new(BINARY);
        command
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        // pgbouncer refuses to run as root: run it as the postgres user, as the cluster is.
        if let Some((uid, gid)) = postgres_user() {
            make_readable(dir.path().to_path_buf());
            command.uid(uid).gid(gid);
        }
        let child = command.spawn().expect("spawn pgbouncer");
        let url = format!(
            "postgres://postgres@127.0.0.1:{port}/{}",
            direct.get_dbname().expect("dbname")
        );
        eventually("pgbouncer to accept connections", || async {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .ok()?;
            tokio::spawn(connection);
            client.simple_query("SELECT 1").await.ok().map(drop)
        })
        .await;
        Pgbouncer {
            url,
            _child: child,
            _dir: dir,
        }
    }
}

fn make_readable(dir: PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755));
}

/// (uid, gid) of the `postgres` user when we run as root.
fn postgres_user() -> Option<(u32, u32)> {
    // SAFETY: geteuid has no preconditions; getpwnam's result is read before any other call.
    unsafe {
        if libc::geteuid() != 0 {
            return None;
        }
        let name = CString::new("postgres").ok()?;
        let pwd = libc::getpwnam(name.as_ptr());
        (!pwd.is_null()).then(|| ((*pwd).pw_uid, (*pwd).pw_gid))
    }
}
