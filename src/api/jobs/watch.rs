//! WatchBulkJob, and the board every watch of this replica shares: while anyone watches, ONE
//! statement per tick reads every watched job (as the hub's poller does for workflows), and each
//! watcher is woken only when its job changed. A job changes once per batch, so a tick of a
//! quarter second shows every batch of a rate-limited job and costs nothing when nobody watches.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::sync::watch;

use crate::api::{jobs::convert, service::stream::RpcStream, WorkflowApi};
use crate::{
    error::{Error, Result},
    model::job::JobRow,
    pb,
    repo::Repo,
    sync::lock_unpoisoned as lock,
};

/// How often the board re-reads the watched jobs.
const TICK: Duration = Duration::from_millis(250);

/// The watched jobs of this replica, each with the last row read.
#[derive(Default)]
pub struct Board {
    state: Mutex<BoardState>,
}

#[derive(Default)]
struct BoardState {
    jobs: HashMap<String, watch::Sender<JobRow>>,
    /// Whether the reading task runs (it stops when nothing is watched).
    running: bool,
}

impl Board {
    /// A receiver of `job`'s rows from now on, starting the reading task if it is not running.
    fn subscribe(self: &Arc<Self>, repo: &Repo, job: JobRow) -> watch::Receiver<JobRow> {
        let mut state = lock(&self.state);
        let rx = match state.jobs.get(&job.job_id) {
            Some(tx) => tx.subscribe(),
            None => {
                let id = job.job_id.clone();
                let (tx, rx) = watch::channel(job);
                state.jobs.insert(id, tx);
                rx
            }
        };
        if !state.running {
            state.running = true;
            tokio::spawn(Arc::clone(self).read(repo.clone()));
        }
        rx
    }

    /// Reads the watched jobs once per tick until nobody watches.
    async fn read(self: Arc<Self>, repo: Repo) {
        loop {
            tokio::time::sleep(TICK).await;
            let ids: Vec<String> = {
                let mut state = lock(&self.state);
                state.jobs.retain(|_, tx| tx.receiver_count() > 0);
                if state.jobs.is_empty() {
                    state.running = false;
                    return;
                }
                state.jobs.keys().cloned().collect()
            };
            let rows = match repo.jobs_by_ids(&ids).await {
                Ok(rows) => rows,
                Err(e) => {
                    // The watchers keep their last row; the next tick tries again.
                    tracing::debug!(error = %e, "reading watched bulk jobs failed");
                    continue;
                }
            };
            let state = lock(&self.state);
            for row in rows {
                if let Some(tx) = state.jobs.get(&row.job_id) {
                    tx.send_if_modified(|last| {
                        let changed = *last != row;
                        if changed {
                            *last = row;
                        }
                        changed
                    });
                }
            }
        }
    }
}

impl WorkflowApi {
    pub(in crate::api) async fn job_watch(
        &self,
        req: &pb::WatchBulkJobRequest,
    ) -> Result<RpcStream<pb::WatchBulkJobResponse>> {
        let job = self.visible_job(&req.job_id).await?;
        let mut rx = self.job_board.subscribe(&self.repo, job);
        self.streams.spawn(move |sink| async move {
            loop {
                let job = rx.borrow_and_update().clone();
                let response = pb::WatchBulkJobResponse {
                    job: Some(convert::render(&job)),
                };
                if !sink.send(response).await || job.state.is_final() {
                    return Ok(());
                }
                tokio::select! {
                    changed = rx.changed() => changed.map_err(|_| {
                        Error::Unavailable("the bulk job's watch ended; retry".to_owned())
                    })?,
                    _ = sink.closed() => return Ok(()),
                }
            }
        })
    }
}
