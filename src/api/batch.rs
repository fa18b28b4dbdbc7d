//! SendMessages, Transact and GetWorkflowEvents.

use std::collections::HashSet;

use crate::api::{convert, convert::render, WorkflowApi};
use crate::{
    error::{Error, Result},
    model::{EnqueueOutcome, NewMessage, TxOp, TxOutcome},
    pb,
};

/// Most operations one batch call takes.
const MAX_BATCH: usize = 1000;

impl WorkflowApi {
    pub(super) async fn send_many(
        &self,
        req: &pb::SendMessagesRequest,
    ) -> Result<pb::SendMessagesResponse> {
        const LABEL: &str = "messages";
        check_size(LABEL, req.messages.len())?;
        let ops = req
            .messages
            .iter()
            .enumerate()
            .map(|(i, m)| batch_message(m, self.payload_limit).map_err(|e| field_at(LABEL, i, e)))
            .map(|m| m.map(TxOp::Send))
            .collect::<Result<Vec<_>>>()?;
        check_idempotency_keys(LABEL, &ops)?;
        let outcomes = self.repo.transact_scoped(&ops, LABEL, self.scope()).await?;
        let results = ops
            .iter()
            .zip(outcomes)
            .map(|(op, outcome)| match (op, outcome) {
                (TxOp::Send(msg), TxOutcome::Sent(delivered)) => sent(msg, delivered),
                _ => unreachable!("a send yields a send outcome"),
            })
            .collect();
        Ok(pb::SendMessagesResponse { results })
    }

    pub(super) async fn run_transact(
        &self,
        req: &pb::TransactRequest,
    ) -> Result<pb::TransactResponse> {
        const LABEL: &str = "operations";
        check_size(LABEL, req.operations.len())?;
        let ops = req
            .operations
            .iter()
            .enumerate()
            .map(|(i, op)| match &op.operation {
                Some(pb::transact_operation::Operation::Enqueue(e)) => {
                    convert::new_workflow(e, self.default_app.as_deref(), self.payload_limit)
                        .map(|wf| TxOp::Enqueue(Box::new(wf)))
                        .map_err(|err| field_at(&format!("{LABEL}[{i}].enqueue"), usize::MAX, err))
                }
                Some(pb::transact_operation::Operation::Send(s)) => {
                    batch_message(s, self.payload_limit)
                        .map(TxOp::Send)
                        .map_err(|err| field_at(&format!("{LABEL}[{i}].send"), usize::MAX, err))
                }
                None => Err(Error::invalid(
                    format!("{LABEL}[{i}]"),
                    "must be an enqueue or a send",
                )),
            })
            .collect::<Result<Vec<_>>>()?;
        check_idempotency_keys(LABEL, &ops)?;
        let outcomes = self.repo.transact(&ops, LABEL).await?;
        let results = ops
            .iter()
            .zip(outcomes)
            .map(|(op, outcome)| {
                let result = match (op, outcome) {
                    (TxOp::Send(msg), TxOutcome::Sent(delivered)) => {
                        pb::transact_result::Result::Send(sent(msg, delivered))
                    }
                    (TxOp::Enqueue(_), TxOutcome::Enqueued(done)) => {
                        let outcome = match done.outcome {
                            EnqueueOutcome::Created => pb::EnqueueOutcome::Created,
                            EnqueueOutcome::Existing => pb::EnqueueOutcome::Existing,
                            EnqueueOutcome::Deduplicated => pb::EnqueueOutcome::Deduplicated,
                        };
                        pb::transact_result::Result::Enqueue(pb::EnqueueWorkflowResponse {
                            workflow_id: done.workflow_id,
                            outcome: outcome as i32,
                            status: render::status(done.status) as i32,
                        })
                    }
                    _ => unreachable!("each operation yields an outcome of its kind"),
                };
                pb::TransactResult {
                    result: Some(result),
                }
            })
            .collect();
        Ok(pb::TransactResponse { results })
    }

    pub(super) async fn events(
        &self,
        req: &pb::GetWorkflowEventsRequest,
    ) -> Result<pb::GetWorkflowEventsResponse> {
        let id = convert::required("workflow_id", &req.workflow_id)?;
        let events = self
            .repo
            .get_all_events(&id, self.scope())
            .await?
            .ok_or_else(|| Error::NotFound(format!("workflow {id} does not exist")))?;
        Ok(pb::GetWorkflowEventsResponse {
            events: events
                .iter()
                .map(|(key, value)| pb::WorkflowEvent {
                    key: key.clone(),
                    value: Some(render::payload(value)),
                })
                .collect(),
        })
    }
}

fn check_size(label: &str, n: usize) -> Result<()> {
    if n == 0 || n > MAX_BATCH {
        return Err(Error::invalid(
            label,
            format!("must hold 1 to {MAX_BATCH} items (got {n})"),
        ));
    }
    Ok(())
}

/// A repeated idempotency key in one batch is refused, as the Python client's send_bulk does: the
/// second message would be silently dropped otherwise (same destination) or is likely a mistake.
fn check_idempotency_keys(label: &str, ops: &[TxOp]) -> Result<()> {
    let mut seen = HashSet::new();
    for (i, op) in ops.iter().enumerate() {
        let TxOp::Send(msg) = op else { continue };
        if let Some(key) = idempotency_key(msg) {
            if !seen.insert(key) {
                return Err(Error::invalid(
                    format!("{label}[{i}].idempotency_key"),
                    format!("{key:?} is used by an earlier message of this call"),
                ));
            }
        }
    }
    Ok(())
}

/// A message of a batch: as SendMessage, without send_to_forks (one destination per item).
fn batch_message(req: &pb::SendMessageRequest, payload_limit: usize) -> Result<NewMessage> {
    if req.send_to_forks {
        return Err(Error::invalid(
            "send_to_forks",
            "is only available in SendMessage; name each destination in a batch",
        ));
    }
    convert::new_message(req, payload_limit)
}

/// The message's idempotency key (None for a random id).
fn idempotency_key(msg: &NewMessage) -> Option<&str> {
    msg.idempotency_key.as_deref()
}

fn sent(msg: &NewMessage, delivered: bool) -> pb::SendMessageResponse {
    pb::SendMessageResponse {
        message_id: msg.message_id.clone(),
        delivered,
        fork_ids: Vec::new(),
    }
}

/// Names a malformed field as part of item `i` of `label` (`usize::MAX`: `label` is the full prefix).
fn field_at(label: &str, i: usize, err: Error) -> Error {
    match err {
        Error::InvalidArgument { field, reason } => Error::InvalidArgument {
            field: if i == usize::MAX {
                format!("{label}.{field}")
            } else {
                format!("{label}[{i}].{field}")
            },
            reason,
        },
        other => other,
    }
}
