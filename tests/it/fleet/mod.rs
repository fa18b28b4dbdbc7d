//! One dbosd serving a fleet: the default database on the harness's cluster and a named one (`b`)
//! on a private cluster of the test, so the two are different PostgreSQL servers. Calls name their
//! database with `dbos-database` metadata (`client_on`).

mod background;
mod cli;
mod jobs;
mod metrics;
mod outage;
mod quiet;
mod reload;
mod routing;
mod sighup;
mod start_dev;
mod tokens;

use dbosd::{
    cli::Bearer,
    config::Settings,
    fleet_config::{parse_flag, DatabaseSpec},
    pb::{
        workflow_service_client::WorkflowServiceClient, ListDatabasesRequest, ListWorkflowsRequest,
    },
};
use tonic::{service::interceptor::InterceptedService, transport::Channel, Code};

use crate::harness::{eventually, RestartableDb, TestDb, TestServer};

/// A client whose calls name `database` (none: the default) and carry `token`.
pub type DbClient = WorkflowServiceClient<InterceptedService<Channel, Bearer>>;

/// A client of `srv` on `database` (None: the default database), with `token` if given.
pub fn client_on(srv: &TestServer, database: Option<&str>, token: Option<&str>) -> DbClient {
    let bearer = Bearer::new(token)
        .and_then(|b| b.with_database(database))
        .expect("ASCII metadata");
    WorkflowServiceClient::with_interceptor(srv.channel.clone(), bearer)
}

/// The spec of a database named `name` at `url`, migrated when opened.
pub fn spec(name: &str, url: &str) -> DatabaseSpec {
    let mut spec = parse_flag(&format!("{name}={url}")).expect("spec");
    spec.migrate = true;
    spec
}

/// The default database (harness cluster) and `b` on a private cluster.
pub struct Two {
    pub srv: TestServer,
    pub b_cluster: RestartableDb,
    /// `b`'s database, for writing rows as a worker would.
    pub b_db: TestDb,
}

impl Two {
    /// Starts both, with the settings adjusted by `tweak`, and waits until `b` is open (to calls
    /// carrying `token`).
    pub async fn start(tweak: impl FnOnce(&mut Settings), token: Option<&str>) -> Two {
        let b_cluster = RestartableDb::start(None).await;
        let b_url = b_cluster.url();
        let srv = TestServer::start_on(TestDb::new().await, |s| {
            s.databases = vec![spec("b", &b_url)];
            tweak(s)
        })
        .await;
        let two = Two {
            srv,
            b_db: TestDb::external(&b_url, "postgres"),
            b_cluster,
        };
        two.wait_open("b", token).await;
        two
    }

    /// Waits until calls on `database` succeed (NOT_FOUND until a reload adds it, UNAVAILABLE until
    /// it opens).
    pub async fn wait_open(&self, database: &str, token: Option<&str>) {
        let client = client_on(&self.srv, Some(database), token);
        eventually(&format!("database {database} to open"), || {
            let mut client = client.clone();
            async move {
                let listed = client.list_workflows(ListWorkflowsRequest::default()).await;
                match listed {
                    Ok(_) => Some(()),
                    Err(e) if matches!(e.code(), Code::Unavailable | Code::NotFound) => None,
                    Err(e) => panic!("{database} did not open: {e:?}"),
                }
            }
        })
        .await
    }
}

/// The names ListDatabases answers through `client`.
pub async fn listed(client: &mut DbClient) -> Vec<String> {
    let resp = client.list_databases(ListDatabasesRequest {}).await;
    let databases = resp.expect("ListDatabases").into_inner().databases;
    databases.into_iter().map(|d| d.name).collect()
}
