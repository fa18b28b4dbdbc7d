//! Export and import: a workflow a real worker ran, exported from one database and imported into a
//! second, reads back identically (`roundtrip.rs`); a PENDING workflow imported and resumed on the
//! second database is finished there by a real worker from its recorded steps (`resume.rs`); and
//! what import refuses: a clash, another version, a foreign scope (`refuse.rs`), and the CLI
//! (`cli.rs`).

mod cli;
mod refuse;
mod resume;
mod roundtrip;

use dbosd::pb;
use tonic::transport::Channel;

use crate::harness::TestDb;

type Client = pb::workflow_service_client::WorkflowServiceClient<Channel>;

/// The tables a workflow owns, with the column naming it and an order for its rows.
pub const TABLES: [(&str, &str, &str); 8] = [
    ("workflow_status", "workflow_uuid", "workflow_uuid"),
    ("workflow_input", "workflow_uuid", "workflow_uuid"),
    ("workflow_output", "workflow_uuid", "workflow_uuid"),
    (
        "operation_outputs",
        "workflow_uuid",
        "workflow_uuid, function_id",
    ),
    ("workflow_events", "workflow_uuid", "workflow_uuid, key"),
    (
        "workflow_events_history",
        "workflow_uuid",
        "workflow_uuid, function_id, key",
    ),
    ("streams", "workflow_uuid", "workflow_uuid, key, \"offset\""),
    (
        "notifications",
        "destination_uuid",
        "destination_uuid, message_uuid",
    ),
];

/// Every row `ids` own in `table`, as JSON text of the stored row.
pub async fn stored_rows(db: &TestDb, table: &str, ids: &[String]) -> Vec<String> {
    let (_, owner, order) = TABLES.iter().find(|(t, _, _)| *t == table).unwrap();
    let sql = format!(
        "SELECT to_jsonb(t)::text FROM dbos.{table} t WHERE {owner} = ANY($1) ORDER BY {order}"
    );
    let rows = db.client().await.query(&sql, &[&ids]).await;
    rows.unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|r| r.get(0))
        .collect()
}

pub async fn export(client: &mut Client, id: &str, children: bool) -> pb::ExportWorkflowResponse {
    client
        .export_workflow(pb::ExportWorkflowRequest {
            workflow_id: id.into(),
            include_children: children,
        })
        .await
        .expect("ExportWorkflow")
        .into_inner()
}

pub async fn import(
    client: &mut Client,
    document: &str,
    as_id: Option<&str>,
) -> Result<pb::ImportWorkflowResponse, tonic::Status> {
    client
        .import_workflow(pb::ImportWorkflowRequest {
            document: document.into(),
            as_workflow_id: as_id.map(str::to_owned),
        })
        .await
        .map(|r| r.into_inner())
}

pub async fn send(client: &mut Client, to: &str, topic: &str, json: &str) {
    client
        .send_message(pb::SendMessageRequest {
            destination_id: to.into(),
            topic: Some(topic.into()),
            message_json: json.into(),
            ..Default::default()
        })
        .await
        .expect("SendMessage");
}

pub async fn enqueue(client: &mut Client, id: &str, mut req: pb::EnqueueWorkflowRequest) {
    req.workflow_id = Some(id.to_owned());
    client.enqueue_workflow(req).await.expect("EnqueueWorkflow");
}
