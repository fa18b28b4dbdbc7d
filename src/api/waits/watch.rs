//! WatchEvent and ReadStream: values pushed as soon as the hub sees them (LISTEN from the worker's
//! notifier, with the batched poll as the backstop).

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
    model::{is_stream_closed_marker, StoredValue},
    pb,
};

impl WorkflowApi {
    pub(in crate::api) fn watch_event(
        &self,
        req: &pb::WatchEventRequest,
    ) -> Result<RpcStream<pb::WatchEventResponse>> {
        let id = convert::required("workflow_id", &req.workflow_id)?;
        let key = convert::required("key", &req.key)?;
        let deadline = deadline(&req.timeout)?;
        let follow = req.follow;
        // Events belong to their workflow: every read carries the caller's scope.
        let (repo, hub, scope) = (self.repo.clone(), self.hub.clone(), self.filter_scope());
        self.streams.spawn(move |sink| {
            task::run(async move {
                let mut subs = vec![hub.subscribe(Key::Event {
                    workflow_id: id.clone(),
                    key: key.clone(),
                })?];
                if follow {
                    subs.push(hub.subscribe(Key::Status(id.clone()))?);
                }
                let mut last: Option<StoredValue> = None;
                let what = format!("event {key} of workflow {id}");
                loop {
                    let (r, i, k, sc) = (&repo, &id, &key, &scope);
                    let read = task::read(deadline, &sink, &what, move || async move {
                        // Read the status first: a value set before the workflow ended is then
                        // always seen.
                        let ended = follow
                            && r.get_workflow_outcome(i, sc)
                                .await?
                                .and_then(|r| r.status())
                                .is_some_and(|s| s.is_terminal());
                        Ok((ended, r.get_event(i, k, sc).await?))
                    });
                    let (ended, event) = read.await?;
                    if let Some(value) = event {
                        if last.as_ref() != Some(&value) {
                            let msg = pb::WatchEventResponse {
                                value: Some(render::payload(&value)),
                            };
                            task::send(&sink, msg).await?;
                            if !follow {
                                return Ok(());
                            }
                            last = Some(value);
                        }
                    }
                    if ended {
                        return Ok(());
                    }
                    task::wake(&mut subs, deadline, &sink, &what).await?;
                }
            })
        })
    }

    pub(in crate::api) fn read_stream(
        &self,
        req: &pb::ReadStreamRequest,
    ) -> Result<RpcStream<pb::ReadStreamResponse>> {
        let id = convert::required("workflow_id", &req.workflow_id)?;
        let key = convert::required("key", &req.key)?;
        if req.offset < 0 {
            return Err(Error::invalid("offset", "must not be negative"));
        }
        let timeout = req.timeout;
        deadline(&timeout)?;
        let mut offset = req.offset;
        // Streams belong to their workflow: every read carries the caller's scope.
        let (repo, hub, scope) = (self.repo.clone(), self.hub.clone(), self.filter_scope());
        self.streams.spawn(move |sink| {
            task::run(async move {
                let mut subs = [
                    hub.subscribe(Key::Stream {
                        workflow_id: id.clone(),
                        key: key.clone(),
                    })?,
                    hub.subscribe(Key::Status(id.clone()))?,
                ];
                // The timeout bounds the wait for each next value, so it restarts after every value.
                let mut deadline = deadline(&timeout)?;
                let what = format!("stream {key} of workflow {id}");
                loop {
                    let (r, i, k, sc) = (&repo, &id, &key, &scope);
                    let read = task::read(deadline, &sink, &what, move || {
                        r.read_stream(i, k, offset, sc)
                    });
                    let read = read.await?;
                    if !read.exists {
                        let missing = format!("workflow {id} does not exist");
                        return Err(Error::NotFound(missing).into());
                    }
                    let got_values = !read.values.is_empty();
                    for (at, value) in read.values {
                        if is_stream_closed_marker(&value.text) {
                            return Ok(());
                        }
                        let msg = pb::ReadStreamResponse {
                            offset: at,
                            value: Some(render::payload(&value)),
                        };
                        task::send(&sink, msg).await?;
                        // A stored offset at i32::MAX has no successor: the stream can hold no more.
                        let Some(next) = at.checked_add(1) else {
                            return Ok(());
                        };
                        offset = next;
                    }
                    if got_values {
                        deadline = crate::api::service::stream::deadline(&timeout)?;
                        continue;
                    }
                    // Nothing new: a finished writer will write no more (this read came after it
                    // ended).
                    if read.status.is_some_and(|s| s.is_terminal()) {
                        return Ok(());
                    }
                    task::wake(&mut subs, deadline, &sink, &what).await?;
                }
            })
        })
    }
}
