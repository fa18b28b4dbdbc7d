//! `dbosd event get|watch|list` and `dbosd stream read`: a workflow's events and streams. Values
//! print as they arrive; a wait that ends without a value exits 3.

use std::process::ExitCode;

use serde_json::{json, Value as Json};
use tokio_stream::StreamExt;

use super::{
    args_more::{EventGetArgs, EventWatchArgs, StreamReadArgs, WorkflowIdArg},
    client::{rpc_error, Client},
    output::Printer,
    render, timed_out, CliResult,
};
use crate::pb;

fn secs(s: u64) -> prost_types::Duration {
    prost_types::Duration {
        seconds: s.min(i64::MAX as u64) as i64,
        nanos: 0,
    }
}

pub async fn get(client: &mut Client, p: Printer, a: EventGetArgs) -> CliResult {
    let resp = client
        .get_event(pb::GetEventRequest {
            workflow_id: a.workflow_id.clone(),
            key: a.key.clone(),
            timeout: Some(secs(a.timeout)),
        })
        .await
        .map_err(|e| rpc_error("GetEvent", e))?
        .into_inner();
    if !resp.found {
        eprintln!("dbosd: event {:?} of {} is not set", a.key, a.workflow_id);
        return Ok(timed_out());
    }
    let value = render::payload(&resp.value);
    p.doc(&json!({"key": a.key, "value": value}), |d| {
        render::cell(&d["value"])
    });
    Ok(ExitCode::SUCCESS)
}

pub async fn watch(client: &mut Client, p: Printer, a: EventWatchArgs) -> CliResult {
    let mut stream = client
        .watch_event(pb::WatchEventRequest {
            workflow_id: a.workflow_id,
            key: a.key.clone(),
            follow: true,
            timeout: a.timeout.map(secs),
        })
        .await
        .map_err(|e| rpc_error("WatchEvent", e))?
        .into_inner();
    let mut out = p.list(&[("VALUE", "value")]);
    let mut seen = 0u64;
    let mut ended_by_timeout = false;
    while let Some(msg) = stream.next().await {
        match msg {
            Ok(m) => {
                out.page(&[json!({"key": a.key, "value": render::payload(&m.value)})]);
                seen += 1;
                if a.max.is_some_and(|m| seen >= m) {
                    break;
                }
            }
            Err(e) if e.code() == tonic::Code::DeadlineExceeded => {
                ended_by_timeout = true;
                break;
            }
            Err(e) => return Err(rpc_error("WatchEvent", e).into()),
        }
    }
    out.finish();
    Ok(match ended_by_timeout && seen == 0 {
        true => timed_out(),
        false => ExitCode::SUCCESS,
    })
}

pub async fn list(client: &mut Client, p: Printer, a: WorkflowIdArg) -> CliResult {
    let resp = client
        .get_workflow_events(pb::GetWorkflowEventsRequest {
            workflow_id: a.workflow_id,
        })
        .await
        .map_err(|e| rpc_error("GetWorkflowEvents", e))?
        .into_inner();
    let rows: Vec<Json> = resp
        .events
        .iter()
        .map(|e| json!({"key": e.key, "value": render::payload(&e.value)}))
        .collect();
    let mut out = p.list(&[("KEY", "key"), ("VALUE", "value")]);
    out.page(&rows);
    out.finish();
    Ok(ExitCode::SUCCESS)
}

pub async fn read_stream(client: &mut Client, p: Printer, a: StreamReadArgs) -> CliResult {
    let mut stream = client
        .read_stream(pb::ReadStreamRequest {
            workflow_id: a.workflow_id,
            key: a.key,
            offset: a.offset,
            timeout: a.timeout.map(secs),
        })
        .await
        .map_err(|e| rpc_error("ReadStream", e))?
        .into_inner();
    let mut out = p.list(&[("OFFSET", "offset"), ("VALUE", "value")]);
    while let Some(msg) = stream.next().await {
        match msg {
            Ok(m) => out.page(&[json!({"offset": m.offset, "value": render::payload(&m.value)})]),
            Err(e) if e.code() == tonic::Code::DeadlineExceeded => {
                out.finish();
                eprintln!("dbosd: the stream did not close within the timeout");
                return Ok(timed_out());
            }
            Err(e) => return Err(rpc_error("ReadStream", e).into()),
        }
    }
    out.finish();
    Ok(ExitCode::SUCCESS)
}
