//! The bulk-job runner of one database: a self-contained task ([`spawn`]) that takes RUNNING jobs
//! whose lease is free (or ran out), applies their batches one transaction at a time at their rate
//! limit, and gives its job back when it stops. Several replicas each run one; the lease in the
//! job's row (`repo::jobs::run`) makes exactly one of them run a job at a time, and each batch
//! checks it under the row's lock, so a workflow is processed once even across takeovers.
//!
//! A batch that fails for a passing reason (database away, deadlock, timeout) is retried with
//! backoff: its transaction rolled back, nothing of it was applied. Any other error fails the job
//! with the error's message.

use std::time::Duration;

use tokio::{task::JoinHandle, time::Instant};
use tokio_util::sync::CancellationToken;

use crate::api::jobs::convert;
use crate::{
    backoff::Backoff,
    error::Error,
    model::job::{BatchOutcome, JobRow},
    repo::{jobs::run::BatchPlan, Repo},
};

/// How a replica runs jobs.
#[derive(Debug, Clone)]
pub struct RunnerSettings {
    /// How long a job stays this replica's after its last batch; another replica takes it over
    /// once it has passed (a killed replica's jobs resume after at most this).
    pub lease: Duration,
    /// The replica's `--application-name`: owner of forks of unclaimed workflows.
    pub default_app: Option<String>,
}

/// How often an idle runner looks for a job: a fraction of the lease, at most a second.
fn idle_poll(lease: Duration) -> Duration {
    (lease / 4).clamp(Duration::from_millis(50), Duration::from_secs(1))
}

/// A random part of `poll` to wait before the first claim: the runners of a fleet's databases,
/// opened together, then do not all reach for a connection at once, nor at the same moment as
/// their database's metrics refresher, whose read at open would otherwise open a second pooled
/// connection on every quiet database.
fn start_delay(poll: Duration) -> Duration {
    let thousandths = (uuid::Uuid::new_v4().as_u128() % 1000) as u32;
    poll * thousandths / 1000
}

