//! The other reading tools: `get_event`, `read_stream` (a bounded read of a server stream),
//! `list_queues` and `list_schedules`.

use std::time::Duration;

use rmcp::{
    handler::server::wrapper::Parameters,
    model::CallToolResult,
    schemars::{self, JsonSchema},
    service::RequestContext,
    tool, tool_router, ErrorData, RoleServer,
};
use serde::Deserialize;
use serde_json::{json, Value as Json};
use tokio_stream::StreamExt;

use super::{
    bounds::{self, FULL_PAYLOAD_BYTES, ITEM_PAYLOAD_BYTES},
    params::{bounded, seconds},
    render, DbosdMcp,
};
use crate::pb;

/// Arguments of `get_event`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetEventParams {
    /// The workflow that sets the event.
    pub workflow_id: String,
    /// The event key; absent: every event the workflow has set, with its value.
    pub key: Option<String>,
    /// With a key: wait up to this many seconds (0 to 60, default 0) for the key to be set.
    pub wait_seconds: Option<f64>,
}

/// Arguments of `read_stream`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadStreamParams {
    /// The workflow that writes the stream.
    pub workflow_id: String,
    /// The stream key.
    pub key: String,
    /// The first offset to read (default 0).
    pub offset: Option<u32>,
    /// Most values returned, 1 to 500 (default 50).
    pub limit: Option<u32>,
    /// Seconds to wait for a value that is not written yet (0 to 30, default 1).
    pub wait_seconds: Option<f64>,
}

/// Arguments of `list_queues` and the application part of `list_schedules`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListQueuesParams {
    /// Only queues of these applications (plus unclaimed ones).
    #[serde(default)]
    pub application_names: Vec<String>,
}

/// Arguments of `list_schedules`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListSchedulesParams {
    /// Only ACTIVE or PAUSED schedules.
    #[serde(default)]
    pub statuses: Vec<String>,
    /// Only schedules of these workflows.
    #[serde(default)]
    pub workflow_names: Vec<String>,
    /// Only schedules whose name starts with one of these prefixes.
    #[serde(default)]
    pub schedule_name_prefixes: Vec<String>,
    /// Only schedules of these applications (plus unclaimed ones).
    #[serde(default)]
    pub application_names: Vec<String>,
}

