//! Native payloads: adversarial pickles and superjson texts (resource bombs, out-of-range lengths
//! and memo indexes, deep nesting, code-running opcodes, random bytes) on the raw path with the
//! switch on and off, and the same texts stored straight in the schedules table (as a worker or an
//! older dbosd could) then listed, read and fired. None runs, none crashes, the daemon serves on.

use base64::{engine::general_purpose::STANDARD, Engine};
use dbosd::pb::{self, create_schedule_request::Context};
use tonic::Code;

use super::{assert_alive, SENTINEL};
use crate::auth::setup::{client_as, enqueue_as_ops, tokens_file, OPS};
use crate::harness::{TestDb, TestServer};

/// A pickle of protocol 4: `body` after the PROTO opcode, then STOP.
fn pickle(body: &[u8]) -> Vec<u8> {
    [&[0x80, 4][..], body, b"."].concat()
}

/// Adversarial pickles, each with what it tries.
fn pickles() -> Vec<(&'static str, Vec<u8>)> {
    let n = 9_000;
    let mut nested_lists = vec![b']'; n];
    nested_lists.extend(vec![b'a'; n - 1]);
    let mut tuples = Vec::new();
    for _ in 0..2_000 {
        tuples.extend_from_slice(b"(");
    }
    let mut cases = vec![
        (
            "memo resize from a 4-byte index",
            vec![0x80, 4, 0x4e, 0x72, 0xf0, 0xff, 0xff, 0xff, 0x2e],
        ),
        ("nesting 9,000 lists deep", pickle(&nested_lists)),
        ("2,000 open marks", pickle(&tuples)),
        ("100,000 pushes", pickle(&vec![b'N'; 100_000])),
        (
            "BINUNICODE of 4 GiB",
            pickle(&[0x58, 0xff, 0xff, 0xff, 0xff, b'a']),
        ),
        (
            "BINUNICODE8 of 2^63",
            pickle(&[0x8d, 0, 0, 0, 0, 0, 0, 0, 0x80, b'a']),
        ),
        ("LONG4 of 2 GiB", pickle(&[0x8b, 0xff, 0xff, 0xff, 0x7f, 1])),
        (
            "LONG_BINGET far past the memo",
            pickle(&[0x6a, 0xff, 0xff, 0xff, 0xff]),
        ),
        (
            "FRAME of 2^64-1",
            pickle(&[0x95, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
        ),
        ("os.system", pickle(b"cos\nsystem\n\x8c\x02id\x85R")),
        (
            "STACK_GLOBAL builtins.eval",
            pickle(b"\x8c\x08builtins\x8c\x04eval\x93\x8c\x011\x85R"),
        ),
        ("INST", pickle(b"(ios\nsystem\n\x8c\x02id")),
        ("PERSID", pickle(b"P1\n")),
        ("out-of-band buffer", [&[0x80, 5][..], b"\x97."].concat()),
        (
            "EMPTY_DICT SETITEMS with an unhashable key",
            pickle(b"}(]Ku"),
        ),
        ("no STOP", vec![0x80, 4, b'N']),
        ("empty", Vec::new()),
    ];
    // Random bytes after a protocol header, from a fixed seed (a regression corpus of sorts).
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..200 {
        let len = (seed % 64) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                (seed >> 33) as u8
            })
            .collect();
        cases.push(("random", pickle(&bytes)));
    }
    cases
}

