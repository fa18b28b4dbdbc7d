//! The export decoder against hostile bytes: a regression corpus (`corpus.txt`: other formats and
//! versions, rows of another workflow, SQL in column names, NUL bytes, over-limit values and row
//! counts, deep nesting) each refused with INVALID_ARGUMENT saying why, and property tests with a
//! fixed case budget: random text never panics the decoder and is refused as INVALID_ARGUMENT or
//! accepted only within the limits, and every document dbosd encodes decodes back unchanged (after
//! a rename too).

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;

const LIMITS: Limits = Limits {
    max_bytes: 64 * 1024,
    max_workflows: 3,
    max_rows: 4,
    max_value_bytes: 64,
};

fn assert_refused(text: &str, needle: &str) {
    match Document::decode(text, &LIMITS) {
        Err(Error::InvalidArgument { field, reason }) => {
            assert_eq!(field, "document");
            assert!(reason.contains(needle), "{reason:?} should say {needle:?}");
        }
        other => panic!("{text:?} should be refused ({needle}), got {other:?}"),
    }
}

#[test]
fn the_corpus_is_refused_each_for_its_reason() {
    let corpus = include_str!("corpus.txt");
    let mut cases = 0;
    for line in corpus.lines().filter(|l| !l.starts_with('#')) {
        let (needle, text) = line.split_once('\t').expect("reason<TAB>document");
        assert_refused(text, needle);
        cases += 1;
    }
    assert!(cases > 25);
    assert_refused(&" ".repeat(LIMITS.max_bytes + 1), "bytes; at most");
}

fn row(pairs: Value) -> Row {
    pairs.as_object().cloned().unwrap()
}

fn sample() -> Document {
    let parent = WorkflowRows {
        workflow_id: "order-1".into(),
        tables: [
            ("workflow_status".to_owned(), vec![row(json!({"workflow_uuid": "order-1", "status": "ERROR", "deduplication_id": "d", "created_at": 9_007_199_254_740_993_i64}))]),
            ("operation_outputs".to_owned(), vec![row(json!({"workflow_uuid": "order-1", "function_id": 1, "child_workflow_id": "order-1-1", "output": "\"x\""}))]),
        ]
        .into(),
    };
    let child = WorkflowRows {
        workflow_id: "order-1-1".into(),
        tables: [
            ("workflow_status".to_owned(), vec![row(json!({"workflow_uuid": "order-1-1", "status": "SUCCESS", "parent_workflow_id": "order-1"}))]),
            ("notifications".to_owned(), vec![row(json!({"destination_uuid": "order-1-1", "message_uuid": "k::order-1-1", "message": "1"}))]),
        ]
        .into(),
    };
    Document::new(vec![parent, child], 1, Some(125))
}

#[test]
fn an_encoded_document_decodes_unchanged_and_renames_every_reference() {
    let doc = sample();
    let back = Document::decode(&doc.encode(), &LIMITS).expect("decodes");
    assert_eq!(back, doc);
    // Big integers stay exact (no float in between).
    assert!(doc.encode().contains("9007199254740993"));

    let mut renamed = doc.clone();
    renamed.rename("copy");
    assert_eq!(renamed.workflow_id, "copy");
    let ids: Vec<&str> = renamed
        .workflows
        .iter()
        .map(|w| w.workflow_id.as_str())
        .collect();
    assert_eq!(ids, ["copy", "copy-1"]);
    let parent = &renamed.workflows[0].tables;
    assert_eq!(parent["workflow_status"][0]["workflow_uuid"], "copy");
    assert_eq!(
        parent["workflow_status"][0]["deduplication_id"],
        Value::Null
    );
    assert_eq!(
        parent["operation_outputs"][0]["child_workflow_id"],
        "copy-1"
    );
    let child = &renamed.workflows[1].tables;
    assert_eq!(child["workflow_status"][0]["parent_workflow_id"], "copy");
    assert_eq!(child["notifications"][0]["destination_uuid"], "copy-1");
    assert_ne!(child["notifications"][0]["message_uuid"], "k::order-1-1");
    Document::decode(&renamed.encode(), &LIMITS).expect("a renamed document is valid");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_text_is_refused_cleanly_or_within_limits(text in "\\PC{0,300}") {
        match Document::decode(&text, &LIMITS) {
            Ok(doc) => prop_assert!(doc.workflows.len() <= LIMITS.max_workflows),
            Err(Error::InvalidArgument { field, .. }) => prop_assert_eq!(field, "document"),
            Err(other) => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    #[test]
    fn a_mutated_document_never_panics_the_decoder(cut in 0usize..2000, byte in any::<u8>()) {
        let mut bytes = sample().encode().into_bytes();
        let at = cut % bytes.len();
        bytes[at] = byte;
        if let Ok(text) = std::str::from_utf8(&bytes) {
            if let Ok(doc) = Document::decode(text, &LIMITS) {
                // Whatever is accepted still names its own workflows only.
                for wf in &doc.workflows {
                    prop_assert_eq!(wf.status_text("workflow_uuid"), Some(wf.workflow_id.as_str()));
                }
            }
        }
    }

    #[test]
    fn any_payload_text_round_trips_exactly(payload in "\\PC{0,16}", id in "[a-z][a-z0-9-]{0,20}") {
        let wf = WorkflowRows {
            workflow_id: id.clone(),
            tables: [("workflow_status".to_owned(), vec![row(json!({"workflow_uuid": id, "status": "SUCCESS", "output": payload}))])].into(),
        };
        let doc = Document::new(vec![wf], 0, None);
        let back = Document::decode(&doc.encode(), &LIMITS).expect("decodes");
        prop_assert_eq!(back, doc);
    }
}
