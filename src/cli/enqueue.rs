//! `dbosd enqueue` and `dbosd send`: arguments given as JSON on the command line.

use std::process::ExitCode;

use serde_json::{json, Map, Value as Json};

use super::{
    args_more::SendArgs,
    args_wf::EnqueueArgs,
    await_wf,
    client::{rpc_error, Client},
    filter::value,
    output::Printer,
    render, CliError, CliResult,
};
use crate::pb::{self, EnqueueOutcome};

pub async fn enqueue(client: &mut Client, out: Printer, a: EnqueueArgs) -> CliResult {
    let mut named = Map::new();
    for pair in &a.named {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| CliError::usage(format!("--named {pair:?}: expected KEY=JSON")))?;
        named.insert(k.to_owned(), value(v));
    }
    // Sent as raw JSON text (`inputs_json`), so big integers keep every digit.
    let positional: Vec<Json> = a.args.iter().map(|s| value(s)).collect();
    let inputs = json!({"positionalArgs": positional, "namedArgs": named});
    let req = pb::EnqueueWorkflowRequest {
        workflow_name: a.workflow_name.clone(),
        queue_name: a.queue.clone(),
        inputs_json: inputs.to_string(),
        workflow_id: a.id.clone(),
        ..Default::default()
    };
    let resp = client
        .enqueue_workflow(req)
        .await
        .map_err(|e| rpc_error("EnqueueWorkflow", e))?
        .into_inner();
    let outcome = EnqueueOutcome::try_from(resp.outcome).map_or("UNKNOWN", |o| o.as_str_name());
    let doc = json!({
        "workflowId": resp.workflow_id,
        "outcome": outcome.trim_start_matches("ENQUEUE_OUTCOME_"),
        "status": render::status_name(resp.status),
    });
    if a.wait {
        // The outcome document is the only stdout; the enqueue result goes with the progress lines.
        eprintln!(
            "enqueued {} ({})",
            resp.workflow_id,
            render::cell(&doc["outcome"])
        );
        return await_wf::run(client, out, &resp.workflow_id, a.timeout, true).await;
    }
    out.fields(&doc);
    Ok(ExitCode::SUCCESS)
}

pub async fn send(client: &mut Client, out: Printer, a: SendArgs) -> CliResult {
    let req = pb::SendMessageRequest {
        destination_id: a.destination_id,
        topic: a.topic,
        message_json: value(&a.message).to_string(),
        idempotency_key: a.idempotency_key,
        ..Default::default()
    };
    let resp = client
        .send_message(req)
        .await
        .map_err(|e| rpc_error("SendMessage", e))?
        .into_inner();
    let doc = json!({"messageId": resp.message_id, "delivered": resp.delivered});
    out.fields(&doc);
    Ok(ExitCode::SUCCESS)
}
