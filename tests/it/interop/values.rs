//! Values round-trip between dbosd and the worker in both directions: what dbosd enqueues comes back
//! from the worker unchanged, and what the worker app starts by itself (in its own native format or
//! portable) reads back through dbosd.

use dbosd::pb::{self, WorkflowStatus};
use serde_json::{json, Value as Json};

use super::{enqueue, with_id, with_worker};
use crate::harness::{
    enqueue_req, payload_json, pv, wait_terminal, TestServer, Worker, WorkerLang, WorkerOptions,
};

on_both_workers!(
    values_round_trip_through_the_worker,
    integers_past_two_to_the_53_stay_exact_only_in_python,
    workflows_started_inside_the_worker_app_read_back,
    step_ids_start_at_the_language_s_first_step,
);

/// JSON values of every kind a workflow argument can take, within what every worker keeps exactly.
fn sample_values() -> Vec<Json> {
    vec![
        json!("plain"),
        json!(""),
        json!("ünïcødé ✓ \"quoted\" \\ back\nslash\t"),
        json!({"nested": {"list": [1, {"deep": [null, true, false]}], "empty": {}, "none": []}}),
        json!([1, "two", 3.25, null, [[]], {"k": "v"}]),
        json!(2.5),
        json!(-3e-7),
        json!(1.5e300),
        json!(0.1),
        json!(null),
        json!(true),
        json!(0),
        json!(-17),
        json!(9_007_199_254_740_991_i64),
        json!(-9_007_199_254_740_991_i64),
    ]
}

async fn values_round_trip_through_the_worker(lang: WorkerLang) {
    let (mut srv, worker) = with_worker(lang).await;
    let values = sample_values();
    for (i, v) in values.iter().enumerate() {
        let req = with_id(
            enqueue_req("echo", "test_queue", vec![v.clone()]),
            &format!("v{i}"),
        );
        enqueue(&mut srv, req).await;
    }
    for (i, v) in values.iter().enumerate() {
        let done = wait_terminal(&srv.client, &format!("v{i}")).await;
        assert_eq!(done.status(), WorkflowStatus::Success, "value {v}");
        let output = done.output.as_ref().expect("output");
        // Compared as the gRPC client sees them (numbers are doubles): Python writes 2.5e-07 where
        // JavaScript writes 2.5e-7, and both are the same number.
        assert_eq!(
            output.json,
            Some(pv(v.clone())),
            "value {v} came back as {}",
            output.text
        );
        let input = payload_json(&done.input);
        assert_eq!(input["positionalArgs"], json!([v]), "stored input of {v}");
    }
    // Integers up to 2^53 keep every digit in the stored text, in both languages.
    let big = wait_terminal(&srv.client, &format!("v{}", values.len() - 2)).await;
    assert_eq!(big.output.unwrap().text, "9007199254740991");
    worker.stop().await;
    srv.stop().await;
}

async fn integers_past_two_to_the_53_stay_exact_only_in_python(lang: WorkerLang) {
    let (mut srv, worker) = with_worker(lang).await;
    let mut req = with_id(enqueue_req("echo", "test_queue", vec![]), "huge");
    req.inputs_json = "[12345678901234567890]".into();
    enqueue(&mut srv, req).await;
    let done = wait_terminal(&srv.client, "huge").await;
    assert_eq!(
        done.input.unwrap().text,
        r#"{"positionalArgs":[12345678901234567890],"namedArgs":{}}"#,
        "dbosd stores the digits as given"
    );
    // Python ints are exact; a JavaScript number is a double, so the TS worker rounds.
    let expected = match lang {
        WorkerLang::Python => "12345678901234567890",
        WorkerLang::TypeScript => "12345678901234567000",
    };
    assert_eq!(done.output.unwrap().text, expected);
    worker.stop().await;
    srv.stop().await;
}

async fn workflows_started_inside_the_worker_app_read_back(lang: WorkerLang) {
    let srv = TestServer::start().await;
    let value =
        json!({"from": lang.label(), "n": [1, 2.5, null], "big": 9_007_199_254_740_991_i64});
    let opts = WorkerOptions {
        self_start: Some(("self".into(), value.clone())),
        ..Default::default()
    };
    let worker = Worker::start(lang, &srv.db.url, opts).await;

    // Enqueued by the app with portable serialization: decoded like anything dbosd enqueued.
    let portable = wait_terminal(&srv.client, "self-portable").await;
    assert_eq!(portable.status(), WorkflowStatus::Success);
    assert_eq!(portable.serialization, "portable_json");
    assert_eq!(portable.workflow_name, "echo");
    assert_eq!(
        payload_json(&portable.input)["positionalArgs"],
        json!([value])
    );
    assert_eq!(payload_json(&portable.output), value);

    // Started directly in the language's native format: passed through as text with its name.
    let native = wait_terminal(&srv.client, "self-native").await;
    assert_eq!(native.status(), WorkflowStatus::Success);
    assert_eq!(native.serialization, lang.native_serialization());
    for payload in [&native.input, &native.output] {
        let p = payload.as_ref().expect("native payload");
        assert_eq!(p.serialization, lang.native_serialization());
        assert!(p.json.is_none(), "native payloads are not decoded: {p:?}");
    }
    if lang == WorkerLang::TypeScript {
        // js_superjson is JSON underneath: the positional-args array, marked as superjson.
        let text = |p: &Option<pb::Payload>| -> Json {
            serde_json::from_str(&p.as_ref().unwrap().text).expect("superjson text is JSON")
        };
        assert_eq!(
            text(&native.input),
            json!({"json": [value], "__dbos_serializer": "superjson"})
        );
        assert_eq!(
            text(&native.output),
            json!({"json": value, "__dbos_serializer": "superjson"})
        );
    }
    worker.stop().await;
    srv.stop().await;
}

async fn step_ids_start_at_the_language_s_first_step(lang: WorkerLang) {
    let (mut srv, worker) = with_worker(lang).await;
    enqueue(
        &mut srv,
        with_id(
            enqueue_req("multi_step", "test_queue", vec![json!(3)]),
            "steps",
        ),
    )
    .await;
    let done = wait_terminal(&srv.client, "steps").await;
    assert_eq!(payload_json(&done.output), json!([0, 1, 2]));
    let rows = srv
        .db
        .client()
        .await
        .query(
            "SELECT function_id, function_name FROM dbos.operation_outputs \
             WHERE workflow_uuid = 'steps' ORDER BY function_id",
            &[],
        )
        .await
        .unwrap();
    let steps: Vec<(i32, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let first = lang.first_step_id();
    let expected: Vec<(i32, String)> = (first..first + 3)
        .map(|id| (id, "step_value".to_owned()))
        .collect();
    assert_eq!(steps, expected);
    worker.stop().await;
    srv.stop().await;
}
