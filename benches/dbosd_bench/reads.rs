//! Read paths: ListWorkflows pages over a 1,000,000-row workflow_status (with and without filters the
//! DBOS indexes serve; with payloads, pages of 100 and 1,000, each beside the same page read through
//! dbosd's repository in process) and GetWorkflow under 16 concurrent clients.

use std::time::{Duration, Instant};

use dbosd::pb::{self, WorkflowStatus};
use serde_json::json;

use crate::{
    setup::{connect, BenchResult, Env},
    stats::{pcts, Row},
};

/// Fills workflow_status with `rows` finished and queued workflows, with their inputs, and the
/// outputs and errors of the finished ones (small JSON objects, as a typical workflow returns).
async fn fill(env: &Env, rows: i32) -> BenchResult<()> {
    let db = connect(&env.db_url).await?;
    db.batch_execute("SET synchronous_commit = off").await?;
    let batch = 100_000;
    for start in (0..rows).step_by(batch as usize) {
        db.execute(
            "INSERT INTO dbos.workflow_status (workflow_uuid, status, name, queue_name, serialization, created_at, updated_at, completed_at, application_version)
             SELECT 'bulk-' || g,
                    CASE WHEN g % 10 = 0 THEN 'ENQUEUED' WHEN g % 10 = 1 THEN 'ERROR' ELSE 'SUCCESS' END,
                    'wf_' || (g % 20), 'queue_' || (g % 8), 'portable_json',
                    1700000000000 + g, 1700000000000 + g,
                    CASE WHEN g % 10 = 0 THEN NULL ELSE 1700000000000 + g + 5 END, 'v' || (g % 3)
             FROM generate_series($1::int, $2::int) g",
            &[&start, &(start + batch - 1).min(rows - 1)],
        )
        .await?;
        db.execute(
            "INSERT INTO dbos.workflow_input (workflow_uuid, inputs)
             SELECT 'bulk-' || g, '{\"positionalArgs\":[' || g || '],\"namedArgs\":{}}' FROM generate_series($1::int, $2::int) g",
            &[&start, &(start + batch - 1).min(rows - 1)],
        )
        .await?;
        db.execute(
            "INSERT INTO dbos.workflow_output (workflow_uuid, output, error)
             SELECT 'bulk-' || g,
                    CASE WHEN g % 10 > 1 THEN '{\"order\":' || g || ',\"status\":\"shipped\",\"total\":' || (g % 997) || '.25,\"items\":[\"a-' || g || '\",\"b\"]}' END,
                    CASE WHEN g % 10 = 1 THEN '{\"name\":\"ValueError\",\"message\":\"order ' || g || ' failed\"}' END
             FROM generate_series($1::int, $2::int) g WHERE g % 10 <> 0",
            &[&start, &(start + batch - 1).min(rows - 1)],
        )
        .await?;
    }
    db.batch_execute(
        "ANALYZE dbos.workflow_status; ANALYZE dbos.workflow_input; ANALYZE dbos.workflow_output",
    )
    .await?;
    Ok(())
}

async fn list_latency(
    env: &Env,
    req: pb::ListWorkflowsRequest,
    calls: usize,
) -> BenchResult<Vec<f64>> {
    let mut client = env.channel().await?;
    let mut samples = Vec::with_capacity(calls);
    let mut token = String::new();
    for _ in 0..calls {
        let started = Instant::now();
        let resp = client
            .list_workflows(pb::ListWorkflowsRequest {
                page_token: token.clone(),
                ..req.clone()
            })
            .await?
            .into_inner();
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
        // Walk forward through the pages, as a client paging through results does.
        token = resp.next_page_token;
    }
    Ok(samples)
}

async fn get_latency(
    env: &Env,
    clients: usize,
    rows: i32,
    window: Duration,
) -> BenchResult<Vec<f64>> {
    let mut handles = Vec::new();
    let deadline = Instant::now() + window;
    for c in 0..clients {
        let mut client = env.channel().await?;
        handles.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut i = c as i64;
            while Instant::now() < deadline {
                i = (i * 7919 + 104_729) % i64::from(rows);
                let started = Instant::now();
                client
                    .get_workflow(pb::GetWorkflowRequest {
                        workflow_id: format!("bulk-{i}"),
                        ..Default::default()
                    })
                    .await?;
                samples.push(started.elapsed().as_secs_f64() * 1000.0);
            }
            BenchResult::Ok(samples)
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await??);
    }
    Ok(all)
}

