//! `deploy/prometheus/dbosd-rules.yml` passes `promtool check rules` and its unit tests
//! (`promtool test rules`, Debian's `prometheus` package, scripts/install-promtool.sh), and the
//! Grafana dashboard `deploy/grafana/dbosd.json` is well formed and, like the rules, names only
//! metrics a live dbosd exports.

use std::{collections::HashMap, process::Command};

use serde_json::Value as Json;

use super::metered_server;
use crate::harness::{eventually, repo_file, telemetry_sample as sample, TestDb};

fn promtool(args: &[&str]) {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(repo_file("deploy/prometheus"))
        .output()
        .expect("promtool runs (scripts/install-promtool.sh installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?} failed:\n{text}");
}

#[test]
fn the_alert_rules_pass_promtool_check_and_their_unit_tests() {
    promtool(&["check", "rules", "dbosd-rules.yml"]);
    promtool(&["test", "rules", "dbosd-rules.test.yml"]);
}

/// The `dbosd_*` metric names in a PromQL expression (label values in quotes are not names).
fn dbosd_metrics(expr: &str) -> Vec<String> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let unquoted: String = expr
        .split('"')
        .enumerate()
        .map(|(i, part)| if i % 2 == 0 { part } else { " " })
        .collect::<Vec<_>>()
        .join(" ");
    let mut names = Vec::new();
    let mut rest = unquoted.as_str();
    while let Some(at) = rest.find("dbosd_") {
        let starts_token = !rest[..at].chars().next_back().is_some_and(ident);
        let tail = &rest[at..];
        let end = tail.find(|c: char| !ident(c)).unwrap_or(tail.len());
        if starts_token {
            names.push(tail[..end].to_owned());
        }
        rest = &tail[end..];
    }
    names
}

/// Whether `name` is a series of a family the scrape declares (`# TYPE family type`).
fn exported(name: &str, families: &HashMap<String, String>) -> bool {
    let of = |suffix: &str, kind: &str| {
        name.strip_suffix(suffix)
            .and_then(|family| families.get(family))
            .is_some_and(|k| k == kind)
    };
    families.contains_key(name)
        || of("_total", "counter")
        || ["_bucket", "_sum", "_count"]
            .iter()
            .any(|s| of(s, "histogram"))
}