/// Adversarial superjson texts.
fn superjsons() -> Vec<(&'static str, String)> {
    let wrap = |json: &str, meta: &str| {
        format!(r#"{{"json":{json},"meta":{meta},"__dbos_serializer":"superjson"}}"#)
    };
    vec![
        (
            "json one level past the limit",
            wrap(&format!("{}{}", "[".repeat(129), "]".repeat(129)), "{}"),
        ),
        (
            "json past serde's limit",
            wrap(&format!("{}{}", "[".repeat(5000), "]".repeat(5000)), "{}"),
        ),
        (
            "__proto__ path",
            wrap(r#"{"a":1}"#, r#"{"values":{"__proto__.a":["Date"]}}"#),
        ),
        (
            "constructor.prototype",
            wrap(
                r#"{"a":1}"#,
                r#"{"values":{"constructor.prototype":["set"]}}"#,
            ),
        ),
        (
            "a class",
            wrap(r#"{"a":{}}"#, r#"{"values":{"a":[["class","Evil"]]}}"#),
        ),
        (
            "custom type",
            wrap(r#"{"a":1}"#, r#"{"values":{"a":[["custom","x"]]}}"#),
        ),
        (
            "meta nested deep",
            wrap(
                "1",
                &format!("{}{}", r#"{"values":"#.repeat(100), "}".repeat(100)),
            ),
        ),
        ("not json", "{\"json\":".to_owned()),
    ]
}

async fn server(allow_raw: bool, db: TestDb) -> (TestServer, tempfile::NamedTempFile) {
    let file = tokens_file();
    let path = file.path().to_owned();
    let srv = TestServer::start_on(db, |s| {
        s.native.allow_raw = allow_raw;
        // The harness's token file has no native permission: with the switch on, go without tokens.
        s.tokens_file = (!allow_raw).then_some(path);
    })
    .await;
    (srv, file)
}

async fn create(
    srv: &TestServer,
    name: &str,
    lang: pb::WorkerLanguage,
    text: String,
) -> Result<(), tonic::Status> {
    let req = pb::CreateScheduleRequest {
        schedule_name: name.into(),
        workflow_name: "scheduled".into(),
        cron: "0 0 1 1 *".into(),
        language: lang as i32,
        context: Some(Context::ContextNativeText(text)),
        ..Default::default()
    };
    // With tokens off (switch on) the bearer is ignored; with them on, ops lacks the permission,
    // which the switch being off decides first.
    client_as(&srv.channel, OPS)
        .create_schedule(req)
        .await
        .map(|_| ())
}

#[tokio::test]
async fn hostile_native_texts_are_refused_with_the_switch_off_and_on() {
    for allow_raw in [false, true] {
        let (srv, _tokens) = server(allow_raw, TestDb::new().await).await;
        enqueue_as_ops(&srv, SENTINEL, "alpha").await;
        let mut texts: Vec<(&str, pb::WorkerLanguage, String)> = pickles()
            .into_iter()
            .map(|(what, p)| (what, pb::WorkerLanguage::Python, STANDARD.encode(p)))
            .collect();
        texts.extend(
            superjsons()
                .into_iter()
                .map(|(what, t)| (what, pb::WorkerLanguage::Typescript, t)),
        );
        texts.push(("not base64", pb::WorkerLanguage::Python, "%%%".into()));
        for (i, (what, lang, text)) in texts.into_iter().enumerate() {
            let answer = create(&srv, &format!("s-{i}"), lang, text).await;
            let status = answer.expect_err(what);
            let expected = if allow_raw {
                Code::InvalidArgument
            } else {
                Code::FailedPrecondition
            };
            assert_eq!(
                status.code(),
                expected,
                "{what} (switch {allow_raw}): {status:?}"
            );
            super::leaks::assert_no_leak(what, &status);
        }
        assert_alive(&srv.channel).await;
    }
}

#[tokio::test]
async fn hostile_native_rows_in_the_database_are_listed_as_text_and_never_fired() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let mut rows: Vec<String> = pickles()
        .into_iter()
        .map(|(_, p)| STANDARD.encode(p))
        .collect();
    rows.extend(superjsons().into_iter().map(|(_, t)| t));
    for (i, text) in rows.iter().enumerate() {
        client
            .execute(
                "INSERT INTO dbos.workflow_schedules (schedule_id, schedule_name, workflow_name, \
                 schedule, status, context) VALUES ($1, $1, 'scheduled', '0 0 1 1 *', 'ACTIVE', $2)",
                &[&format!("row-{i}"), text],
            )
            .await
            .unwrap();
    }
    let (srv, _tokens) = server(true, db).await;
    enqueue_as_ops(&srv, SENTINEL, "alpha").await;
    let mut ops = client_as(&srv.channel, OPS);
    let listed = ops
        .list_schedules(pb::ListSchedulesRequest::default())
        .await
        .expect("hostile rows are listed")
        .into_inner();
    assert_eq!(listed.schedules.len(), rows.len());
    for i in 0..rows.len() {
        let name = format!("row-{i}");
        let got = ops
            .get_schedule(pb::GetScheduleRequest {
                schedule_name: name.clone(),
            })
            .await;
        assert!(got.is_ok(), "{name}: {got:?}");
        let fired = ops
            .trigger_schedule(pb::TriggerScheduleRequest {
                schedule_name: name.clone(),
            })
            .await;
        let status = fired.expect_err(&name);
        {
            assert!(
                matches!(
                    status.code(),
                    Code::FailedPrecondition | Code::InvalidArgument
                ),
                "{name}: {status:?}"
            );
            super::leaks::assert_no_leak(&name, &status);
        }
    }
    let fired = srv
        .db
        .count("SELECT count(*) FROM dbos.workflow_status WHERE workflow_uuid <> 'attack-sentinel'")
        .await;
    assert_eq!(fired, 0, "schedules fired from hostile rows");
    assert_alive(&srv.channel).await;
}