/// A page of `page` workflows with inputs and outputs, newest first, `calls` times paging on: through
/// gRPC, and the same pages through dbosd's repository in this process (what is left there is
/// PostgreSQL's and the row decoding's, so the gap is proto conversion, gRPC and dbosd's layers).
async fn payload_pages(env: &Env, rows: i32, page: i32, calls: usize) -> BenchResult<Vec<Row>> {
    let req = pb::ListWorkflowsRequest {
        load_input: true,
        load_output: true,
        sort_desc: true,
        page_size: page,
        ..Default::default()
    };
    let before = env.server_seconds("ListWorkflows").await?;
    let grpc = list_latency(env, req.clone(), calls).await?;
    let after = env.server_seconds("ListWorkflows").await?;
    let server_ms = (after.0 - before.0) / (after.1 - before.1) * 1e3;
    let page_bytes =
        prost::Message::encoded_len(&env.channel().await?.list_workflows(req).await?.into_inner());
    let repo = dbosd::server::prepare(&dbosd::config::Settings::new(env.db_url.clone())).await?;
    let mut after = None;
    let mut local = Vec::with_capacity(calls);
    for _ in 0..calls {
        let query = dbosd::model::ListQuery {
            filter: Default::default(),
            sort_desc: true,
            load_input: true,
            load_output: true,
            by_updated_at: false,
            limit: i64::from(page),
            offset: None,
            after: after.take(),
        };
        let started = Instant::now();
        let listed = repo.list_workflows(&query).await?;
        local.push(started.elapsed().as_secs_f64() * 1000.0);
        after = listed.next;
    }
    let (grpc_text, grpc_json) = pcts(&grpc);
    let (local_text, local_json) = pcts(&local);
    let target = match page {
        100 => "target p50 < 3 ms; ",
        _ => "",
    };
    Ok(vec![Row {
        section: "ListWorkflows",
        metric: format!("page of {page} over {rows} rows with inputs and outputs, p50/p95/p99"),
        dbosd: grpc_text,
        baseline: format!(
            "{target}dbosd's repository in process: {local_text}; dbosd's own handling (its metrics) {server_ms:.2} ms mean; a page is {:.0} KiB",
            page_bytes as f64 / 1024.0
        ),
        json: json!({"case": "with inputs and outputs", "page": page, "rows": rows, "latency": grpc_json,
                     "repository_in_process": local_json, "server_mean_ms": server_ms, "page_bytes": page_bytes}),
    }])
}

/// Runs the section over `rows` workflows.
pub async fn run(env: &Env, rows: i32, window: Duration) -> BenchResult<Vec<Row>> {
    let fill_started = Instant::now();
    fill(env, rows).await?;
    eprintln!(
        "filled {rows} workflows in {:.0} s",
        fill_started.elapsed().as_secs_f64()
    );
    let mut out = Vec::new();
    let cases: Vec<(&str, pb::ListWorkflowsRequest)> = vec![
        (
            "no filter, newest first",
            pb::ListWorkflowsRequest {
                sort_desc: true,
                ..Default::default()
            },
        ),
        (
            "no filter, oldest first",
            pb::ListWorkflowsRequest::default(),
        ),
        (
            "status ERROR",
            pb::ListWorkflowsRequest {
                filter: Some(pb::WorkflowFilter {
                    statuses: vec![WorkflowStatus::Error as i32],
                    ..Default::default()
                }),
                sort_desc: true,
                ..Default::default()
            },
        ),
        (
            "queue_2, ENQUEUED",
            pb::ListWorkflowsRequest {
                filter: Some(pb::WorkflowFilter {
                    queue_names: vec!["queue_2".into()],
                    statuses: vec![WorkflowStatus::Enqueued as i32],
                    ..Default::default()
                }),
                ..Default::default()
            },
        ),
        (
            "created in a 1-hour range",
            pb::ListWorkflowsRequest {
                filter: Some(pb::WorkflowFilter {
                    created_after: Some(prost_types::Timestamp {
                        seconds: 1_700_000_200,
                        nanos: 0,
                    }),
                    created_before: Some(prost_types::Timestamp {
                        seconds: 1_700_003_800,
                        nanos: 0,
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ),
    ];
    for (name, req) in cases {
        let req = pb::ListWorkflowsRequest {
            page_size: 100,
            ..req
        };
        let samples = list_latency(env, req, 200).await?;
        let (text, json) = pcts(&samples);
        out.push(Row {
            section: "ListWorkflows",
            metric: format!("page of 100 over {rows} rows: {name}, p50/p95/p99"),
            dbosd: text,
            baseline: "target p50 < 2.5 ms".into(),
            json: json!({"case": name, "rows": rows, "latency": json}),
        });
    }
    for (page, calls) in [(100, 200), (1000, 40)] {
        out.extend(payload_pages(env, rows, page, calls).await?);
    }
    let samples = get_latency(env, 16, rows, window).await?;
    let (text, json) = pcts(&samples);
    out.push(Row {
        section: "GetWorkflow",
        metric: "16 concurrent clients, p50/p95/p99".into(),
        dbosd: format!(
            "{text} ({:.0} calls/s)",
            samples.len() as f64 / window.as_secs_f64()
        ),
        baseline: "—".into(),
        json: json!({"clients": 16, "latency": json, "calls": samples.len()}),
    });
    Ok(out)
}
