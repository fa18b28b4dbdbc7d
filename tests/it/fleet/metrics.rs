//! A fleet's metrics are labelled by database: a real DBOS worker on each of two clusters runs a
//! different number of workflows, and each database's workflow health and calls are counted under
//! its own `database` label; calls naming a database that is not served, or one the caller's token
//! may not use, are counted under `database="unknown"` and never under the name they sent.

use std::{io::Write, time::Duration};

use dbosd::{pb::ListWorkflowsRequest, telemetry::workflow_metrics::WorkflowMetricsSettings};
use serde_json::json;
use tonic::Code;

use super::{client_on, routing::awaited, DbClient, Two};
use crate::harness::{
    enqueue_req, eventually, telemetry_sample as sample, Worker, WorkerLang, WorkerOptions,
};

const TOKENS: &str = r#"{"tokens": [
    {"name": "fleet", "token": "tok-fleet", "applications": ["*"], "databases": ["*"]},
    {"name": "legacy", "token": "tok-legacy", "applications": ["*"]}
]}"#;

/// A name no database has; it must never become a label.
const INVENTED: &str = "invented-by-caller";

/// Enqueues `n` `add(1, 2)` workflows on `client`'s database, ids `<prefix>-<i>`, and waits until
/// they are done.
async fn run_adds(client: &mut DbClient, prefix: &str, n: usize) {
    for i in 0..n {
        let mut req = enqueue_req("add", "test_queue", vec![json!(1), json!(2)]);
        req.workflow_id = Some(format!("{prefix}-{i}"));
        client.enqueue_workflow(req).await.expect("enqueue");
    }
    for i in 0..n {
        let output = awaited(client, &format!("{prefix}-{i}")).await;
        assert_eq!(output, json!(3));
    }
}

fn handled(method: &str, code: &str, database: &str) -> String {
    format!(
        r#"dbosd_grpc_server_handled_total{{grpc_service="dbosd.v1.WorkflowService",grpc_method="{method}",grpc_code="{code}",database="{database}"}}"#
    )
}

#[tokio::test]
async fn workflow_and_call_metrics_are_counted_per_database_and_invented_names_as_unknown() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(TOKENS.as_bytes()).unwrap();
    let tokens = file.path().to_owned();
    let two = Two::start(
        |s| {
            s.tokens_file = Some(tokens);
            s.workflow_metrics = WorkflowMetricsSettings {
                interval: Duration::from_millis(200),
                max_names: 100,
            };
        },
        Some("tok-fleet"),
    )
    .await;
    let srv = &two.srv;
    let (wa, wb) = tokio::join!(
        Worker::start(WorkerLang::Python, &srv.db.url, WorkerOptions::default()),
        Worker::start(WorkerLang::Python, &two.b_db.url, WorkerOptions::default()),
    );
    let mut a = client_on(srv, None, Some("tok-fleet"));
    let mut b = client_on(srv, Some("b"), Some("tok-fleet"));
    tokio::join!(run_adds(&mut a, "on-a", 2), run_adds(&mut b, "on-b", 3));

    // A database nobody serves, and b with a token for the default database only.
    for (database, token) in [(INVENTED, "tok-fleet"), ("b", "tok-legacy")] {
        let mut client = client_on(srv, Some(database), Some(token));
        let err = client
            .list_workflows(ListWorkflowsRequest::default())
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::NotFound, "{database}: {err:?}");
    }

    let completed = |database: &str| {
        format!(
            r#"dbosd_workflows_completed_total{{database="{database}",name="add",status="SUCCESS"}}"#
        )
    };
    let scrape = eventually("each database's completions under its name", || async {
        let scrape = srv.scrape().await;
        (sample(&scrape, &completed("default")) == Some(2.0)
            && sample(&scrape, &completed("b")) == Some(3.0))
        .then_some(scrape)
    })
    .await;
    for database in ["default", "b"] {
        let up = format!(r#"dbosd_database_up{{database="{database}"}}"#);
        assert_eq!(sample(&scrape, &up), Some(1.0), "{up} in {scrape}");
    }
    assert_eq!(
        sample(&scrape, &handled("EnqueueWorkflow", "OK", "default")),
        Some(2.0),
        "{scrape}"
    );
    assert_eq!(
        sample(&scrape, &handled("EnqueueWorkflow", "OK", "b")),
        Some(3.0),
        "{scrape}"
    );
    // Both refused calls count as unknown: neither the invented name nor b (which that token may
    // not see) gets a series for them.
    assert_eq!(
        sample(&scrape, &handled("ListWorkflows", "NotFound", "unknown")),
        Some(2.0),
        "{scrape}"
    );
    assert_eq!(
        sample(&scrape, &handled("ListWorkflows", "NotFound", "b")),
        None,
        "{scrape}"
    );
    assert!(!scrape.contains(INVENTED), "{scrape}");
    tokio::join!(wa.stop(), wb.stop());
    two.srv.stop().await;
}
