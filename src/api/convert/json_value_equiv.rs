//! The one-pass decoder (`json_value`) against the path it replaced (parse into `serde_json::Value`,
//! measure its depth, convert, measure the encoded size): the same `google.protobuf.Value`, byte for
//! byte, and the same rejections, on arbitrary and hostile JSON text.

use proptest::prelude::*;
use prost::Message;
use prost_types::Value;
use serde_json::Value as Json;

use crate::api::convert::json::{depth, from_json};
use crate::api::convert::json_value::{decode, decode_sized, Limits};

/// What a payload's `json` was before the one-pass decoder.
fn reference(text: &str, limits: Limits) -> Option<Value> {
    serde_json::from_str::<Json>(text)
        .ok()
        .filter(|j| depth(j) <= limits.depth)
        .map(|j| from_json(&j))
        .filter(|v| v.encoded_len() <= limits.bytes)
}

/// Both paths' results, encoded (so `-0` and `0` differ, as they do on the wire).
fn both(text: &str, limits: Limits) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    (
        decode(text, limits).map(|v| v.encode_to_vec()),
        reference(text, limits).map(|v| v.encode_to_vec()),
    )
}

const LIMITS: Limits = Limits {
    depth: 40,
    bytes: 1024 * 1024,
};

fn number_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:e}")),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| serde_json::to_string(&f).unwrap()),
        "-?(0|[1-9][0-9]{0,30})(\\.[0-9]{1,20})?([eE][+-]?[0-9]{1,3})?",
        prop::sample::select(vec![
            "-0",
            "-0.0",
            "0e5",
            "1e400",
            "-1e400",
            "1e-400",
            "5e-324",
            "0.1",
            "12345678901234567890123",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "-9223372036854775809",
            "9007199254740993",
        ])
        .prop_map(str::to_owned),
    ]
}

fn string_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap()),
        prop::sample::select(vec![
            r#""""#,
            r#""\u00e9t\u00E9""#,
            r#""\ud83d\ude00""#,
            r#""\ud800""#,
            r#""\udc00x""#,
            r#""a\"b\\c\n\t\/""#,
            "\"raw \u{1F600} é\"",
            r#""\u0000""#,
        ])
        .prop_map(str::to_owned),
    ]
}

/// Keys from a small set, so objects often repeat one; serde_json's private tokens among them.
fn key_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec!["\"a\"", "\"b\"", "\"\"", "\"\\u0061\""]).prop_map(str::to_owned),
        1 => prop::sample::select(vec![
            "\"$serde_json::private::Number\"",
            "\"$serde_json::private::RawValue\"",
        ])
        .prop_map(str::to_owned),
        1 => string_text(),
    ]
}

/// `inner` nested `levels` deep in arrays or single-member objects.
fn nest(inner: String, levels: usize, objects: bool) -> String {
    let (open, close) = if objects {
        ("{\"a\":", "}")
    } else {
        ("[", "]")
    };
    open.repeat(levels) + &inner + &close.repeat(levels)
}

/// JSON text, mostly valid: scalars, containers, deep nests around the depth limit, duplicate keys
/// and serde_json's private tokens, with whitespace.
fn json_text() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        prop::sample::select(vec![
            "null",
            "true",
            "false",
            " 1 ",
            "[]",
            "{}",
            // Private-token objects serde_json refuses.
            r#"{"$serde_json::private::Number":"abc"}"#,
            r#"{"$serde_json::private::Number":"1","b":2}"#,
            r#"{"$serde_json::private::Number":1}"#,
            r#"{"$serde_json::private::RawValue":"[1,"}"#,
            r#"{"$serde_json::private::RawValue":"[1] x"}"#,
        ])
        .prop_map(str::to_owned),
        number_text(),
        string_text(),
        number_text().prop_map(|n| format!(
            "{{\"$serde_json::private::Number\":{}}}",
            serde_json::to_string(&n).unwrap()
        )),
    ];
    leaf.prop_recursive(5, 48, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5)
                .prop_map(|items| format!("[{}]", items.join(","))),
            prop::collection::vec((key_text(), inner.clone()), 0..5).prop_map(|members| {
                let members: Vec<String> = members
                    .into_iter()
                    .map(|(k, v)| format!("{k} : {v}"))
                    .collect();
                format!("{{{}}}", members.join(","))
            }),
            (inner.clone(), 30usize..45, any::<bool>()).prop_map(|(v, n, o)| nest(v, n, o)),
            // Around serde_json's own recursion limit (128), under a key a duplicate may replace.
            (inner.clone(), 120usize..135, any::<bool>())
                .prop_map(|(v, n, o)| format!("{{\"a\":{},\"a\":1}}", nest(v, n, o))),
            inner.clone().prop_map(|v| format!(
                "{{\"$serde_json::private::RawValue\":{}}}",
                serde_json::to_string(&v).unwrap()
            )),
        ]
    })
}