/// Starts the runner of `repo`'s database; it stops (giving back its job) when `stop` is cancelled.
pub fn spawn(repo: Repo, settings: RunnerSettings, stop: CancellationToken) -> JoinHandle<()> {
    let runner_id = format!(
        "dbosd-{}-{}",
        std::process::id(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    tokio::spawn(async move {
        tracing::info!(%runner_id, "bulk-job runner started");
        let runner = Runner {
            repo,
            settings,
            stop,
            runner_id,
        };
        runner.run().await;
    })
}

struct Runner {
    repo: Repo,
    settings: RunnerSettings,
    stop: CancellationToken,
    runner_id: String,
}

impl Runner {
    fn lease_ms(&self) -> i64 {
        self.settings.lease.as_millis().min(i64::MAX as u128) as i64
    }

    async fn run(&self) {
        let poll = idle_poll(self.settings.lease);
        let mut backoff = Backoff::new(poll, Duration::from_secs(30));
        let mut ready = false;
        self.pause(start_delay(poll)).await;
        while !self.stop.is_cancelled() {
            // The table appears when `dbosd migrate` runs; until then there is nothing to run.
            if !ready {
                ready = self.repo.jobs_ready().await.is_ok();
                if !ready {
                    self.pause(backoff.pause()).await;
                    continue;
                }
            }
            match self.repo.claim_job(&self.runner_id, self.lease_ms()).await {
                Ok(Some(job)) => {
                    backoff = Backoff::new(poll, Duration::from_secs(30));
                    self.run_job(job).await;
                }
                Ok(None) => self.pause(poll).await,
                Err(e) => {
                    tracing::warn!(error = %e, "looking for bulk jobs failed; retrying");
                    ready = false;
                    self.pause(backoff.pause()).await;
                }
            }
        }
    }

    /// Sleeps `d`, or until stopped.
    async fn pause(&self, d: Duration) {
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = self.stop.cancelled() => {}
        }
    }

    /// Runs `job`'s batches until it is done, stopped elsewhere, or this replica stops.
    async fn run_job(&self, job: JobRow) {
        let id = job.job_id.as_str();
        tracing::info!(job_id = %id, processed = job.processed_count, "running bulk job");
        let plan = convert::stored(&job.request)
            .and_then(|op| convert::plan(&op, self.settings.default_app.as_deref()));
        let plan = match plan {
            Ok(plan) => plan,
            Err(e) => return self.fail(id, &e).await,
        };
        let limit = batch_limit(job.batch_size, job.rows_per_second);
        let batch = BatchPlan {
            job_id: id,
            runner_id: &self.runner_id,
            lease_ms: self.lease_ms(),
            filter: &plan.filter,
            action: &plan.action,
            scope: &job.scope,
            limit,
        };
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        loop {
            if self.stop.is_cancelled() {
                if let Err(e) = self.repo.release_job(id, &self.runner_id).await {
                    tracing::warn!(job_id = %id, error = %e, "giving back a bulk job failed; its lease will run out");
                }
                return;
            }
            let started = Instant::now();
            match self.repo.run_batch(&batch).await {
                Ok(BatchOutcome::Applied {
                    processed, done, ..
                }) => {
                    if done {
                        tracing::info!(job_id = %id, "bulk job completed");
                        return;
                    }
                    if job.rows_per_second > 0 {
                        let spend = Duration::from_secs_f64(
                            processed as f64 / f64::from(job.rows_per_second),
                        );
                        let next = started + spend;
                        tokio::select! {
                            _ = tokio::time::sleep_until(next) => {}
                            _ = self.stop.cancelled() => {}
                        }
                    }
                }
                Ok(BatchOutcome::Stopped) => {
                    tracing::info!(job_id = %id, "bulk job stopped (aborted, or taken over by another replica)");
                    return;
                }
                Err(e) if passing(&e) => {
                    tracing::warn!(job_id = %id, error = %e, "bulk job batch failed; retrying");
                    self.pause(backoff.pause()).await;
                }
                Err(e) => return self.fail(id, &e).await,
            }
        }
    }

    async fn fail(&self, job_id: &str, error: &Error) {
        tracing::warn!(%job_id, %error, "bulk job failed");
        if let Err(e) = self
            .repo
            .fail_job(job_id, &self.runner_id, &error.to_string())
            .await
        {
            tracing::warn!(%job_id, error = %e, "marking a bulk job failed did not work; it will be retried");
        }
    }
}

/// Workflows per batch: the job's batch size, smaller under a rate limit so that one batch is at
/// most a second of the limit (progress shows, and an abort takes effect, within a second).
fn batch_limit(batch_size: u32, rows_per_second: u32) -> i64 {
    let size = batch_size.max(1);
    i64::from(match rows_per_second {
        0 => size,
        rate => size.min(rate),
    })
}

/// Errors a retry can get past; the batch's transaction rolled back.
fn passing(e: &Error) -> bool {
    matches!(
        e,
        Error::Unavailable(_)
            | Error::ResourceExhausted(_)
            | Error::Overloaded { .. }
            | Error::Aborted(_)
            | Error::DeadlineExceeded(_)
            | Error::Draining
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_limit_shrinks_batches_to_a_second_of_it() {
        assert_eq!(batch_limit(500, 0), 500);
        assert_eq!(batch_limit(500, 100), 100);
        assert_eq!(batch_limit(50, 100), 50);
        assert_eq!(batch_limit(0, 0), 1);
    }

    #[test]
    fn the_first_claim_waits_less_than_one_poll() {
        let poll = Duration::from_millis(800);
        let delays: Vec<Duration> = (0..64).map(|_| start_delay(poll)).collect();
        assert!(delays.iter().all(|d| *d < poll));
        // Spread, not one fixed pause.
        assert!(delays.iter().any(|d| *d != delays[0]));
    }

    #[test]
    fn idle_polling_follows_the_lease_within_bounds() {
        assert_eq!(
            idle_poll(Duration::from_secs(2)),
            Duration::from_millis(500)
        );
        assert_eq!(idle_poll(Duration::from_secs(60)), Duration::from_secs(1));
        assert_eq!(
            idle_poll(Duration::from_millis(10)),
            Duration::from_millis(50)
        );
    }

    #[test]
    fn only_passing_errors_are_retried() {
        assert!(passing(&Error::Aborted("deadlock".into())));
        assert!(passing(&Error::Unavailable("down".into())));
        assert!(!passing(&Error::invalid("filter", "bad")));
        assert!(!passing(&Error::FailedPrecondition("x".into())));
    }
}
