//! The checked-in corpora of adversarial inputs (`corpus/`) run through the decoders that are not
//! tested beside their code: `WorkflowFilter` conversion (with its size limits), JSON text, and
//! durations and timestamps; plus a property test of whole filters. Each input converts, or is
//! INVALID_ARGUMENT naming its field; none panics. (Page tokens and cron expressions have their
//! corpora in `page_token` and `cron_check`.)

use proptest::prelude::*;
use prost_types::{value::Kind, Duration, Struct, Timestamp, Value};

use crate::api::{
    convert::filter::{
        self, MAX_FILTER_ATTRIBUTES_BYTES, MAX_FILTER_TEXT_BYTES, MAX_FILTER_VALUES,
    },
    convert::json,
    convert::{self, MAX_DURATION_MS},
};
use crate::{error::Error, pb};

fn corpus(text: &str) -> Vec<String> {
    serde_json::from_str(text).expect("a corpus is a JSON array of strings")
}

fn hostile_texts() -> Vec<String> {
    corpus(include_str!("corpus/hostile_texts.json"))
}

/// Ok, or INVALID_ARGUMENT on a field starting with `prefix`.
fn ok_or_invalid<T: std::fmt::Debug>(result: crate::error::Result<T>, prefix: &str) -> bool {
    match result {
        Ok(_) => true,
        Err(Error::InvalidArgument { field, .. }) => field.starts_with(prefix),
        Err(_) => false,
    }
}

/// A filter with `value` in every text list and as an attribute key and value.
fn filter_of(value: &str) -> pb::WorkflowFilter {
    let list = vec![value.to_owned()];
    let attribute = Value {
        kind: Some(Kind::StringValue(value.to_owned())),
    };
    pb::WorkflowFilter {
        workflow_ids: list.clone(),
        workflow_names: list.clone(),
        app_versions: list.clone(),
        forked_from: list.clone(),
        parent_workflow_ids: list.clone(),
        authenticated_users: list.clone(),
        queue_names: list.clone(),
        executor_ids: list.clone(),
        workflow_id_prefixes: list.clone(),
        schedule_names: list.clone(),
        deduplication_ids: list.clone(),
        application_names: list,
        attributes: Some(Struct {
            fields: [(value.to_owned(), attribute)].into_iter().collect(),
        }),
        ..Default::default()
    }
}

#[test]
fn hostile_texts_in_every_filter_field_convert_or_are_invalid() {
    for text in hostile_texts() {
        let result = filter::workflow_filter(&filter_of(&text));
        assert!(ok_or_invalid(result, "filter."), "{text:?}");
        // NUL bytes cannot be stored, so they cannot match: refused, naming the field.
        if text.contains('\0') {
            assert!(filter::workflow_filter(&filter_of(&text)).is_err());
        }
    }
}

#[test]
fn filters_past_their_limits_are_invalid_naming_the_limit() {
    let refused =
        |f: pb::WorkflowFilter, field: &str, limit: usize| match filter::workflow_filter(&f) {
            Err(Error::InvalidArgument { field: f, reason }) => {
                assert_eq!(f, format!("filter.{field}"));
                assert!(reason.contains(&limit.to_string()), "{reason}");
            }
            other => panic!("{field}: {other:?}"),
        };
    let many = vec!["w".to_owned(); MAX_FILTER_VALUES + 1];
    refused(
        pb::WorkflowFilter {
            workflow_ids: many.clone(),
            ..Default::default()
        },
        "workflow_ids",
        MAX_FILTER_VALUES,
    );
    refused(
        pb::WorkflowFilter {
            statuses: vec![1; MAX_FILTER_VALUES + 1],
            ..Default::default()
        },
        "statuses",
        MAX_FILTER_VALUES,
    );
    refused(
        pb::WorkflowFilter {
            workflow_id_prefixes: vec!["p".to_owned(); filter::MAX_FILTER_PREFIXES + 1],
            ..Default::default()
        },
        "workflow_id_prefixes",
        filter::MAX_FILTER_PREFIXES,
    );
    refused(
        pb::WorkflowFilter {
            queue_names: vec!["q".repeat(MAX_FILTER_TEXT_BYTES + 1)],
            ..Default::default()
        },
        "queue_names",
        MAX_FILTER_TEXT_BYTES,
    );
    let big = Value {
        kind: Some(Kind::StringValue("a".repeat(MAX_FILTER_ATTRIBUTES_BYTES))),
    };
    refused(
        pb::WorkflowFilter {
            attributes: Some(Struct {
                fields: [("k".to_owned(), big)].into_iter().collect(),
            }),
            ..Default::default()
        },
        "attributes",
        MAX_FILTER_ATTRIBUTES_BYTES,
    );
    // At the limits themselves, accepted.
    let at_limit = pb::WorkflowFilter {
        workflow_ids: vec!["w".to_owned(); MAX_FILTER_VALUES],
        queue_names: vec!["q".repeat(MAX_FILTER_TEXT_BYTES)],
        ..Default::default()
    };
    assert!(filter::workflow_filter(&at_limit).is_ok());
}