#[tool_router(router = more_tools, vis = "pub(super)")]
impl DbosdMcp {
    #[tool(
        description = "Read an event a DBOS workflow publishes (set_event): with key, its current value \
        (optionally waiting up to wait_seconds for it to be set); without key, every event key of the \
        workflow with its value. Values are decoded by their serialization and cut at 16 KiB (2 KiB \
        each when listing all).",
        annotations(read_only_hint = true)
    )]
    async fn get_event(
        &self,
        Parameters(p): Parameters<GetEventParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let client = self.api.client();
        let Some(key) = p.key else {
            let request = pb::GetWorkflowEventsRequest {
                workflow_id: p.workflow_id,
            };
            let mut client = client;
            let reply = grpc!(client.get_workflow_events(self.api.request(&ctx, request)));
            let events: Vec<Json> = reply
                .events
                .iter()
                .map(|e| {
                    let value = e
                        .value
                        .as_ref()
                        .map(|v| render::payload(v, ITEM_PAYLOAD_BYTES));
                    json!({"key": e.key, "value": value})
                })
                .collect();
            return Ok(bounds::result(&json!({ "events": events })));
        };
        let wait = arg!(wait_seconds("wait_seconds", p.wait_seconds, 0.0, 60.0));
        let request = pb::GetEventRequest {
            workflow_id: p.workflow_id,
            key,
            timeout: Some(seconds(wait)),
        };
        let mut client = client;
        let reply = grpc!(client.get_event(self.api.request(&ctx, request)));
        let value = reply
            .value
            .as_ref()
            .map(|v| render::payload(v, FULL_PAYLOAD_BYTES));
        Ok(bounds::result(
            &json!({"found": reply.found, "value": value}),
        ))
    }

    #[tool(
        description = "Read values a DBOS workflow wrote to a stream (write_stream), from an offset, at \
        most limit values (each cut at 2 KiB, the whole result at 64 KiB). 'closed' tells whether the \
        stream has ended; otherwise continue from next_offset later.",
        annotations(read_only_hint = true)
    )]
    async fn read_stream(
        &self,
        Parameters(p): Parameters<ReadStreamParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let limit = arg!(bounded("limit", p.limit, 50, 500)) as usize;
        let wait = arg!(wait_seconds("wait_seconds", p.wait_seconds, 1.0, 30.0));
        let offset = arg!(
            i32::try_from(p.offset.unwrap_or(0)).map_err(|_| "offset is too large".to_owned())
        );
        let request = pb::ReadStreamRequest {
            workflow_id: p.workflow_id,
            key: p.key,
            offset,
            // The server waits this long for each next value; a short floor lets it read first.
            timeout: Some(seconds(wait.max(0.2))),
        };
        let mut stream = grpc!(self
            .api
            .client()
            .read_stream(self.api.request(&ctx, request)));
        let mut values = Vec::new();
        let mut next_offset = offset;
        let mut closed = false;
        let mut used = 1024;
        // Past the server's own wait, the call is given up on: the tool always answers.
        let give_up = tokio::time::sleep(Duration::from_secs_f64(wait + 10.0));
        tokio::pin!(give_up);
        while values.len() < limit {
            let next = tokio::select! {
                next = stream.next() => next,
                () = &mut give_up => break,
            };
            match next {
                None => {
                    closed = true;
                    break;
                }
                Some(Ok(msg)) => {
                    let value = msg
                        .value
                        .as_ref()
                        .map(|v| render::payload(v, ITEM_PAYLOAD_BYTES));
                    let item = json!({"offset": msg.offset, "value": value});
                    used += item.to_string().len() + 1;
                    if used > bounds::MAX_RESULT_BYTES {
                        break;
                    }
                    next_offset = msg.offset + 1;
                    values.push(item);
                }
                // No value within the wait: the stream is open and has nothing more yet.
                Some(Err(status)) if status.code() == tonic::Code::DeadlineExceeded => break,
                Some(Err(status)) => return Ok(super::channel::status_result(&status)),
            }
        }
        Ok(bounds::result(&json!({
            "values": values,
            "next_offset": next_offset,
            "closed": closed,
        })))
    }

    #[tool(
        description = "List the DBOS queues registered in the system database with their limits \
        (concurrency, worker concurrency, rate limits, partitions, polling interval, owner). Needs a \
        token for all applications.",
        annotations(read_only_hint = true)
    )]
    async fn list_queues(
        &self,
        Parameters(p): Parameters<ListQueuesParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let request = pb::ListQueuesRequest {
            application_names: p.application_names,
        };
        let reply = grpc!(self
            .api
            .client()
            .list_queues(self.api.request(&ctx, request)));
        let queues: Vec<Json> = reply.queues.iter().map(render::queue).collect();
        Ok(bounds::result(&json!({ "queues": queues })))
    }

    #[tool(
        description = "List DBOS cron schedules (name, workflow, cron, time zone, ACTIVE/PAUSED, last \
        firing, queue, owner, context), optionally filtered by status, workflow name, name prefix or \
        application. Needs a token for all applications.",
        annotations(read_only_hint = true)
    )]
    async fn list_schedules(
        &self,
        Parameters(p): Parameters<ListSchedulesParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let statuses = arg!(p
            .statuses
            .iter()
            .map(|s| schedule_status(s))
            .collect::<Result<Vec<_>, _>>());
        let request = pb::ListSchedulesRequest {
            statuses,
            workflow_names: p.workflow_names,
            schedule_name_prefixes: p.schedule_name_prefixes,
            application_names: p.application_names,
        };
        let reply = grpc!(self
            .api
            .client()
            .list_schedules(self.api.request(&ctx, request)));
        let schedules: Vec<Json> = reply.schedules.iter().map(render::schedule).collect();
        Ok(bounds::result(&json!({ "schedules": schedules })))
    }
}

/// A wait in seconds within `0..=max` (default `default`).
fn wait_seconds(field: &str, s: Option<f64>, default: f64, max: f64) -> Result<f64, String> {
    match s.unwrap_or(default) {
        s if s.is_finite() && (0.0..=max).contains(&s) => Ok(s),
        _ => Err(format!("{field} must be between 0 and {max}")),
    }
}

fn schedule_status(name: &str) -> Result<i32, String> {
    let full = format!("SCHEDULE_STATUS_{}", name.trim().to_ascii_uppercase());
    match pb::ScheduleStatus::from_str_name(&full) {
        Some(s) if s != pb::ScheduleStatus::Unspecified => Ok(s as i32),
        _ => Err(format!("statuses: {name:?} is not ACTIVE or PAUSED")),
    }
}
