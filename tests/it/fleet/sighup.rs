//! The real binary with only a config file: its `default` is the database of calls that name
//! none, and SIGHUP (the file's change not yet polled) serves the databases added to it, while a
//! file that does not parse changes nothing.

use std::time::Duration;

use dbosd::pb::{workflow_service_client::WorkflowServiceClient, ListDatabasesRequest};

use crate::harness::{eventually, Dbosd, TestDb};

async fn names(dbosd: &Dbosd) -> Vec<String> {
    let mut client = WorkflowServiceClient::new(dbosd.channel.clone());
    let all = client.list_databases(ListDatabasesRequest {}).await;
    let all = all.expect("ListDatabases").into_inner().databases;
    all.into_iter().map(|d| d.name).collect()
}

#[tokio::test]
async fn sighup_reloads_the_config_file() {
    let (a, c) = (TestDb::new().await, TestDb::new().await);
    let file = tempfile::NamedTempFile::new().unwrap();
    let path = file.path().to_str().unwrap().to_owned();
    let table = |name: &str, url: &str| format!("[databases.{name}]\nurl = \"{url}\"\n");
    std::fs::write(&path, format!("default = \"a\"\n{}", table("a", &a.url))).unwrap();
    // Polled hourly: only the signal can make this reload.
    let args = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--config",
        &path,
        "--config-poll-ms",
        "3600000",
    ];
    let dbosd = Dbosd::spawn(&args, &[], Duration::from_secs(30)).await;
    assert_eq!(names(&dbosd).await, ["a"]);

    std::fs::write(&path, "default = \"a\"\n[databases.a\n").unwrap();
    dbosd.signal(libc::SIGHUP);
    dbosd.logged("config not reloaded").await;
    assert_eq!(names(&dbosd).await, ["a"], "a broken file changes nothing");

    let both = format!(
        "default = \"a\"\n{}{}",
        table("a", &a.url),
        table("c", &c.url)
    );
    std::fs::write(&path, both).unwrap();
    dbosd.signal(libc::SIGHUP);
    eventually("c to be served after SIGHUP", || async {
        (names(&dbosd).await == ["a", "c"]).then_some(())
    })
    .await;
}
