//! Concurrent single enqueues grouped into one statement (group commit).
//!
//! Each EnqueueWorkflow call hands its workflow to one combining task. A batch goes out at once
//! while a slot is free, so a lone caller waits for nothing; while every slot is busy, later calls
//! pile up and the next free slot takes them all in one statement. Under load PostgreSQL then
//! commits once for many workflows. Each slot keeps its own session with the statement prepared
//! ([`EnqueueSession`]), so nothing is parsed or planned per call. Each workflow still gets its own
//! outcome, exactly as if enqueued alone ([`Repo::enqueue_each`]).

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc,
};

use tokio::sync::{mpsc, oneshot};

use super::{enqueue_session::EnqueueSession, Repo};
use crate::{
    error::{Error, Result},
    model::{Enqueued, NewWorkflow},
};

/// Most workflows one combined statement carries.
const MAX_BATCH: usize = 256;

/// Past this many bytes of inputs a combined statement takes no more workflows (large inputs gain
/// nothing from sharing, and one statement's arrays stay far below PostgreSQL's 1 GB limit).
const MAX_BATCH_BYTES: usize = 4 << 20;

/// The sending side of the combining task; cheap to clone. The task ends when every clone is gone.
#[derive(Clone)]
pub struct EnqueueCoalescer {
    calls: mpsc::UnboundedSender<Call>,
    stats: Arc<EnqueueStats>,
}

/// How much sharing happened, for metrics.
#[derive(Debug, Default)]
pub struct EnqueueStats {
    /// Statements run for single enqueues.
    pub statements: AtomicU64,
    /// Workflows those statements carried.
    pub workflows: AtomicU64,
}

/// The right to run one statement, with the session it runs on (opened on first use, replaced
/// when broken).
struct Slot {
    session: Option<EnqueueSession>,
}

/// Free slots: taken by the combining task, given back by the statement that used one.
type Slots = (mpsc::Sender<Slot>, mpsc::Receiver<Slot>);

/// One waiting call.
struct Call {
    wf: NewWorkflow,
    reply: oneshot::Sender<Result<Enqueued>>,
}

impl EnqueueCoalescer {
    /// Starts the combining task over `repo`, with at most `slots` statements in flight at once.
    pub fn start(repo: Repo, slots: usize) -> Self {
        let (calls, waiting) = mpsc::unbounded_channel();
        let stats = Arc::new(EnqueueStats::default());
        let (free, idle) = mpsc::channel(slots.max(1));
        for _ in 0..slots.max(1) {
            // Cannot fail: the channel has room for every slot.
            let _ = free.try_send(Slot { session: None });
        }
        tokio::spawn(combine(repo, waiting, (free, idle), Arc::clone(&stats)));
        EnqueueCoalescer { calls, stats }
    }

    /// The counters, shared with the metrics endpoint.
    pub fn stats(&self) -> Arc<EnqueueStats> {
        Arc::clone(&self.stats)
    }

    /// Enqueues `wf`, possibly in one statement with other callers' workflows.
    pub async fn enqueue(&self, wf: NewWorkflow) -> Result<Enqueued> {
        let (reply, outcome) = oneshot::channel();
        self.calls
            .send(Call { wf, reply })
            .map_err(|_| Error::Draining)?;
        outcome.await.map_err(|_| {
            Error::internal(
                "enqueueing a workflow",
                "the combined statement ended without an outcome",
            )
        })?
    }
}

/// Takes calls as slots free up, each time all that are waiting (up to [`MAX_BATCH`] workflows or
/// [`MAX_BATCH_BYTES`] of inputs).
async fn combine(
    repo: Repo,
    mut waiting: mpsc::UnboundedReceiver<Call>,
    (free, mut idle): Slots,
    stats: Arc<EnqueueStats>,
) {
    // A call whose id is already in the forming batch waits for the next one: one statement cannot
    // insert the same id twice.
    let mut held: Option<Call> = None;
    loop {
        let first = match held.take() {
            Some(call) => call,
            None => match waiting.recv().await {
                Some(call) => call,
                None => return,
            },
        };
        let Some(slot) = idle.recv().await else {
            return;
        };
        let mut bytes = first.wf.inputs.len();
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
            match waiting.try_recv() {
                Ok(call)
                    if batch
                        .iter()
                        .any(|b| b.wf.workflow_id == call.wf.workflow_id) =>
                {
                    held = Some(call);
                    break;
                }
                Ok(call) => {
                    bytes += call.wf.inputs.len();
                    batch.push(call);
                }
                Err(_) => break,
            }
        }
        // A caller that gave up (deadline, disconnect) before its write began gets no write.
        batch.retain(|call| !call.reply.is_closed());
        if batch.is_empty() {
            let _ = free.try_send(slot);
            continue;
        }
        stats.statements.fetch_add(1, Ordering::Relaxed);
        stats
            .workflows
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        tokio::spawn(run(repo.clone(), batch, slot, free.clone()));
    }
}

/// Runs one combined statement and answers its callers, then frees the slot. Spawned, so that a
/// caller going away cannot cancel the others' write.
async fn run(repo: Repo, batch: Vec<Call>, mut slot: Slot, free: mpsc::Sender<Slot>) {
    if slot.session.as_ref().is_none_or(EnqueueSession::is_closed) {
        // Without a session (database unreachable) the statement goes through the pool, which
        // reports why.
        slot.session = match EnqueueSession::open(&repo).await {
            Ok(session) => Some(session),
            Err(e) => {
                tracing::debug!(error = %e, "no enqueue session; using the pool");
                None
            }
        };
    }
    let (wfs, replies): (Vec<NewWorkflow>, Vec<_>) =
        batch.into_iter().map(|c| (c.wf, c.reply)).unzip();
    let outcomes = repo.enqueue_each(&wfs, slot.session.as_ref()).await;
    let _ = free.try_send(slot);
    for (reply, outcome) in replies.into_iter().zip(outcomes) {
        // A caller that went away meanwhile misses its answer; its workflow is enqueued.
        let _ = reply.send(outcome);
    }
}
