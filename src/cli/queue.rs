//! `dbosd queue list|describe|update`: queue limits. `update` writes only the flags given, each as
//! one path of the UpdateQueue field mask; `none` clears a limit.

use std::process::ExitCode;

use serde_json::Value as Json;

use super::{
    args_more::{ApplicationFilter, NameArg, QueueUpdateArgs},
    client::{rpc_error, Client},
    output::Printer,
    render, CliError, CliResult,
};
use crate::pb;

const COLUMNS: &[(&str, &str)] = &[
    ("NAME", "name"),
    ("CONCURRENCY", "concurrency"),
    ("PER WORKER", "workerConcurrency"),
    ("RATE LIMIT", "rateLimit"),
    ("APPLICATION", "applicationName"),
];

pub async fn list(client: &mut Client, p: Printer, a: ApplicationFilter) -> CliResult {
    let resp = client
        .list_queues(pb::ListQueuesRequest {
            application_names: a.applications,
        })
        .await
        .map_err(|e| rpc_error("ListQueues", e))?
        .into_inner();
    let rows: Vec<Json> = resp.queues.iter().map(render::queue).collect();
    let mut out = p.list(COLUMNS);
    out.page(&rows);
    out.finish();
    Ok(ExitCode::SUCCESS)
}

pub async fn describe(client: &mut Client, p: Printer, a: NameArg) -> CliResult {
    let resp = client
        .get_queue(pb::GetQueueRequest { name: a.name })
        .await
        .map_err(|e| rpc_error("GetQueue", e))?
        .into_inner();
    p.fields(&resp.queue.as_ref().map_or(Json::Null, render::queue));
    Ok(ExitCode::SUCCESS)
}

/// `N` or `none` for `flag`.
fn limit(flag: &str, text: &str) -> Result<Option<i32>, CliError> {
    if text.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    match text.parse::<i32>() {
        Ok(n) if n >= 0 => Ok(Some(n)),
        _ => Err(CliError::usage(format!(
            "{flag} {text:?}: expected a number from 0 or `none`"
        ))),
    }
}

fn seconds(flag: &str, text: &str) -> Result<prost_types::Duration, CliError> {
    match text.parse::<f64>() {
        Ok(s) if s > 0.0 && s.is_finite() && s < 1e9 => Ok(prost_types::Duration {
            seconds: s.trunc() as i64,
            nanos: (s.fract() * 1e9) as i32,
        }),
        _ => Err(CliError::usage(format!(
            "{flag} {text:?}: expected a positive number of seconds or `none`"
        ))),
    }
}

pub async fn update(client: &mut Client, p: Printer, a: QueueUpdateArgs) -> CliResult {
    let mut queue = pb::Queue {
        name: a.name,
        ..Default::default()
    };
    let mut paths = Vec::new();
    let limits = [
        (
            "--concurrency",
            "concurrency",
            &a.concurrency,
            &mut queue.concurrency,
        ),
        (
            "--worker-concurrency",
            "worker_concurrency",
            &a.worker_concurrency,
            &mut queue.worker_concurrency,
        ),
        (
            "--partition-concurrency",
            "partition_concurrency",
            &a.partition_concurrency,
            &mut queue.partition_concurrency,
        ),
        (
            "--partition-worker-concurrency",
            "partition_worker_concurrency",
            &a.partition_worker_concurrency,
            &mut queue.partition_worker_concurrency,
        ),
    ];
    for (flag, path, given, slot) in limits {
        if let Some(text) = given {
            *slot = limit(flag, text)?;
            paths.push(path.to_owned());
        }
    }
    if let Some(text) = &a.rate_limit {
        if !text.eq_ignore_ascii_case("none") {
            let bad = || {
                CliError::usage(format!(
                    "--rate-limit {text:?}: expected N/SECS (e.g. 100/60) or `none`"
                ))
            };
            let (n, s) = text.split_once('/').ok_or_else(bad)?;
            let n: i32 = n.trim().parse().ok().filter(|n| *n > 0).ok_or_else(bad)?;
            queue.rate_limit = Some(pb::RateLimit {
                limit: n,
                period: Some(seconds("--rate-limit", s.trim()).map_err(|_| bad())?),
            });
        }
        paths.push("rate_limit".to_owned());
    }
    if let Some(text) = &a.polling_interval {
        if !text.eq_ignore_ascii_case("none") {
            queue.polling_interval = Some(seconds("--polling-interval", text)?);
        }
        paths.push("polling_interval".to_owned());
    }
    if paths.is_empty() {
        return Err(CliError::usage(
            "nothing to update: give at least one of --concurrency, --worker-concurrency, \
             --partition-concurrency, --partition-worker-concurrency, --rate-limit, --polling-interval",
        ));
    }
    let resp = client
        .update_queue(pb::UpdateQueueRequest {
            queue: Some(queue),
            update_mask: Some(prost_types::FieldMask { paths }),
        })
        .await
        .map_err(|e| rpc_error("UpdateQueue", e))?
        .into_inner();
    p.fields(&resp.queue.as_ref().map_or(Json::Null, render::queue));
    Ok(ExitCode::SUCCESS)
}
