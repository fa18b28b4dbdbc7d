//! A schema the repository did not expect (a column of another type) answers INTERNAL with the
//! generic message, through the row-reading helper (`repo::db::row`), never a panic.

use dbosd::pb;
use tonic::Code;

use crate::harness::{enqueue_req, telemetry_sample, TestServer};

#[tokio::test]
async fn a_column_of_an_unexpected_type_answers_internal_without_a_panic() {
    let mut srv = TestServer::start().await;
    let mut req = enqueue_req("wait_recv", "test_queue", vec![]);
    req.workflow_id = Some("surprise".into());
    srv.client.enqueue_workflow(req).await.unwrap();
    let db = srv.db.client().await;
    db.batch_execute(
        "INSERT INTO dbos.workflow_events (workflow_uuid, key, value, serialization)
             VALUES ('surprise', 'k', '1', 'portable_json');
         ALTER TABLE dbos.workflow_events ALTER COLUMN serialization TYPE integer USING NULL;",
    )
    .await
    .unwrap();
    let panics = |scrape: &str| telemetry_sample(scrape, "dbosd_panics_total").unwrap_or(0.0);
    let before = panics(&srv.scrape().await);

    let status = srv
        .client
        .get_event(pb::GetEventRequest {
            workflow_id: "surprise".into(),
            key: "k".into(),
            timeout: None,
        })
        .await
        .expect_err("the row cannot be read");
    assert_eq!(status.code(), Code::Internal, "{status:?}");
    assert!(
        status.message().starts_with(dbosd::error::INTERNAL_MESSAGE),
        "{status:?}"
    );
    assert_eq!(
        panics(&srv.scrape().await),
        before,
        "answered without a panic"
    );
    srv.stop().await;
}
