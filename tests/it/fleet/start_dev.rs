//! `dbosd start-dev --databases 3`: three databases in the one throwaway cluster, each served,
//! migrated and routed by its name.

use std::time::Duration;

use dbosd::pb::{workflow_service_client::WorkflowServiceClient, ListDatabasesRequest};
use serde_json::json;

use crate::harness::{enqueue_req, eventually, Dbosd};

#[tokio::test]
async fn start_dev_serves_several_databases() {
    let args = [
        "start-dev",
        "--listen",
        "127.0.0.1:0",
        "--databases",
        "3",
        "--mcp=false",
    ];
    let dbosd = Dbosd::spawn(&args, &[("DBOSD_LOG", "warn")], Duration::from_secs(120)).await;
    let mut client = WorkflowServiceClient::new(dbosd.channel.clone());
    let listed = client
        .list_databases(ListDatabasesRequest {})
        .await
        .unwrap();
    let names: Vec<String> = listed
        .into_inner()
        .databases
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert_eq!(names, ["db2", "db3", "default"]);
    // db3 is created and migrated: an enqueue there lands there only.
    let enqueued = eventually("db3 to open", || {
        let mut client = client.clone();
        async move {
            let mut req = tonic::Request::new(enqueue_req("echo", "q", vec![json!(3)]));
            req.metadata_mut()
                .insert("dbos-database", "db3".parse().unwrap());
            client.enqueue_workflow(req).await.ok()
        }
    })
    .await;
    let id = enqueued.into_inner().workflow_id;
    let mut on_default = dbosd::pb::GetWorkflowRequest {
        workflow_id: id.clone(),
        ..Default::default()
    };
    let err = client.get_workflow(on_default.clone()).await.unwrap_err();
    assert_eq!(
        err.code(),
        tonic::Code::NotFound,
        "the default database has no {id}"
    );
    on_default.workflow_id = id;
    let mut req = tonic::Request::new(on_default);
    req.metadata_mut()
        .insert("dbos-database", "db3".parse().unwrap());
    client.get_workflow(req).await.expect("db3 has it");
}