/// Valid JSON text, sometimes damaged: cut short, or with a character put in.
fn maybe_damaged() -> impl Strategy<Value = String> {
    (
        json_text(),
        0usize..8,
        any::<prop::sample::Index>(),
        any::<char>(),
    )
        .prop_map(|(text, how, at, ch)| {
            let mut at = at.index(text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            match how {
                0 => text[..at].to_owned(),
                1 => format!("{}{ch}{}", &text[..at], &text[at..]),
                _ => text,
            }
        })
}

fn limits() -> impl Strategy<Value = Limits> {
    prop_oneof![
        Just(LIMITS),
        (0usize..6, 0usize..400).prop_map(|(depth, bytes)| Limits { depth, bytes }),
        (0usize..45).prop_map(|depth| Limits {
            depth,
            bytes: usize::MAX
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn decodes_as_the_old_path_did(text in maybe_damaged(), limits in limits()) {
        let (new, old) = both(&text, limits);
        prop_assert_eq!(new, old, "text {:?} limits {:?}", text, limits);
    }

    #[test]
    fn keeps_the_encoded_length_exactly(text in json_text()) {
        if let Ok(Some(node)) = decode_sized(&text, 0, Limits { depth: 40, bytes: usize::MAX }) {
            prop_assert_eq!(node.len, node.value.encoded_len(), "text {:?}", text);
        }
    }

    #[test]
    fn arbitrary_text_decodes_as_the_old_path_did(text in any::<String>()) {
        let (new, old) = both(&text, LIMITS);
        prop_assert_eq!(new, old);
    }
}

fn number(text: &str) -> f64 {
    match decode(text, LIMITS).and_then(|v| v.kind) {
        Some(prost_types::value::Kind::NumberValue(n)) => n,
        other => panic!("{text}: {other:?}"),
    }
}

#[test]
fn numbers_are_the_nearest_double_of_their_digits() {
    assert_eq!(number("12345678901234567890123"), 1.2345678901234568e22);
    assert_eq!(number("0.1"), 0.1);
    assert!(number("-0").is_sign_negative());
    assert!(!number("0").is_sign_negative());
    assert_eq!(number("1e400"), f64::INFINITY);
    assert_eq!(number("{\"$serde_json::private::Number\":\"7\"}"), 7.0);
}

#[test]
fn the_depth_limit_counts_what_the_value_keeps() {
    let deep = |n: usize| nest("1".into(), n, false);
    assert!(decode(&deep(40), LIMITS).is_some());
    assert!(decode(&deep(41), LIMITS).is_none());
    assert!(decode(&nest("{}".into(), 40, true), LIMITS).is_none());
    assert!(decode(&nest("[]".into(), 39, false), LIMITS).is_some());
    // A too-deep member replaced by a later duplicate is not part of the value.
    let replaced = format!("{{\"a\":{},\"a\":1}}", deep(45));
    assert!(decode(&replaced, LIMITS).is_some());
    let kept = format!("{{\"a\":1,\"a\":{}}}", deep(45));
    assert!(decode(&kept, LIMITS).is_none());
    // Past serde_json's own recursion limit the text is not read at all.
    assert!(decode(&format!("{{\"a\":{},\"a\":1}}", deep(200)), LIMITS).is_none());
}

#[test]
fn the_size_limit_counts_the_encoded_value() {
    let text = format!("[{}]", vec!["1"; 1000].join(","));
    let len = decode(&text, LIMITS).unwrap().encoded_len();
    let at = |bytes| decode(&text, Limits { depth: 40, bytes });
    assert!(at(len).is_some());
    assert!(at(len - 1).is_none());
    let big = format!("{{\"a\":{text},\"a\":null}}");
    assert!(decode(
        &big,
        Limits {
            depth: 40,
            bytes: 20
        }
    )
    .is_some());
}

#[test]
fn duplicate_keys_keep_the_last_value_and_escapes_decode() {
    let v = decode(r#"{"k":1,"k":"\u00e9\ud83d\ude00"}"#, LIMITS).unwrap();
    let Some(prost_types::value::Kind::StructValue(s)) = v.kind else {
        panic!("{v:?}")
    };
    assert_eq!(s.fields.len(), 1);
    assert_eq!(
        s.fields["k"].kind,
        Some(prost_types::value::Kind::StringValue("é😀".into()))
    );
    assert!(decode(r#""\ud800""#, LIMITS).is_none());
}
