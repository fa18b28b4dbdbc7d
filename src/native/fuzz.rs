//! Property tests and a regression corpus for the native checkers. Random bytes, random opcode
//! sequences built from the opcodes that matter, and random superjson never panic the checkers
//! (a panic here would be a dbosd crash on a hostile request or stored row); whatever is accepted
//! contains no code-running opcode and names only allowlisted globals; and every typed value
//! dbosd writes is accepted and reads back unchanged. The corpus (`corpus/*.txt`) pins known
//! hostile inputs: the 9-byte memo pickle that aborted dbosd, `os.system`, `builtins.eval`
//! through STACK_GLOBAL and REDUCE, deep nesting, huge memo indexes and lengths, and more.

use proptest::{prelude::*, test_runner::FileFailurePersistence};

use super::{
    pickle, pickle_ops, pickle_read, pickle_vm, superjson, superjson_check, Allowlist, Typed,
};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 2000,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    }
}

const FORBIDDEN: &[u8] = &[b'i', b'o', 0x82, 0x83, 0x84, b'P', b'Q', 0x97, 0x98];

/// Checks a pickle and, if accepted, that it is clean; reading it must not panic either.
fn assert_clean_if_accepted(bytes: &[u8]) {
    let allow = Allowlist::default();
    if let Ok(p) = pickle_vm::check(bytes, &allow) {
        for op in pickle_ops::ops(bytes) {
            let (op, _) = op.expect("an accepted pickle splits");
            assert!(
                !FORBIDDEN.contains(&op),
                "accepted forbidden opcode 0x{op:02x}"
            );
        }
        for g in &p.globals {
            let (m, n) = g.rsplit_once('.').unwrap();
            assert!(allow.allows(m, n), "accepted global {g}");
        }
        let _ = pickle_read::typed(&p);
    }
}

/// Opcode fragments that reach the checker's interesting paths.
fn fragment() -> impl Strategy<Value = Vec<u8>> {
    let fixed: Vec<&'static [u8]> = vec![
        b"N",
        b"]",
        b")",
        b"}",
        b"(",
        b"e",
        b"a",
        b"s",
        b"u",
        b"t",
        b"l",
        b"d",
        b"0",
        b"1",
        b"2",
        b"\x94",
        b"h\x00",
        b"h\x01",
        b"h\x05",
        b"q\x02",
        b"r\xf0\xff\xff\xff",
        b"j\xff\xff\xff\xff",
        b"\x8c\x08datetime",
        b"\x8c\x04date",
        b"\x8c\x08timezone",
        b"\x8c\ttimedelta",
        b"\x8c\x02os",
        b"\x8c\x06system",
        b"\x8c\x08builtins",
        b"\x8c\x04eval",
        b"\x93",
        b"R",
        b"\x81",
        b"\x92",
        b"b",
        b"\x85",
        b"\x86",
        b"\x87",
        b"K\x01",
        b"M\x00\x01",
        b"J\xff\xff\xff\xff",
        b"C\x04\x07\xea\x01\x02",
        b"C\n\x07\xea\x01\x02\x03\x04\x05\x00\x00\x00",
        b"\x8a\x01\x05",
        b"\x8b\xff\xff\xff\x7f",
        b"cdatetime\ndatetime\n",
        b"cos\nsystem\n",
        b"i",
        b"o",
        b"\x82\x01",
        b"P1\n",
        b"Q",
        b"\x8f",
        b"\x90",
        b"\x91",
        b"\x95\x01\x00\x00\x00\x00\x00\x00\x00",
        b"G\x00\x00\x00\x00\x00\x00\x00\x00",
        b"I01\n",
        b"L12345678901234567890L\n",
        b"S'x'\n",
        b"p3\n",
        b"g3\n",
    ];
    prop_oneof![
        prop::sample::select(fixed).prop_map(|f| f.to_vec()),
        prop::collection::vec(any::<u8>(), 1..4),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_bytes_never_panic_the_pickle_checker(body in prop::collection::vec(any::<u8>(), 0..256)) {
        let mut bytes = vec![0x80, 4];
        bytes.extend(body);
        bytes.push(b'.');
        assert_clean_if_accepted(&bytes);
        assert_clean_if_accepted(&bytes[2..]);
    }

    #[test]
    fn random_opcode_sequences_are_refused_or_clean(frags in prop::collection::vec(fragment(), 0..40)) {
        let mut bytes = vec![0x80, 4];
        bytes.extend(frags.concat());
        bytes.push(b'.');
        assert_clean_if_accepted(&bytes);
    }

    #[test]
    fn random_text_never_panics_the_base64_and_superjson_paths(text in ".{0,200}") {
        let allow = Allowlist::default();
        let _ = pickle::check(&text, &allow);
        let _ = pickle::decode_typed(&text, &allow);
        let _ = superjson_check::check(&text);
        let _ = superjson::firing_args("T", &text);
        let _ = super::detect(&text);
    }

    #[test]
    fn random_superjson_meta_is_refused_or_built_in(
        json in json_value(),
        meta in json_value(),
    ) {
        let text = serde_json::json!({"json": json, "meta": meta, "__dbos_serializer": "superjson"})
            .to_string();
        if let Ok(c) = superjson_check::check(&text) {
            let _ = superjson_check::typed(&c);
            for (path, _) in &c.annotations {
                assert!(!path.iter().any(|s| s == "__proto__" || s == "constructor" || s == "prototype"));
            }
        }
        let _ = superjson::firing_args("T", &text);
    }

    #[test]
    fn hostile_typed_requests_are_refused_or_written(v in pb_value()) {
        if let Ok(t) = Typed::from_pb(&v, "context_typed") {
            let allow = Allowlist::default();
            let text = pickle::encode_typed(&t);
            prop_assert!(pickle::check(&text, &allow).is_ok());
            if let Err(e) = superjson::encode_typed(&t, "context_typed") {
                prop_assert!(e.to_string().starts_with("context_typed"), "{e}");
            }
        }
    }

    #[test]
    fn typed_values_round_trip_through_pickles(v in typed_value()) {
        let allow = Allowlist::default();
        let text = pickle::encode_typed(&v);
        let checked = pickle::check(&text, &allow).expect("dbosd's own pickles pass");
        prop_assert_eq!(pickle_read::typed(&checked), Some(v));
    }

    #[test]
    fn typescript_typed_values_round_trip_through_superjson(v in typed_value()) {
        match superjson::encode_typed(&v, "context_typed") {
            Ok(text) => prop_assert_eq!(superjson::decode_typed(&text), Some(v)),
            Err(e) => prop_assert!(e.to_string().starts_with("context_typed"), "{e}"),
        }
    }
}

