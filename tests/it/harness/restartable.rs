//! A private PostgreSQL cluster a test can stop and start again on the same port (a database
//! restart as clients see it), kept in a temp dir removed on drop.

use std::path::PathBuf;

use dbosd::pgcluster::PgCluster;

/// A private cluster of one test; `stop` and `start` keep its data and its port.
pub struct RestartableDb {
    _base: tempfile::TempDir,
    dir: PathBuf,
    port: u16,
    pg: Option<PgCluster>,
}

impl RestartableDb {
    /// Starts a fresh cluster on `port` (or a free one).
    pub async fn start(port: Option<u16>) -> RestartableDb {
        // Under /tmp, traversable by the `postgres` user the cluster runs as when we are root.
        let base = tempfile::Builder::new().tempdir_in("/tmp").expect("tmp");
        let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
        std::fs::set_permissions(base.path(), mode).expect("chmod");
        let dir = base.path().join("pgdata");
        let pg = PgCluster::start_in_at(&dir, port).await;
        let pg = pg.expect("private cluster");
        RestartableDb {
            _base: base,
            dir,
            port: pg.port(),
            pg: Some(pg),
        }
    }

    /// The URL of its `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops PostgreSQL (fast shutdown); a no-op when stopped.
    pub async fn stop(&mut self) {
        if let Some(pg) = self.pg.take() {
            pg.stop().await.expect("stop PostgreSQL");
        }
    }

    /// Starts PostgreSQL again on its port.
    pub async fn restart(&mut self) {
        self.stop().await;
        let pg = PgCluster::start_in_at(&self.dir, Some(self.port)).await;
        self.pg = Some(pg.expect("restart PostgreSQL on its port"));
    }
}
