//! AwaitWorkflow and AwaitWorkflows: result waits pushed to the client as soon as the hub's poll sees
//! the status change, instead of one poller per waiter.

use std::collections::{HashMap, HashSet};

use super::task;
use crate::api::{
    convert,
    convert::render,
    service::stream::{deadline, RpcStream},
    WorkflowApi,
};
use crate::{
    error::{Error, Result},
    hub::Key,
    model::WorkflowRow,
    pb,
    repo::waits::status_fingerprint,
};

/// Most ids one AwaitWorkflows call may wait on.
const MAX_AWAIT_IDS: usize = 10_000;

fn is_done(row: &WorkflowRow) -> bool {
    row.status().is_some_and(|s| s.is_terminal())
}

impl WorkflowApi {
    pub(in crate::api) fn await_workflow(
        &self,
        req: &pb::AwaitWorkflowRequest,
    ) -> Result<RpcStream<pb::AwaitWorkflowResponse>> {
        use pb::await_workflow_response::Kind;
        let id = convert::required("workflow_id", &req.workflow_id)?;
        let deadline = deadline(&req.timeout)?;
        let load_output = req.load_output.unwrap_or(true);
        let (repo, hub, scope) = (self.repo.clone(), self.hub.clone(), self.filter_scope());
        self.streams.spawn(move |sink| {
            task::run(async move {
                // Subscribe, then read: a change in between still wakes us. Every read carries the
                // caller's scope, so a row of another application stays "not there yet".
                let mut subs = [hub.subscribe(Key::Status(id.clone()))?];
                let mut last_sent: Option<(Option<String>, i64)> = None;
                let what = format!("workflow {id} to finish");
                loop {
                    let (r, i, sc) = (&repo, &id, &scope);
                    let read = task::read(deadline, &sink, &what, move || {
                        r.get_workflow_outcome(i, sc)
                    });
                    let row = read.await?;
                    subs[0].saw(status_fingerprint(row.as_ref()));
                    if let Some(row) = row {
                        let seen = (row.status.clone(), row.updated_at);
                        if last_sent.as_ref() != Some(&seen) {
                            let update = Kind::StatusUpdate(render::status_update(&row));
                            let msg = pb::AwaitWorkflowResponse { kind: Some(update) };
                            task::send(&sink, msg).await?;
                            last_sent = Some(seen);
                        }
                        if is_done(&row) {
                            let outcome = Kind::Outcome(render::outcome(&row, load_output));
                            let msg = pb::AwaitWorkflowResponse {
                                kind: Some(outcome),
                            };
                            return task::send(&sink, msg).await;
                        }
                    }
                    task::wake(&mut subs, deadline, &sink, &what).await?;
                }
            })
        })
    }

    pub(in crate::api) fn await_workflows(
        &self,
        req: &pb::AwaitWorkflowsRequest,
    ) -> Result<RpcStream<pb::AwaitWorkflowsResponse>> {
        let mut pending: Vec<String> = Vec::new();
        let mut unique = HashSet::new();
        for id in &req.workflow_ids {
            let id = convert::required("workflow_ids", id)?;
            if unique.insert(id.clone()) {
                pending.push(id);
            }
        }
        if pending.is_empty() || pending.len() > MAX_AWAIT_IDS {
            return Err(Error::invalid(
                "workflow_ids",
                format!("give between 1 and {MAX_AWAIT_IDS} workflow ids"),
            ));
        }
        let first_only = match crate::api::convert::enum_field("mode", req.mode)? {
            pb::AwaitMode::First => true,
            pb::AwaitMode::All => false,
            pb::AwaitMode::Unspecified => {
                return Err(Error::invalid(
                    "mode",
                    "must be AWAIT_MODE_FIRST or AWAIT_MODE_ALL",
                ))
            }
        };
        let deadline = deadline(&req.timeout)?;
        let load_output = req.load_output.unwrap_or(true);
        let (repo, hub, scope) = (self.repo.clone(), self.hub.clone(), self.filter_scope());
        self.streams.spawn(move |sink| {
            task::run(async move {
                let mut subs = pending
                    .iter()
                    .map(|id| hub.subscribe(Key::Status(id.clone())))
                    .collect::<Result<Vec<_>>>()?;
                loop {
                    // One query for every still-pending id, whichever of them woke us.
                    let what = format!("{} workflows to finish", pending.len());
                    let (r, p, sc) = (&repo, &pending, &scope);
                    let read = task::read(deadline, &sink, &what, move || {
                        r.get_workflow_outcomes(p, sc)
                    });
                    let rows = read.await?;
                    let by_id: HashMap<&str, &WorkflowRow> =
                        rows.iter().map(|r| (r.workflow_id.as_str(), r)).collect();
                    for (id, sub) in pending.iter().zip(&subs) {
                        sub.saw(status_fingerprint(by_id.get(id.as_str()).copied()));
                    }
                    let finished: HashSet<String> = rows
                        .iter()
                        .filter(|r| is_done(r))
                        .map(|r| r.workflow_id.clone())
                        .collect();
                    for row in rows.iter().filter(|r| is_done(r)) {
                        let msg = pb::AwaitWorkflowsResponse {
                            outcome: Some(render::outcome(row, load_output)),
                        };
                        task::send(&sink, msg).await?;
                        if first_only {
                            return Ok(());
                        }
                    }
                    if !finished.is_empty() {
                        // Dropping a finished workflow's subscription frees its hub key at once.
                        let keep: Vec<bool> =
                            pending.iter().map(|id| !finished.contains(id)).collect();
                        let mut flags = keep.iter();
                        subs.retain(|_| *flags.next().unwrap_or(&true));
                        pending.retain(|id| !finished.contains(id));
                    }
                    if pending.is_empty() {
                        return Ok(());
                    }
                    task::wake(&mut subs, deadline, &sink, &what).await?;
                }
            })
        })
    }
}