#[test]
fn json_texts_parse_or_are_invalid_and_inputs_follow() {
    for text in corpus(include_str!("corpus/json_texts.json")) {
        let parsed = json::parse_text(&text, "inputs_json");
        assert!(ok_or_invalid(parsed, "inputs_json"), "{text:?}");
        let req = pb::EnqueueWorkflowRequest {
            workflow_name: "wf".into(),
            queue_name: "q".into(),
            inputs_json: text.clone(),
            ..Default::default()
        };
        let converted = convert::new_workflow(&req, None, 1024 * 1024);
        assert!(ok_or_invalid(converted, "inputs_json"), "{text:?}");
    }
}

fn seconds_nanos() -> Vec<(i64, i32)> {
    include_str!("corpus/durations.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (s, n) = l.split_once(' ').expect("`seconds nanos`");
            (s.parse().expect("seconds"), n.parse().expect("nanos"))
        })
        .collect()
}

/// A duration converts to 0..=MAX_DURATION_MS or is invalid; a timestamp converts and round-trips.
fn check_time(seconds: i64, nanos: i32) -> Result<(), TestCaseError> {
    match convert::duration_ms("timeout", &Duration { seconds, nanos }) {
        Ok(ms) => prop_assert!((0..=MAX_DURATION_MS).contains(&ms)),
        Err(e) => prop_assert!(ok_or_invalid::<()>(Err(e), "timeout")),
    }
    match convert::timestamp_ms("deadline", &Timestamp { seconds, nanos }) {
        Ok(ms) => {
            let back = convert::ms_to_timestamp(ms);
            prop_assert_eq!(back.seconds, seconds);
            prop_assert_eq!(back.nanos, nanos / 1_000_000 * 1_000_000);
            // Later arithmetic (a deadline plus a day, in ms) cannot overflow.
            prop_assert!(ms.checked_add(MAX_DURATION_MS).is_some());
        }
        Err(e) => prop_assert!(ok_or_invalid::<()>(Err(e), "deadline")),
    }
    Ok(())
}

#[test]
fn corpus_durations_and_timestamps_convert_within_bounds_or_are_invalid() {
    let cases = seconds_nanos();
    assert!(cases.len() > 20);
    for (seconds, nanos) in cases {
        check_time(seconds, nanos).unwrap_or_else(|e| panic!("{seconds} {nanos}: {e}"));
    }
}

prop_compose! {
    fn any_filter()(
        texts in prop::collection::vec(prop_oneof![any::<String>(), prop::sample::select(hostile_texts())], 0..4),
        statuses in prop::collection::vec(any::<i32>(), 0..3),
        times in prop::collection::vec(proptest::option::of((any::<i64>(), any::<i32>())), 6),
        flags in proptest::option::of(any::<bool>()),
    ) -> pb::WorkflowFilter {
        let t = |i: usize| times[i].map(|(seconds, nanos)| Timestamp { seconds, nanos });
        pb::WorkflowFilter {
            workflow_ids: texts.clone(),
            workflow_names: texts.clone(),
            workflow_id_prefixes: texts.clone(),
            queue_names: texts,
            statuses,
            created_after: t(0),
            created_before: t(1),
            completed_after: t(2),
            completed_before: t(3),
            dequeued_after: t(4),
            dequeued_before: t(5),
            is_fork: flags,
            has_parent: flags,
            ..Default::default()
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn filters_convert_or_are_invalid_naming_a_filter_field(f in any_filter()) {
        prop_assert!(ok_or_invalid(filter::workflow_filter(&f), "filter."));
    }

    #[test]
    fn any_duration_or_timestamp_converts_within_bounds_or_is_invalid(
        seconds in prop_oneof![any::<i64>(), -1_000_000_000_000i64..1_000_000_000_000],
        nanos in any::<i32>(),
    ) {
        check_time(seconds, nanos)?;
    }
}
