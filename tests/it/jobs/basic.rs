//! A bulk job over 5,000 workflows: the dry run counts without starting anything, the job keeps to
//! its rate limit while WatchBulkJob streams its progress, AbortBulkJob stops it between batches
//! (what it reports is exactly what the database holds), and a second job finishes the rest
//! exactly. Bad requests are refused in the caller's terms.

use std::time::{Duration, Instant};

use dbosd::pb::{
    start_bulk_job_request::Operation, AbortBulkJobRequest, BulkJobState, DeleteWorkflowsRequest,
    ListBulkJobsRequest, WatchBulkJobRequest, WorkflowFilter,
};
use tokio_stream::StreamExt;
use tonic::Code;

use super::{cancel_job, count_status, describe, enqueue_many, wait_state};
use crate::harness::WAIT;

#[tokio::test]
async fn a_rate_limited_job_streams_progress_and_stops_at_abort() {
    let srv = super::server().await;
    let mut client = srv.client.clone();
    enqueue_many(&client, "bj-", 5000).await;

    let mut dry = cancel_job("bj-", 0, 0);
    if let Some(Operation::Cancel(op)) = dry.operation.as_mut() {
        op.dry_run = true;
    }
    let counted = client
        .start_bulk_job(dry)
        .await
        .expect("dry run")
        .into_inner();
    assert_eq!(counted.matched_count, 5000);
    assert!(counted.job.is_none(), "a dry run starts nothing");
    let listed = client
        .list_bulk_jobs(ListBulkJobsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(listed.jobs.is_empty(), "{listed:?}");

    // 1,000 workflows a second, in batches of 250.
    let started_at = Instant::now();
    let job = client
        .start_bulk_job(cancel_job("bj-", 1000, 250))
        .await
        .expect("StartBulkJob")
        .into_inner()
        .job
        .expect("job");
    assert_eq!(job.total_count, 5000);
    assert_eq!(job.state(), BulkJobState::Running);
    let id = job.job_id.clone();
    let mut watch = client
        .watch_bulk_job(WatchBulkJobRequest { job_id: id.clone() })
        .await
        .expect("WatchBulkJob")
        .into_inner();
    let mut progress = Vec::new();
    while progress.last().is_none_or(|p| *p < 1500) {
        let event = tokio::time::timeout(WAIT, watch.next())
            .await
            .expect("progress in time");
        let job = event
            .expect("stream open")
            .expect("event")
            .job
            .expect("job");
        assert_eq!(job.state(), BulkJobState::Running, "{job:?}");
        progress.push(job.processed_count);
    }
    let elapsed = started_at.elapsed();
    // An event is a change of the job (a batch, or a replica taking it up): progress never goes back.
    assert!(
        progress.windows(2).all(|w| w[0] <= w[1]),
        "progress only grows: {progress:?}"
    );
    let mut steps = progress.clone();
    steps.dedup();
    assert!(
        steps.len() >= 3,
        "progress shows batch by batch: {progress:?}"
    );
    // The first batch is free; each later one waits its share of the limit.
    let reached = *progress.last().unwrap();
    assert!(
        elapsed >= Duration::from_millis((reached - 250) as u64),
        "{reached} workflows in {elapsed:?} breaks 1000/s"
    );

    let aborted = client
        .abort_bulk_job(AbortBulkJobRequest { job_id: id.clone() })
        .await
        .expect("AbortBulkJob")
        .into_inner()
        .job
        .expect("job");
    assert_eq!(aborted.state(), BulkJobState::Aborted);
    assert!(aborted.finished_at.is_some());
    let at_abort = aborted.processed_count;
    assert!((1500..5000).contains(&at_abort), "{aborted:?}");
    assert_eq!(count_status(&srv.db, "bj-", "CANCELLED").await, at_abort);
    // The stream shows the abort, then ends.
    let last = loop {
        let event = tokio::time::timeout(WAIT, watch.next())
            .await
            .expect("abort shows");
        let job = event
            .expect("stream open")
            .expect("event")
            .job
            .expect("job");
        if job.state() != BulkJobState::Running {
            break job;
        }
    };
    assert_eq!(last.state(), BulkJobState::Aborted);
    assert_eq!(last.processed_count, at_abort);
    let end = tokio::time::timeout(WAIT, watch.next()).await.expect("end");
    assert!(end.is_none(), "the stream ends with the job: {end:?}");
    let again = client
        .abort_bulk_job(AbortBulkJobRequest { job_id: id.clone() })
        .await
        .expect_err("a finished job cannot be aborted");
    assert_eq!(again.code(), Code::FailedPrecondition, "{again:?}");

    // A second, unlimited job selects all 5,000 and changes exactly those the first left.
    let rest = client
        .start_bulk_job(cancel_job("bj-", 0, 1000))
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    let rest = wait_state(&client, &rest.job_id, BulkJobState::Completed).await;
    assert_eq!(rest.processed_count, 5000, "{rest:?}");
    assert_eq!(rest.changed_count, 5000 - at_abort, "{rest:?}");
    assert_eq!(rest.batch_count, 5, "{rest:?}");
    assert_eq!(count_status(&srv.db, "bj-", "CANCELLED").await, 5000);
    assert_eq!(
        describe(&client, &id).await.processed_count,
        at_abort,
        "the aborted job stays stopped"
    );

    let listed = client
        .list_bulk_jobs(ListBulkJobsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<_> = listed.jobs.iter().map(|j| j.job_id.as_str()).collect();
    assert_eq!(ids, [rest.job_id.as_str(), id.as_str()], "newest first");
    let aborted_only = client
        .list_bulk_jobs(ListBulkJobsRequest {
            states: vec![BulkJobState::Aborted as i32],
            page_size: 10,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(aborted_only.jobs.len(), 1);
    assert_eq!(aborted_only.jobs[0].job_id, id);
    srv.stop().await;
}

#[tokio::test]
async fn a_delete_job_removes_every_match_and_bad_requests_say_what_is_wrong() {
    let srv = super::server().await;
    let mut client = srv.client.clone();
    enqueue_many(&client, "del-", 300).await;
    enqueue_many(&client, "keep-", 10).await;
    let delete = |prefix: &str| {
        let mut req = cancel_job(prefix, 0, 100);
        req.operation = Some(Operation::Delete(DeleteWorkflowsRequest {
            filter: Some(WorkflowFilter {
                workflow_id_prefixes: vec![prefix.to_owned()],
                ..Default::default()
            }),
            ..Default::default()
        }));
        req.job_id = Some("delete-job".into());
        req
    };
    let job = client
        .start_bulk_job(delete("del-"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(job.job.unwrap().job_id, "delete-job");
    let done = wait_state(&client, "delete-job", BulkJobState::Completed).await;
    assert_eq!((done.processed_count, done.changed_count), (300, 300));
    assert_eq!(
        srv.db
            .count("SELECT count(*) FROM dbos.workflow_status WHERE workflow_uuid LIKE 'del-%'")
            .await,
        0
    );
    assert_eq!(
        srv.db
            .count("SELECT count(*) FROM dbos.workflow_status WHERE workflow_uuid LIKE 'keep-%'")
            .await,
        10
    );

    let taken = client.start_bulk_job(delete("keep-")).await.unwrap_err();
    assert_eq!(taken.code(), Code::AlreadyExists, "{taken:?}");

    let mut by_ids = cancel_job("x", 0, 0);
    if let Some(Operation::Cancel(op)) = by_ids.operation.as_mut() {
        op.filter = None;
        op.workflow_ids = vec!["keep-00001".into()];
    }
    let mut no_filter = cancel_job("x", 0, 0);
    if let Some(Operation::Cancel(op)) = no_filter.operation.as_mut() {
        op.filter = None;
    }
    let mut empty_filter = cancel_job("x", 0, 0);
    if let Some(Operation::Cancel(op)) = empty_filter.operation.as_mut() {
        op.filter = Some(WorkflowFilter::default());
    }
    let mut no_op = cancel_job("x", 0, 0);
    no_op.operation = None;
    let mut blank_id = cancel_job("x", 0, 0);
    blank_id.job_id = Some(" ".into());
    for (req, needle) in [
        (by_ids, "cancel.workflow_ids"),
        (no_filter, "cancel.filter"),
        (empty_filter, "filter: must set at least one condition"),
        (no_op, "operation"),
        (cancel_job("x", 0, 20_000), "batch_size"),
        (blank_id, "job_id"),
    ] {
        let err = client.start_bulk_job(req).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
        assert!(err.message().contains(needle), "{needle}: {err:?}");
    }
    let unknown = client
        .get_bulk_job(dbosd::pb::GetBulkJobRequest {
            job_id: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!(unknown.message(), "bulk job nope does not exist");
    srv.stop().await;
}

#[tokio::test]
async fn without_dbosds_own_table_jobs_say_to_run_migrate() {
    let srv = super::server().await;
    srv.db
        .client()
        .await
        .batch_execute("DROP SCHEMA dbosd CASCADE")
        .await
        .expect("drop dbosd's schema");
    let mut client = srv.client.clone();
    let err = client
        .start_bulk_job(cancel_job("x-", 0, 0))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("run `dbosd migrate`"), "{err:?}");
    let err = client
        .list_bulk_jobs(ListBulkJobsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    srv.stop().await;
}

#[tokio::test]
async fn a_fork_job_selects_only_what_matched_at_its_start_never_its_own_forks() {
    let srv = super::server().await;
    let mut client = srv.client.clone();
    enqueue_many(&client, "fk-", 40).await;
    // The filter (the workflow name) matches every fork the job makes, too.
    let mut req = cancel_job("fk-", 0, 10);
    req.operation = Some(Operation::Fork(dbosd::pb::ForkWorkflowsRequest {
        filter: Some(WorkflowFilter {
            workflow_names: vec!["bulk_wf".into()],
            ..Default::default()
        }),
        ..Default::default()
    }));
    let job = client.start_bulk_job(req).await.unwrap().into_inner();
    assert_eq!(job.matched_count, 40);
    let done = wait_state(&client, &job.job.unwrap().job_id, BulkJobState::Completed).await;
    assert_eq!(
        (done.processed_count, done.changed_count),
        (40, 40),
        "{done:?}"
    );
    assert_eq!(done.batch_count, 4, "{done:?}");
    let forks = srv
        .db
        .count("SELECT count(*) FROM dbos.workflow_status WHERE forked_from LIKE 'fk-%'")
        .await;
    assert_eq!(forks, 40, "each source forked once, no fork forked");
    srv.stop().await;
}
