//! Concurrent single enqueues grouped into one statement (group commit).
//!
//! EnqueueWorkflow calls join one queue, served by `--enqueue-slots` long-lived slot tasks. An idle
//! slot takes a call at once, so a lone caller waits for nothing; while every slot is busy, later
//! calls pile up and the next slot to finish takes them all in one statement. Under load
//! PostgreSQL then commits once for many workflows. Each slot keeps its own session with the
//! statement prepared ([`EnqueueSession`]), so nothing is parsed or planned per call. Each workflow
//! still gets its own outcome, exactly as if enqueued alone ([`Repo::enqueue_each`]).
//!
//! Abandonment: a combined statement belongs to no one caller, so no caller's leaving or deadline
//! may end it. It runs in the slot's task, which callers only wait on: a caller that leaves drops
//! its reply, never the statement, so the cancel a dropped statement triggers
//! (`crate::repo::db::statement`) cannot reach the others' write. For the same reason it runs without any
//! caller's deadline, bounded only by the ceiling the slot's session starts with
//! (`--statement-timeout-ms`); a caller whose deadline passes first gets DEADLINE_EXCEEDED from
//! its own call while its workflow may still be written (as with any write whose answer is lost).

use std::{
    collections::VecDeque,
    panic::AssertUnwindSafe,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
};

use futures::FutureExt;
use tokio::sync::{oneshot, Notify};

use crate::repo::{workflows::session::EnqueueSession, Repo};
use crate::sync::lock_unpoisoned;
use crate::{
    error::{Error, Result},
    model::{Enqueued, NewWorkflow},
};

/// Most workflows one combined statement carries.
const MAX_BATCH: usize = 256;

/// Past this many bytes of inputs a combined statement takes no more workflows (large inputs gain
/// nothing from sharing, and one statement's arrays stay far below PostgreSQL's 1 GB limit).
const MAX_BATCH_BYTES: usize = 4 << 20;

/// The callers' side of the queue; cheap to clone. The slot tasks end when every clone is gone.
#[derive(Clone)]
pub struct EnqueueCoalescer {
    shared: Arc<Shared>,
    _owner: Arc<Owner>,
}

/// How much sharing happened, for metrics.
#[derive(Debug, Default)]
pub struct EnqueueStats {
    /// Statements run for single enqueues.
    pub statements: AtomicU64,
    /// Workflows those statements carried.
    pub workflows: AtomicU64,
}

/// What callers and slot tasks share.
struct Shared {
    waiting: Mutex<VecDeque<Call>>,
    /// Wakes an idle slot when a call arrives (or every slot when the last caller handle goes).
    arrived: Notify,
    closed: AtomicBool,
    stats: Arc<EnqueueStats>,
}

/// Closes the queue when the last [`EnqueueCoalescer`] clone is dropped.
struct Owner(Arc<Shared>);

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.closed.store(true, Ordering::Release);
        self.0.arrived.notify_waiters();
    }
}

/// One waiting call.
struct Call {
    wf: NewWorkflow,
    reply: oneshot::Sender<Result<Enqueued>>,
}

impl EnqueueCoalescer {
    /// Starts `slots` slot tasks over `repo`: at most that many statements in flight at once.
    pub fn start(repo: Repo, slots: usize) -> Self {
        let shared = Arc::new(Shared {
            waiting: Mutex::new(VecDeque::new()),
            arrived: Notify::new(),
            closed: AtomicBool::new(false),
            stats: Arc::new(EnqueueStats::default()),
        });
        for _ in 0..slots.max(1) {
            tokio::spawn(serve_slot(repo.clone(), Arc::clone(&shared)));
        }
        EnqueueCoalescer {
            _owner: Arc::new(Owner(Arc::clone(&shared))),
            shared,
        }
    }

    /// The counters, shared with the metrics endpoint.
    pub fn stats(&self) -> Arc<EnqueueStats> {
        Arc::clone(&self.shared.stats)
    }

    /// Enqueues `wf`, possibly in one statement with other callers' workflows.
    pub async fn enqueue(&self, wf: NewWorkflow) -> Result<Enqueued> {
        let (reply, outcome) = oneshot::channel();
        lock_unpoisoned(&self.shared.waiting).push_back(Call { wf, reply });
        self.shared.arrived.notify_one();
        outcome.await.map_err(|_| {
            Error::internal(
                "enqueueing a workflow",
                "the combined statement ended without an outcome",
            )
        })?
    }
}

/// One slot: runs a statement for everything waiting, again and again, and sleeps when nothing is.
/// Never cancelled by a caller, so a caller going away cannot cancel the others' write.
async fn serve_slot(repo: Repo, shared: Arc<Shared>) {
    // Opened on first use and replaced when lost.
    let mut session: Option<EnqueueSession> = None;
    loop {
        let batch = take_batch(&mut lock_unpoisoned(&shared.waiting));
        if batch.is_empty() {
            if shared.closed.load(Ordering::Acquire) {
                return;
            }
            shared.arrived.notified().await;
            continue;
        }
        let stats = &shared.stats;
        stats.statements.fetch_add(1, Ordering::Relaxed);
        stats
            .workflows
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        // A bug in one statement must not take the slot down with it: its callers get INTERNAL.
        let ran = AssertUnwindSafe(run(&repo, &mut session, batch)).catch_unwind();
        if ran.await.is_err() {
            tracing::error!("an enqueue statement panicked; its calls failed");
            session = None;
        }
    }
}

/// The calls for the next statement: all waiting, in arrival order, up to [`MAX_BATCH`] workflows
/// or [`MAX_BATCH_BYTES`] of inputs. A call whose id is already in the batch waits for the next
/// one (one statement cannot insert the same id twice); a caller that gave up (deadline,
/// disconnect) before its write began is dropped and gets no write.
fn take_batch(waiting: &mut VecDeque<Call>) -> Vec<Call> {
    let mut batch: Vec<Call> = Vec::new();
    let mut bytes = 0;
    while batch.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
        let Some(call) = waiting.front() else { break };
        if batch
            .iter()
            .any(|b| b.wf.workflow_id == call.wf.workflow_id)
        {
            break;
        }
        let Some(call) = waiting.pop_front() else {
            break;
        };
        if call.reply.is_closed() {
            continue;
        }
        bytes += call.wf.inputs.len();
        batch.push(call);
    }
    batch
}

/// Runs one combined statement and answers its callers.
async fn run(repo: &Repo, session: &mut Option<EnqueueSession>, batch: Vec<Call>) {
    if session.as_ref().is_none_or(EnqueueSession::is_closed) {
        // Without a session (database unreachable) the statement goes through the pool, which
        // reports why.
        *session = match EnqueueSession::open(repo).await {
            Ok(opened) => Some(opened),
            Err(e) => {
                tracing::debug!(error = %e, "no enqueue session; using the pool");
                None
            }
        };
    }
    let (wfs, replies): (Vec<NewWorkflow>, Vec<_>) =
        batch.into_iter().map(|c| (c.wf, c.reply)).unzip();
    let outcomes = repo.enqueue_each(&wfs, session.as_ref()).await;
    for (reply, outcome) in replies.into_iter().zip(outcomes) {
        // A caller that went away meanwhile misses its answer; its workflow is enqueued.
        let _ = reply.send(outcome);
    }
}
