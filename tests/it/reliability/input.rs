//! Hostile values through the whole path (gRPC → SQL → gRPC): quotes, SQL fragments, Unicode, 1 MB
//! values and JSON nested deep in every text field come back exactly (JSON too deep for a protobuf
//! Value as text only); NUL bytes in text fields and nesting past the limits are rejected with
//! INVALID_ARGUMENT naming the field.

use dbosd::pb;
use serde_json::{json, Value as Json};
use tonic::Code;

use crate::harness::{assert_status, enqueue_req, get_workflow, payload_json, pv, TestServer};

const HOSTILE: &[&str] = &[
    "'; DROP TABLE dbos.workflow_status; --",
    "\"double\" 'single' `back` \\slash\\ $1 %s ?",
    "Robert'); DELETE FROM dbos.notifications WHERE ('1'='1",
    "ünï©ødé ✓ 🚀 \u{202e}rtl",
];

/// JSON nested `levels` deep in arrays around `inner`.
fn nested(levels: usize, inner: Json) -> Json {
    (0..levels).fold(inner, |v, _| json!([v]))
}

#[tokio::test]
async fn hostile_text_is_stored_and_read_back_exactly() {
    let mut srv = TestServer::start().await;
    // About 1 MB of quotes as stored (escaped), just within --max-payload-bytes.
    let megabyte = "x'\"".repeat(250_000);
    for (n, text) in HOSTILE.iter().enumerate() {
        // Every user text field of a workflow at once (ids and names included).
        let id = format!("{text}-{n}");
        let args = vec![
            json!(text),
            json!(megabyte),
            nested(120, json!(text)),
            json!({ *text: [text, "\u{0}inside JSON is fine"] }),
        ];
        let mut req = enqueue_req(text, &format!("q {text}"), vec![]);
        req.inputs_json = Json::Array(args.clone()).to_string();
        req.workflow_id = Some(id.clone());
        req.app_version = Some(text.to_string());
        req.deduplication_id = Some(text.to_string());
        req.class_name = Some(text.to_string());
        req.config_name = Some(text.to_string());
        req.authenticated_user = Some(text.to_string());
        req.authenticated_roles = vec![text.to_string(), "x".into()];
        req.assumed_role = Some(text.to_string());
        req.application_name = Some(text.to_string());
        req.attributes = Some(prost_types::Struct {
            fields: [(text.to_string(), pv(json!([text, "{\"not\": json"])))]
                .into_iter()
                .collect(),
        });
        let resp = srv.client.enqueue_workflow(req).await.expect("stored");
        assert_eq!(resp.into_inner().workflow_id, id);
        let wf = get_workflow(&mut srv.client, &id).await;
        let fields = [
            &wf.workflow_name,
            &wf.app_version,
            &wf.deduplication_id,
            &wf.class_name,
            &wf.config_name,
            &wf.authenticated_user,
            &wf.assumed_role,
            &wf.application_name,
        ];
        assert!(
            fields.iter().all(|f| f.as_str() == *text),
            "{text}: {fields:?}"
        );
        assert_eq!(wf.queue_name, format!("q {text}"));
        assert_eq!(wf.authenticated_roles, [text.to_string(), "x".into()]);
        assert_eq!(payload_json(&wf.input)["positionalArgs"], Json::Array(args));
        // 120 levels is past what a protobuf Value can carry to clients: text only.
        assert!(wf.input.as_ref().unwrap().json.is_none());
        let attributes = wf.attributes.expect("attributes");
        assert_eq!(
            attributes.fields[*text],
            pv(json!([text, "{\"not\": json"]))
        );

        // Messages: topic, body and idempotency key.
        let send = pb::SendMessageRequest {
            destination_id: id.clone(),
            topic: Some(text.to_string()),
            message_json: json!([text, megabyte]).to_string(),
            idempotency_key: Some(text.to_string()),
            ..Default::default()
        };
        let sent = srv
            .client
            .send_message(send)
            .await
            .expect("sent")
            .into_inner();
        assert_eq!(sent.message_id, format!("{text}::{id}"));
        let db = srv.db.client().await;
        let row = db
            .query_one(
                "SELECT topic, message FROM dbos.notifications WHERE destination_uuid = $1",
                &[&id],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<_, String>(0), *text);
        let body: String = row.get(1);
        assert_eq!(
            serde_json::from_str::<Json>(&body).unwrap(),
            json!([text, megabyte])
        );
    }
    srv.stop().await;
}

/// A change that makes an EnqueueWorkflow request malformed.
type Tweak = Box<dyn Fn(&mut pb::EnqueueWorkflowRequest)>;

#[tokio::test]
async fn nul_bytes_and_excess_nesting_are_rejected_clearly() {
    let mut srv = TestServer::start().await;
    let cases: Vec<(&str, Tweak)> = vec![
        (
            "workflow_id",
            Box::new(|r| r.workflow_id = Some("a\0b".into())),
        ),
        (
            "workflow_name",
            Box::new(|r| r.workflow_name = "a\0b".into()),
        ),
        ("queue_name", Box::new(|r| r.queue_name = "a\0b".into())),
        (
            "app_version",
            Box::new(|r| r.app_version = Some("\0".into())),
        ),
        (
            "deduplication_id",
            Box::new(|r| r.deduplication_id = Some("d\0".into())),
        ),
        (
            "class_name",
            Box::new(|r| r.class_name = Some("c\0".into())),
        ),
        (
            "inputs_json",
            Box::new(|r| r.inputs_json = nested(200, json!(1)).to_string()),
        ),
        (
            "positional_args",
            Box::new(|r| r.positional_args = vec![pv(nested(200, json!(1)))]),
        ),
    ];
    for (field, tweak) in cases {
        let mut req = enqueue_req("echo", "q", vec![json!(1)]);
        tweak(&mut req);
        assert_status(
            srv.client.enqueue_workflow(req).await,
            Code::InvalidArgument,
            field,
        );
    }
    let send = pb::SendMessageRequest {
        destination_id: "d".into(),
        topic: Some("t\0".into()),
        message_json: "1".into(),
        ..Default::default()
    };
    assert_status(
        srv.client.send_message(send).await,
        Code::InvalidArgument,
        "topic",
    );
    let count = srv
        .db
        .count("SELECT count(*) FROM dbos.workflow_status")
        .await;
    assert_eq!(count, 0, "nothing rejected was stored");
    srv.stop().await;
}