/// Request values with hostile fields: any timestamps, offsets, dates, decimal and UUID text.
fn pb_value() -> impl Strategy<Value = crate::pb::TypedValue> {
    use crate::pb::{typed_value::Kind, TypedDate, TypedTimestamp, TypedValue};
    let leaf = prop_oneof![
        (any::<i64>(), any::<i32>(), any::<i32>()).prop_map(|(seconds, nanos, offset)| {
            Kind::TimestampValue(TypedTimestamp {
                time: Some(prost_types::Timestamp { seconds, nanos }),
                utc_offset_seconds: offset,
            })
        }),
        (
            -62_135_596_800i64..253_402_300_799,
            prop_oneof![Just(0), Just(86_399), Just(-86_399), Just(86_400)]
        )
            .prop_map(|(seconds, offset)| Kind::TimestampValue(TypedTimestamp {
                time: Some(prost_types::Timestamp { seconds, nanos: 0 }),
                utc_offset_seconds: offset,
            })),
        (any::<i32>(), any::<i32>(), any::<i32>())
            .prop_map(|(year, month, day)| Kind::DateValue(TypedDate { year, month, day })),
        ".{0,12}".prop_map(Kind::DecimalValue),
        "[-+.0-9eE]{0,12}".prop_map(Kind::DecimalValue),
        ".{0,40}".prop_map(Kind::UuidValue),
        ".{0,8}".prop_map(Kind::StringValue),
        any::<f64>().prop_map(Kind::FloatValue),
    ]
    .prop_map(|k| TypedValue { kind: Some(k) });
    prop_oneof![Just(TypedValue { kind: None }), leaf]
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value as Json;
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<i32>().prop_map(Json::from),
        prop_oneof![
            Just("Date"),
            Just("bigint"),
            Just("number"),
            Just("NaN"),
            Just("set"),
            Just("map"),
            Just("class"),
            Just("custom"),
            Just("typed-array"),
            Just("Uint8Array"),
            Just("Buffer"),
            Just("__proto__"),
            Just("a"),
            Just("a.b"),
            Just("0"),
            Just("1970-01-01T00:00:00.000Z"),
        ]
        .prop_map(Json::from),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("values"),
                    Just("a"),
                    Just("a.b"),
                    Just("0"),
                    Just("__proto__"),
                    Just("referentialEqualities")
                ]
                .prop_map(str::to_owned),
                inner,
                0..3
            )
            .prop_map(|m| Json::Object(m.into_iter().collect())),
        ]
    })
}

