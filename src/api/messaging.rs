//! SendMessage and GetEvent.

use std::time::Duration;

use tokio::time::Instant;

use crate::api::{convert, convert::render, WorkflowApi};
use crate::{error::Result, hub::Key, pb};

/// DBOS clients wait 60 s for an event by default.
const DEFAULT_EVENT_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest GetEvent wait accepted.
const MAX_EVENT_TIMEOUT_MS: i64 = 24 * 3600 * 1000;

impl WorkflowApi {
    pub(super) async fn send(
        &self,
        req: &pb::SendMessageRequest,
    ) -> Result<pb::SendMessageResponse> {
        let msg = convert::new_message(req, self.payload_limit)?;
        let (delivered, fork_ids) = if req.send_to_forks {
            self.repo.send_message_to_forks(&msg, self.scope()).await?
        } else {
            (
                self.repo.send_message(&msg, self.scope()).await?,
                Vec::new(),
            )
        };
        Ok(pb::SendMessageResponse {
            message_id: msg.message_id,
            delivered,
            fork_ids,
        })
    }

    pub(super) async fn event(&self, req: &pb::GetEventRequest) -> Result<pb::GetEventResponse> {
        let workflow_id = convert::required("workflow_id", &req.workflow_id)?;
        let key = convert::required("key", &req.key)?;
        let timeout = match &req.timeout {
            None => DEFAULT_EVENT_TIMEOUT,
            Some(d) => {
                let ms = convert::duration_ms("timeout", d)?;
                if ms > MAX_EVENT_TIMEOUT_MS {
                    return Err(crate::error::Error::invalid(
                        "timeout",
                        "must be at most one day",
                    ));
                }
                Duration::from_millis(ms as u64)
            }
        };
        let deadline = Instant::now() + timeout;
        // A wait holds a stream slot while it lasts.
        let _slot = match timeout.is_zero() {
            true => None,
            false => Some(self.streams.take_slot()?),
        };
        // Subscribe, then read: a value set in between still wakes us. The hub's LISTEN connection and
        // its batched poll (the backstop for lost notifications) do the waking.
        let mut sub = self.hub.subscribe(Key::Event {
            workflow_id: workflow_id.clone(),
            key: key.clone(),
        })?;
        // A wait, not work in flight: draining ends it (UNAVAILABLE, retry) rather than holding the drain.
        let wait = async {
            loop {
                if let Some(value) = self
                    .repo
                    .get_event(&workflow_id, &key, self.scope())
                    .await?
                {
                    return Ok(pb::GetEventResponse {
                        found: true,
                        value: Some(render::payload(&value)),
                    });
                }
                let now = Instant::now();
                if now >= deadline {
                    return Ok(pb::GetEventResponse {
                        found: false,
                        value: None,
                    });
                }
                let _ = tokio::time::timeout(deadline - now, sub.changed()).await;
            }
        };
        self.streams.drain().guard(wait).await
    }
}
