//! Crash: bytes that could panic a handler or abort the process (stack overflow from recursion,
//! huge allocations), sent to the real binary, where an abort would show as process death: every
//! RPC gets hostile bytes in every field, deep `google.protobuf.Value`s in every field, and rows
//! written by a worker with values nested far deeper than any request may be are read back.

use std::time::Duration;

use futures::StreamExt;
use tonic::Code;

use super::raw::{bytes_field, key, nested, varint_field};
use super::{assert_alive, SENTINEL};
use crate::auth::setup::{client_as, spawn_with_tokens, tokens_file, ALPHA, OPS};
use crate::harness::{enqueue_req, Dbosd, TestDb, WAIT};
use dbosd::{api::rpcs::POLICIES, auth::policy::ScopeKind};

const STREAMING: &[&str] = &[
    "AwaitWorkflow",
    "AwaitWorkflows",
    "WatchEvent",
    "ReadStream",
    "WatchWorkflows",
];

/// The real binary with the attack tokens, and the sentinel workflow (alpha's) in its database.
pub async fn spawn(db: &TestDb, tokens: &tempfile::NamedTempFile, extra: &[&str]) -> Dbosd {
    let mut args = vec!["--max-concurrent-calls", "10000"];
    args.extend_from_slice(extra);
    let dbosd = spawn_with_tokens(db, tokens, &args, &[]).await;
    let mut req = enqueue_req("wf", "q", vec![]);
    req.workflow_id = Some(SENTINEL.into());
    req.application_name = Some("alpha".into());
    client_as(&dbosd.channel, OPS)
        .enqueue_workflow(req)
        .await
        .expect("the sentinel is enqueued");
    dbosd
}

/// A `google.protobuf.Value` nested `levels` lists deep (each level is two protobuf messages).
fn deep_list_value(levels: usize) -> Vec<u8> {
    (0..levels).fold(varint_field(4, 1), |inner, _| {
        // Value.list_value (6) holding ListValue.values (1) holding the inner Value.
        bytes_field(6, &bytes_field(1, &inner))
    })
}

/// A `google.protobuf.Struct` nested `levels` structs deep.
fn deep_struct(levels: usize) -> Vec<u8> {
    (0..levels).fold(Vec::new(), |inner, _| {
        // Struct.fields (1) entry {key (1), value (2): Value.struct_value (5)}.
        let mut entry = bytes_field(1, b"k");
        entry.extend(bytes_field(2, &bytes_field(5, &inner)));
        bytes_field(1, &entry)
    })
}

/// What each field of each request gets: every wire type with the values a decoder may trip on.
fn hostile_fields(field: u32) -> Vec<Vec<u8>> {
    let mut fixed64 = Vec::new();
    key(field, 1, &mut fixed64);
    fixed64.extend_from_slice(&u64::MAX.to_le_bytes());
    let mut truncated = Vec::new();
    key(field, 2, &mut truncated);
    truncated.push(100);
    vec![
        bytes_field(field, b"a\0b"),
        bytes_field(field, &[0xff, 0xfe, 0xc0, 0x80]),
        bytes_field(field, "x".repeat(64 * 1024).as_bytes()),
        varint_field(field, u64::MAX),
        varint_field(field, 99),
        varint_field(field, i32::MIN as u64),
        fixed64,
        truncated,
        nested(field, 150),
        nested(field, 45),
        bytes_field(field, &deep_list_value(49)),
        bytes_field(field, &deep_list_value(200)),
        bytes_field(field, &deep_struct(30)),
        // An id-like first field plus the hostile one, so a handler gets past "is required".
        [
            bytes_field(1, b"attack-victim"),
            bytes_field(field, &deep_list_value(49)),
        ]
        .concat(),
        [
            bytes_field(1, b"wf"),
            bytes_field(2, b"q"),
            bytes_field(field, &deep_struct(30)),
        ]
        .concat(),
    ]
}

