//! Property tests over request conversion and the JSON payload path with hostile input: arbitrary
//! text (NUL bytes, quotes, SQL fragments, any Unicode), any number (NaN, infinities), nesting past
//! the depth limit and out-of-range durations. Conversion never panics, and every rejection is
//! INVALID_ARGUMENT naming a field.

use proptest::prelude::*;
use prost_types::{value::Kind, Duration, ListValue, Struct, Timestamp, Value};

use crate::api::{convert, convert::json};
use crate::{error::Error, pb};

/// Text that mixes the hostile with the ordinary.
fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        Just(String::new()),
        Just("  ".to_owned()),
        Just("a\0b".to_owned()),
        Just("'; DROP TABLE dbos.workflow_status; --".to_owned()),
        Just("\"quoted\" 'single' \\back\\".to_owned()),
        Just("_dbos_internal_queue".to_owned()),
        "[a-z_]{1,8}",
        // JSON-looking text: valid, truncated or nested.
        "[\\[\\]{}\":,0-9a-z ]{0,40}",
    ]
}

fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(1e300),
        Just(9_007_199_254_740_993.0),
    ]
}

/// Protobuf Values, nested up to a few levels (depth beyond the limit is covered separately).
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Kind::NullValue(0)),
        any::<bool>().prop_map(Kind::BoolValue),
        number().prop_map(Kind::NumberValue),
        hostile_text().prop_map(Kind::StringValue),
    ]
    .prop_map(|k| Value { kind: Some(k) });
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4)
                .prop_map(|values| Kind::ListValue(ListValue { values })),
            prop::collection::btree_map(hostile_text(), inner, 0..4).prop_map(|m| {
                Kind::StructValue(Struct {
                    fields: m.into_iter().collect(),
                })
            }),
        ]
        .prop_map(|k| Value { kind: Some(k) })
    })
}

/// A Value nested `levels` deep in lists.
fn nested(levels: usize) -> Value {
    (0..levels).fold(Value { kind: None }, |v, _| Value {
        kind: Some(Kind::ListValue(ListValue { values: vec![v] })),
    })
}

fn duration() -> impl Strategy<Value = Option<Duration>> {
    proptest::option::of(
        (any::<i64>(), any::<i32>()).prop_map(|(seconds, nanos)| Duration { seconds, nanos }),
    )
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(hostile_text())
}

prop_compose! {
    fn enqueue_request()(
        names in (hostile_text(), hostile_text(), hostile_text()),
        ids in (opt_text(), opt_text(), opt_text(), opt_text()),
        classes in (opt_text(), opt_text(), opt_text(), opt_text()),
        args in (prop::collection::vec(value(), 0..3), proptest::option::of(value())),
        numbers in (any::<i32>(), proptest::option::of(any::<i32>())),
        times in (duration(), duration(), proptest::option::of((any::<i64>(), any::<i32>()))),
        roles in prop::collection::vec(hostile_text(), 0..3),
        attributes in proptest::option::of(value()),
    ) -> pb::EnqueueWorkflowRequest {
        let as_struct = |v: Option<Value>| match v.and_then(|v| v.kind) {
            Some(Kind::StructValue(s)) => Some(s),
            _ => None,
        };
        pb::EnqueueWorkflowRequest {
            workflow_name: names.0,
            queue_name: names.1,
            inputs_json: names.2,
            positional_args: args.0,
            named_args: as_struct(args.1),
            workflow_id: ids.0,
            app_version: ids.1,
            deduplication_id: ids.2,
            queue_partition_key: ids.3,
            class_name: classes.0,
            config_name: classes.1,
            authenticated_user: classes.2,
            application_name: classes.3,
            deduplication_policy: numbers.0,
            priority: numbers.1,
            timeout: times.0,
            delay: times.1,
            deadline: times.2.map(|(seconds, nanos)| Timestamp { seconds, nanos }),
            authenticated_roles: roles,
            attributes: as_struct(attributes),
            ..Default::default()
        }
    }
}

/// Ok, or INVALID_ARGUMENT: nothing else may come out of validation.
fn valid_or_invalid<T: std::fmt::Debug>(
    result: crate::error::Result<T>,
) -> Result<(), TestCaseError> {
    match result {
        Ok(_) | Err(Error::InvalidArgument { .. }) => Ok(()),
        Err(other) => Err(TestCaseError::fail(format!(
            "not INVALID_ARGUMENT: {other:?}"
        ))),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn enqueue_requests_convert_or_are_invalid(req in enqueue_request()) {
        valid_or_invalid(convert::new_workflow(&req, Some("app"), usize::MAX))?;
    }

    #[test]
    fn messages_convert_or_are_invalid(
        destination in hostile_text(),
        topic in opt_text(),
        message in proptest::option::of(value()),
        message_json in hostile_text(),
        key in opt_text(),
    ) {
        let req = pb::SendMessageRequest {
            destination_id: destination,
            topic,
            message,
            message_json,
            idempotency_key: key,
            send_to_forks: false,
        };
        valid_or_invalid(convert::new_message(&req, usize::MAX))?;
    }

    #[test]
    fn json_text_parses_or_is_invalid(text in hostile_text()) {
        valid_or_invalid(json::parse_text(&text, "f"))?;
    }

    #[test]
    fn values_convert_and_valid_ones_round_trip(v in value()) {
        match json::to_json(&v, "f") {
            // Stored text parses back to the same JSON.
            Ok(j) => prop_assert_eq!(json::parse_text(&j.to_string(), "f").unwrap(), j),
            Err(e) => valid_or_invalid::<()>(Err(e))?,
        }
    }
}

#[test]
fn nesting_past_the_limit_is_invalid_not_a_stack_overflow() {
    for levels in [json::MAX_DEPTH, json::MAX_DEPTH + 2, 10_000] {
        let result = json::to_json(&nested(levels), "message");
        assert_eq!(result.is_ok(), levels <= json::MAX_DEPTH, "{levels}");
        let text = "[".repeat(levels) + &"]".repeat(levels);
        let result = json::parse_text(&text, "message_json");
        assert!(matches!(result, Err(Error::InvalidArgument { .. })) || levels <= json::MAX_DEPTH);
    }
}
