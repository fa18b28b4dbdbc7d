//! A scoped token's job touches only workflows inside its scope (the scope is in each batch's SQL),
//! and is invisible to a token of another scope, as an unknown job is; an unrestricted (ops) token
//! sees every job.

use dbosd::pb::{
    AbortBulkJobRequest, BulkJobState, GetBulkJobRequest, ListBulkJobsRequest, WatchBulkJobRequest,
};
use tonic::Code;

use super::cancel_job;
use crate::auth::setup::{client_as, enqueue_as_ops, stored_status, tokens_file, ALPHA, BETA, OPS};

#[tokio::test]
async fn a_scoped_job_changes_only_its_scope_and_only_its_scope_sees_it() {
    let tokens = tokens_file();
    let path = tokens.path().to_owned();
    let srv = super::server_with(|s| s.tokens_file = Some(path)).await;
    for i in 0..5 {
        enqueue_as_ops(&srv, &format!("sj-a-{i}"), "alpha").await;
        enqueue_as_ops(&srv, &format!("sj-b-{i}"), "beta").await;
    }
    let mut alpha = client_as(&srv.channel, ALPHA);
    let mut beta = client_as(&srv.channel, BETA);
    let mut ops = client_as(&srv.channel, OPS);
    // The filter matches both applications; the job is alpha's.
    let started = alpha
        .start_bulk_job(cancel_job("sj-", 0, 2))
        .await
        .expect("alpha starts a job")
        .into_inner();
    assert_eq!(started.matched_count, 5, "only alpha's workflows count");
    let job = started.job.unwrap();
    assert_eq!(job.created_by, "alpha");
    let id = job.job_id.clone();
    eventually_completed(&mut ops, &id).await;
    for i in 0..5 {
        let (a, b) = (format!("sj-a-{i}"), format!("sj-b-{i}"));
        assert_eq!(
            stored_status(&srv.db, &a).await.as_deref(),
            Some("CANCELLED")
        );
        assert_eq!(
            stored_status(&srv.db, &b).await.as_deref(),
            Some("ENQUEUED")
        );
    }
    let seen = alpha
        .get_bulk_job(GetBulkJobRequest { job_id: id.clone() })
        .await
        .expect("its own scope sees the job")
        .into_inner()
        .job
        .unwrap();
    assert_eq!((seen.processed_count, seen.changed_count), (5, 5));

    // Beta: the job is an unknown one, on every call.
    let unknown = beta
        .get_bulk_job(GetBulkJobRequest {
            job_id: "no-such-job".into(),
        })
        .await
        .unwrap_err();
    let foreign = beta
        .get_bulk_job(GetBulkJobRequest { job_id: id.clone() })
        .await
        .unwrap_err();
    assert_eq!(foreign.code(), Code::NotFound);
    assert_eq!(
        foreign.message().replace(&id, "X"),
        unknown.message().replace("no-such-job", "X")
    );
    let watched = beta
        .watch_bulk_job(WatchBulkJobRequest { job_id: id.clone() })
        .await
        .unwrap_err();
    assert_eq!(watched.code(), Code::NotFound);
    let aborted = beta
        .abort_bulk_job(AbortBulkJobRequest { job_id: id.clone() })
        .await
        .unwrap_err();
    assert_eq!(aborted.code(), Code::NotFound);
    let listed = beta
        .list_bulk_jobs(ListBulkJobsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(listed.jobs.is_empty(), "{listed:?}");
    let listed = ops
        .list_bulk_jobs(ListBulkJobsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.jobs.len(), 1, "ops sees every job");

    srv.stop().await;
}

async fn eventually_completed(
    client: &mut crate::auth::setup::Client,
    id: &str,
) -> dbosd::pb::BulkJob {
    crate::harness::eventually(&format!("job {id} to complete"), || {
        let mut client = client.clone();
        async move {
            let job = client
                .get_bulk_job(GetBulkJobRequest {
                    job_id: id.to_owned(),
                })
                .await
                .ok()?
                .into_inner()
                .job?;
            (job.state() == BulkJobState::Completed).then_some(job)
        }
    })
    .await
}