#[tokio::test]
async fn hostile_bytes_in_every_field_of_every_rpc_never_take_the_daemon_down() {
    let (db, tokens) = (TestDb::new().await, tokens_file());
    let mut dbosd = spawn(&db, &tokens, &[]).await;
    let mut calls = Vec::new();
    for (method, policy) in POLICIES {
        let streaming = STREAMING.contains(method);
        // A scoped token gets as far as it may; whole-database calls need ops to reach their handler.
        let token = match policy.scope {
            ScopeKind::WholeDatabase => OPS,
            _ => ALPHA,
        };
        for field in 1..=24 {
            for body in hostile_fields(field) {
                calls.push((*method, streaming, body, token));
            }
        }
    }
    let channel = dbosd.channel.clone();
    let answers: Vec<_> = futures::stream::iter(calls)
        .map(|(method, streaming, body, token)| {
            let channel = channel.clone();
            async move {
                let within = Duration::from_millis(if streaming { 300 } else { 3000 });
                let answer = super::raw::call(&channel, method, streaming, body, token, within);
                (method, answer.await)
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    assert!(dbosd.try_exited().is_none(), "dbosd died:\n{}", dbosd.log());
    for (method, answer) in answers {
        let Err(status) = answer else { continue };
        assert!(
            !matches!(status.code(), Code::Unknown | Code::Unavailable),
            "{method}: {status:?}"
        );
        if status.code() == Code::Internal {
            assert!(
                status.message().contains("request id"),
                "{method}: an INTERNAL without its request id: {status:?}"
            );
        }
        super::leaks::assert_no_leak(method, &status);
    }
    assert_alive(&dbosd.channel).await;
}

#[tokio::test]
async fn rows_nested_far_past_the_request_limits_are_read_without_crashing() {
    let (db, tokens) = (TestDb::new().await, tokens_file());
    let mut dbosd = spawn(&db, &tokens, &[]).await;
    // What a worker (or anyone with database access) could store: JSON nested 100,000 levels.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_obj = format!("{}1{}", r#"{"a":"#.repeat(20_000), "}".repeat(20_000));
    let client = db.client().await;
    client
        .execute(
            "UPDATE dbos.workflow_status SET status = 'SUCCESS', output = $1, \
                 serialization = 'portable_json' WHERE workflow_uuid = $2",
            &[&deep, &SENTINEL],
        )
        .await
        .unwrap();
    client
        .execute(
            "INSERT INTO dbos.workflow_events (workflow_uuid, key, value, serialization) \
             VALUES ($1, 'deep', $2, 'portable_json'), ($1, 'deep_obj', $3, 'portable_json')",
            &[&SENTINEL, &deep, &deep_obj],
        )
        .await
        .unwrap();
    client
        .execute(
            "INSERT INTO dbos.streams (workflow_uuid, key, value, \"offset\", function_id, serialization) \
             VALUES ($1, 's', $2, 0, 1, 'portable_json')",
            &[&SENTINEL, &deep],
        )
        .await
        .unwrap();
    client
        .execute(
            "INSERT INTO dbos.operation_outputs (workflow_uuid, function_id, function_name, output, \
                 serialization, started_at_epoch_ms, completed_at_epoch_ms) \
             VALUES ($1, 1, 'deep', $2, 'portable_json', 1, 2)",
            &[&SENTINEL, &deep_obj],
        )
        .await
        .unwrap();
    let mut ops = client_as(&dbosd.channel, OPS);
    let id = || SENTINEL.to_owned();
    let get = ops
        .get_workflow(dbosd::pb::GetWorkflowRequest {
            workflow_id: id(),
            ..Default::default()
        })
        .await;
    let list = ops
        .list_workflows(dbosd::pb::ListWorkflowsRequest {
            load_output: true,
            ..Default::default()
        })
        .await;
    let steps = ops
        .list_workflow_steps(dbosd::pb::ListWorkflowStepsRequest {
            workflow_id: id(),
            ..Default::default()
        })
        .await;
    let events = ops
        .get_workflow_events(dbosd::pb::GetWorkflowEventsRequest { workflow_id: id() })
        .await;
    let event = ops
        .get_event(dbosd::pb::GetEventRequest {
            workflow_id: id(),
            key: "deep_obj".into(),
            ..Default::default()
        })
        .await;
    let mut awaited = ops
        .await_workflow(dbosd::pb::AwaitWorkflowRequest {
            workflow_id: id(),
            ..Default::default()
        })
        .await
        .map(|s| s.into_inner());
    if let Ok(stream) = awaited.as_mut() {
        let first = tokio::time::timeout(WAIT, stream.message()).await;
        let first = first.expect("AwaitWorkflow answers");
        assert!(!matches!(first, Ok(None)), "AwaitWorkflow ended empty");
    }
    let mut read = ops
        .read_stream(dbosd::pb::ReadStreamRequest {
            workflow_id: id(),
            key: "s".into(),
            ..Default::default()
        })
        .await
        .map(|s| s.into_inner());
    if let Ok(stream) = read.as_mut() {
        let first = tokio::time::timeout(WAIT, stream.message()).await;
        let first = first.expect("ReadStream answers");
        assert!(
            !matches!(first, Ok(None)),
            "ReadStream ended before its value"
        );
    }
    assert!(dbosd.try_exited().is_none(), "dbosd died:\n{}", dbosd.log());
    for (what, status) in [
        ("get", get.err()),
        ("list", list.err()),
        ("steps", steps.err()),
        ("events", events.err()),
        ("event", event.err()),
    ] {
        if let Some(status) = status {
            assert_ne!(status.code(), Code::Unknown, "{what}: {status:?}");
            super::leaks::assert_no_leak(what, &status);
        }
    }
    assert_alive(&dbosd.channel).await;
}

#[tokio::test]
async fn a_stream_row_at_the_last_offset_ends_the_read_instead_of_wrapping() {
    let (db, tokens) = (TestDb::new().await, tokens_file());
    let mut dbosd = spawn(&db, &tokens, &[]).await;
    db.client()
        .await
        .execute(
            "INSERT INTO dbos.streams (workflow_uuid, key, value, \"offset\", function_id, serialization) \
             VALUES ($1, 'edge', '\"last\"', 2147483647, 1, 'portable_json')",
            &[&SENTINEL],
        )
        .await
        .unwrap();
    let mut stream = client_as(&dbosd.channel, ALPHA)
        .read_stream(dbosd::pb::ReadStreamRequest {
            workflow_id: SENTINEL.into(),
            key: "edge".into(),
            offset: i32::MAX,
            timeout: Some(prost_types::Duration {
                seconds: 5,
                nanos: 0,
            }),
        })
        .await
        .expect("the stream opens")
        .into_inner();
    let mut offsets = Vec::new();
    while let Some(msg) = tokio::time::timeout(WAIT, stream.message())
        .await
        .expect("the read ends by itself")
        .expect("no error")
    {
        offsets.push(msg.offset);
        assert!(offsets.len() < 3, "the read wrapped around: {offsets:?}");
    }
    assert_eq!(offsets, [i32::MAX]);
    assert!(dbosd.try_exited().is_none(), "dbosd died:\n{}", dbosd.log());
    assert_alive(&dbosd.channel).await;
}

#[tokio::test]
async fn deep_and_hostile_json_through_the_connect_path_never_take_the_daemon_down() {
    let (db, tokens) = (TestDb::new().await, tokens_file());
    let mut dbosd = spawn(&db, &tokens, &[]).await;
    let deep = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
    let bodies = [
        // proto3 JSON of a Value 60 lists deep: 120 protobuf levels, past prost's 100.
        format!(r#"{{"workflowName":"wf","queueName":"q","applicationName":"alpha","positionalArgs":[{}]}}"#, deep(60)),
        format!(r#"{{"workflowName":"wf","queueName":"q","applicationName":"alpha","positionalArgs":[{}]}}"#, deep(100_000)),
        format!(r#"{{"workflowName":"wf","queueName":"q","applicationName":"alpha","attributes":{}}}"#, r#"{"a":"#.repeat(50_000)),
        format!(r#"{{"workflowName":"wf","queueName":"q","applicationName":"alpha","priority":{}}}"#, "9".repeat(400)),
        r#"{"workflowName":"wf","queueName":"q","applicationName":"alpha","deduplicationPolicy":"NOPE"}"#.to_owned(),
        r#"{"workflowName":"w\u0000f","queueName":"q","applicationName":"alpha"}"#.to_owned(),
        "\u{feff}{}".to_owned(),
        "{\"workflowName\":\"\\ud800\"}".to_owned(),
    ];
    for body in bodies {
        let reply = crate::http::post(
            dbosd.addr,
            "/dbosd.v1.WorkflowService/EnqueueWorkflow",
            &[
                "Content-Type: application/json",
                &format!("Authorization: Bearer {ALPHA}"),
            ],
            body.as_bytes(),
        )
        .await;
        assert!(
            reply.status == 200 || (400..500).contains(&reply.status),
            "{}: {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
        assert!(dbosd.try_exited().is_none(), "dbosd died:\n{}", dbosd.log());
    }
    assert_alive(&dbosd.channel).await;
}
