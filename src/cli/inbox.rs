//! `dbosd workflow messages` and `dbosd stream keys`: the messages sent to a workflow (every page,
//! printed as each arrives) and the streams it wrote.

use std::process::ExitCode;

use serde_json::{json, Value as Json};

use super::{
    args_more::WorkflowIdArg,
    args_wf::MessagesArgs,
    client::{rpc_error, Client},
    output::Printer,
    render, CliResult,
};
use crate::pb;

const MESSAGE_COLUMNS: &[(&str, &str)] = &[
    ("SENT", "createdAt"),
    ("TOPIC", "topic"),
    ("STATE", "state"),
    ("MESSAGE", "message"),
];

pub async fn messages(client: &mut Client, p: Printer, a: MessagesArgs) -> CliResult {
    let mut out = p.list(MESSAGE_COLUMNS);
    let mut page_token = String::new();
    loop {
        let resp = client
            .list_workflow_messages(pb::ListWorkflowMessagesRequest {
                workflow_id: a.workflow_id.clone(),
                topic: a.topic.clone(),
                consumed: a.consumed,
                page_size: 0,
                page_token,
            })
            .await
            .map_err(|e| rpc_error("ListWorkflowMessages", e))?
            .into_inner();
        out.page(&resp.messages.iter().map(message).collect::<Vec<_>>());
        if resp.next_page_token.is_empty() {
            break;
        }
        page_token = resp.next_page_token;
    }
    out.finish();
    Ok(ExitCode::SUCCESS)
}

/// A message as JSON; `state` says in a word whether a `recv` took it, and at which step.
fn message(m: &pb::WorkflowMessage) -> Json {
    let state = match (m.consumed, m.consumed_by_step) {
        (true, Some(step)) => format!("received at step {step}"),
        (true, None) => "received".to_owned(),
        (false, _) => "pending".to_owned(),
    };
    json!({
        "messageId": m.message_id,
        "topic": m.topic,
        "createdAt": render::time(&m.created_at),
        "consumed": m.consumed,
        "consumedByStep": m.consumed_by_step,
        "state": state,
        "message": render::payload(&m.message),
    })
}

pub async fn stream_keys(client: &mut Client, p: Printer, a: WorkflowIdArg) -> CliResult {
    let resp = client
        .list_stream_keys(pb::ListStreamKeysRequest {
            workflow_id: a.workflow_id,
        })
        .await
        .map_err(|e| rpc_error("ListStreamKeys", e))?
        .into_inner();
    let rows: Vec<Json> = resp
        .keys
        .iter()
        .map(|k| {
            json!({
                "key": k.key,
                "values": k.value_count,
                "lastOffset": k.last_offset,
                "closed": k.closed,
            })
        })
        .collect();
    let mut out = p.list(&[
        ("KEY", "key"),
        ("VALUES", "values"),
        ("LAST OFFSET", "lastOffset"),
        ("CLOSED", "closed"),
    ]);
    out.page(&rows);
    out.finish();
    if resp.truncated {
        eprintln!("dbosd: the workflow wrote more streams than listed");
    }
    Ok(ExitCode::SUCCESS)
}