#[tokio::test]
async fn the_dashboard_and_the_rules_name_only_metrics_dbosd_exports() {
    let srv = metered_server(TestDb::new().await).await;
    // A family shows in the scrape once it has a series: rows as a worker leaves them (a backlog,
    // a dequeued and finished workflow, a step) give every workflow-health family one.
    srv.db
        .client()
        .await
        .batch_execute(
            "INSERT INTO dbos.workflow_status (workflow_uuid, status, name, queue_name, created_at, \
               updated_at, started_at_epoch_ms, completed_at) \
             SELECT id, st, 'lint', 'lint_q', t - 300, t, s, c FROM \
               (SELECT (EXTRACT(EPOCH FROM now()) * 1000)::bigint t) n, \
               LATERAL (VALUES ('lint-waiting', 'ENQUEUED', NULL::bigint, NULL::bigint), \
                 ('lint-done', 'SUCCESS', t - 200, t - 100)) v(id, st, s, c); \
             INSERT INTO dbos.operation_outputs (workflow_uuid, function_id, function_name, \
               started_at_epoch_ms, completed_at_epoch_ms) \
             SELECT 'lint-done', 1, 'lint_step', t - 150, t - 100 \
             FROM (SELECT (EXTRACT(EPOCH FROM now()) * 1000)::bigint t) n",
        )
        .await
        .expect("rows as a worker leaves them");
    // And a call, for the RPC families.
    let missing = srv
        .client
        .clone()
        .get_workflow(dbosd::pb::GetWorkflowRequest {
            workflow_id: "lint-missing".into(),
            ..Default::default()
        })
        .await;
    assert_eq!(missing.unwrap_err().code(), tonic::Code::NotFound);
    let scrape = eventually("every workflow-health family to have a series", || async {
        let scrape = srv.scrape().await;
        let all = [
            r#"dbosd_step_duration_seconds_count{database="default",step="lint_step"}"#,
            r#"dbosd_workflows_completed_total{database="default",name="lint",status="SUCCESS"}"#,
            r#"dbosd_queue_dequeue_latency_seconds_count{database="default",queue="lint_q"}"#,
        ]
        .iter()
        .all(|series| sample(&scrape, series) == Some(1.0));
        all.then_some(scrape)
    })
    .await;
    let families: HashMap<String, String> = scrape
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .map(|(name, kind)| (name.to_owned(), kind.to_owned()))
        .collect();

    let text = std::fs::read_to_string(repo_file("deploy/grafana/dbosd.json")).expect("dashboard");
    let dashboard: Json = serde_json::from_str(&text).expect("the dashboard is JSON");
    for key in ["uid", "title"] {
        let value = dashboard[key].as_str().unwrap_or_default();
        assert!(!value.is_empty(), "the dashboard has no {key}");
    }
    let panels = dashboard["panels"].as_array().expect("panels");
    assert!(!panels.is_empty(), "the dashboard has no panels");
    let mut exprs = Vec::new();
    for panel in panels {
        let title = panel["title"].as_str().unwrap_or_default();
        assert!(!title.is_empty(), "a panel has no title: {panel}");
        assert_eq!(panel["datasource"]["type"], "prometheus", "{title}");
        let targets = panel["targets"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        assert!(!targets.is_empty(), "panel {title} has no targets");
        for target in targets {
            let expr = target["expr"].as_str().unwrap_or_default();
            assert!(
                !expr.is_empty() && target["refId"].is_string(),
                "{title}: {target}"
            );
            exprs.push((format!("panel {title}"), expr.to_owned()));
        }
    }
    let rules: serde_json::Value = serde_norway::from_str(
        &std::fs::read_to_string(repo_file("deploy/prometheus/dbosd-rules.yml")).expect("rules"),
    )
    .expect("the rules are YAML");
    for rule in rules["groups"][0]["rules"].as_array().expect("rules") {
        let name = rule["alert"].as_str().unwrap_or_default();
        exprs.push((
            format!("alert {name}"),
            rule["expr"].as_str().unwrap_or_default().to_owned(),
        ));
    }
    // A fleet's dashboard: a `database` variable, and every per-database panel filtered by it.
    let variables = dashboard["templating"]["list"]
        .as_array()
        .expect("variables");
    assert!(
        variables.iter().any(|v| v["name"] == "database"),
        "the dashboard has no database variable"
    );
    // Streams and connections belong to the process, not to one database: they have no label.
    const PER_PROCESS: [&str; 2] = ["dbosd_streams_open", "dbosd_connections_open"];
    for (owner, expr) in exprs.iter().filter(|(o, _)| o.starts_with("panel")) {
        let fleet_wide = dbosd_metrics(expr)
            .iter()
            .all(|m| PER_PROCESS.contains(&m.as_str()));
        assert!(
            fleet_wide || expr.contains(r#"database=~"$database""#),
            "{owner} is not filtered by the database variable: {expr}"
        );
    }
    let mut named = 0;
    for (owner, expr) in &exprs {
        for metric in dbosd_metrics(expr) {
            named += 1;
            assert!(
                exported(&metric, &families),
                "{owner} names {metric}, which dbosd does not export:\n{expr}\n{scrape}"
            );
        }
    }
    assert!(named >= 10, "only {named} dbosd metrics named");
    // The workflow health series the dashboard is about are all on it.
    let shown: String = exprs.iter().map(|(_, e)| e.as_str()).collect();
    for family in [
        "dbosd_queue_workflows",
        "dbosd_queue_oldest_workflow_age_seconds",
        "dbosd_queue_dequeue_latency_seconds",
        "dbosd_workflows_completed",
        "dbosd_step_duration_seconds",
        "dbosd_database_up",
    ] {
        assert!(
            shown.contains(family),
            "neither the dashboard nor the rules show {family}"
        );
    }
}

#[test]
fn metric_names_are_read_out_of_promql() {
    assert_eq!(
        dbosd_metrics(r#"max by (q) (rate(dbosd_a_total{x="dbosd_no"}[5m])) / xdbosd_b + dbosd_c"#),
        ["dbosd_a_total", "dbosd_c"]
    );
}