fn typed_value() -> impl Strategy<Value = Typed> {
    let leaf = prop_oneof![
        Just(Typed::Null),
        any::<bool>().prop_map(Typed::Bool),
        any::<i64>().prop_map(Typed::Int),
        any::<f64>()
            .prop_filter("NaN never equals itself", |f| !f.is_nan())
            .prop_map(Typed::Float),
        ".{0,8}".prop_map(Typed::Str),
        prop::collection::vec(any::<u8>(), 0..300).prop_map(Typed::Bytes),
        (
            -62_135_596_800_000_000i64..253_402_214_400_000_000i64,
            -86_399i32..86_400
        )
            .prop_filter("local time within years 1-9999", |(m, o)| {
                let local = m + i64::from(*o) * 1_000_000;
                (-62_135_596_800_000_000..253_402_300_799_000_000).contains(&local)
            })
            .prop_map(|(micros, offset_seconds)| Typed::Timestamp {
                micros,
                offset_seconds
            }),
        (-62_135_596_800_000i64..253_402_214_400_000i64).prop_map(|ms| Typed::Timestamp {
            micros: ms * 1000,
            offset_seconds: 0
        }),
        (1i32..=9999, 1u32..=12, 1u32..=28)
            .prop_map(|(y, m, d)| Typed::Date(chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap())),
        "-?[0-9]{1,20}(\\.[0-9]{0,8})?".prop_map(Typed::Decimal),
        any::<u128>().prop_map(|u| Typed::Uuid(uuid::Uuid::from_u128(u))),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Typed::List),
            prop::collection::btree_map("[a-z.]{0,4}", inner, 0..4)
                .prop_map(|m| Typed::Map(m.into_iter().collect())),
        ]
    })
}

/// The corpus lines of `text`: (name, expectation, payload).
fn corpus(text: &str) -> Vec<(&str, &str, String)> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut parts = l.splitn(3, '\t');
            let (name, expect, payload) = (
                parts.next().unwrap(),
                parts.next().unwrap(),
                parts.next().unwrap_or_default(),
            );
            (name, expect, payload.to_owned())
        })
        .collect()
}

fn expect(name: &str, expect: &str, got: Result<(), String>) {
    match (expect, got) {
        ("any", _) | ("accept", Ok(())) => {}
        ("accept", Err(e)) => panic!("{name}: refused: {e}"),
        (refuse, Ok(())) => panic!("{name}: accepted, expected {refuse}"),
        (refuse, Err(e)) => {
            let needle = refuse.strip_prefix("refuse:").expect("refuse:<text>");
            assert!(e.contains(needle), "{name}: {e:?} lacks {needle:?}");
        }
    }
}

/// `x0 = []`, `x(i) = [x(i-1), x(i-1)]` up to `levels`: a few bytes that expand to 2^levels values.
fn sharing(levels: u8) -> String {
    let mut hex = String::from("5d94");
    for i in 1..=levels {
        hex.push_str(&format!("305d28 68{:02x} 68{:02x} 6594", i - 1, i - 1));
    }
    hex
}

#[test]
fn shared_values_are_read_within_a_budget() {
    let hex: String = format!("8004{}2e", sharing(60))
        .split_whitespace()
        .collect();
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let checked = pickle_vm::check(&bytes, &Allowlist::default()).expect("plain shared lists");
    let started = std::time::Instant::now();
    assert_eq!(
        pickle_read::typed(&checked),
        None,
        "2^60 values exceed the read budget"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn the_pickle_corpus_is_refused_or_accepted_as_pinned() {
    let allow = Allowlist::default();
    for (name, expected, hex) in corpus(include_str!("corpus/pickles.txt")) {
        let hex = hex
            .replace("DEEP", &format!("{}{}", "5d".repeat(150), "61".repeat(149)))
            .replace("MARKS", &"28".repeat(2000))
            .replace("SHARING", &sharing(60));
        let hex: String = hex.split_whitespace().collect();
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
            .collect();
        assert_clean_if_accepted(&bytes);
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &bytes);
        // Through every entry point that reads stored or given text.
        let _ = pickle::decode_typed(&b64, &allow);
        let _ = pickle::firing_inputs(0, &b64, &allow);
        expect(
            name,
            expected,
            pickle::check(&b64, &allow).map(|_| ()).map_err(|r| r.0),
        );
    }
}

#[test]
fn the_superjson_corpus_is_refused_or_accepted_as_pinned() {
    for (name, expected, text) in corpus(include_str!("corpus/superjson.txt")) {
        let text = text.replace("DEEP", &format!("{}1{}", "[".repeat(200), "]".repeat(200)));
        let _ = superjson::decode_typed(&text);
        let _ = superjson::firing_args("T", &text);
        expect(
            name,
            expected,
            superjson_check::check(&text).map(|_| ()).map_err(|r| r.0),
        );
    }
}
