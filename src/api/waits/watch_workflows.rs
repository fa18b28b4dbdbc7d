//! WatchWorkflows: every status transition of matching workflows, from the hub's shared feed (one
//! poll per tick for all watchers), with a cursor to resume after a reconnect.

use std::{collections::HashSet, sync::Arc};

use tokio::sync::broadcast::error::RecvError;

use super::task::{self, Flow, Stop};
use crate::api::{
    convert::filter::status_filter,
    convert::json::struct_to_map,
    convert::page_token::{self, WatchCursor},
    convert::render,
    convert::text,
    service::stream::{RpcStream, Sink},
    WorkflowApi,
};
use crate::{
    error::{Error, Result},
    model::{ListQuery, WatchFilter, WorkflowRow},
    pb,
    repo::Repo,
};

/// A resume replays transitions this far before the cursor's time, since `updated_at` is the writer's
/// transaction start and a row may commit after a later one (duplicates are identifiable).
const REPLAY_MARGIN_MS: i64 = 2_000;
/// Most rows one replay sends; a watcher further behind should re-list.
const REPLAY_LIMIT: i64 = 10_000;

/// Where a watcher is: the (updated_at, workflow id) of the last transition it was sent.
#[derive(Debug, Clone, PartialEq)]
struct Cursor {
    updated_at: i64,
    workflow_id: String,
}

impl Cursor {
    fn of(row: &WorkflowRow) -> Self {
        Cursor {
            updated_at: row.updated_at,
            workflow_id: row.workflow_id.clone(),
        }
    }

    fn encode(&self) -> String {
        page_token::encode(&WatchCursor {
            u: self.updated_at,
            i: self.workflow_id.clone(),
        })
    }

    fn decode(token: &str) -> Result<Self> {
        let cursor: WatchCursor = page_token::decode(
            "cursor",
            token,
            "is not a cursor returned by WatchWorkflows",
        )?;
        Ok(Cursor {
            updated_at: cursor.u,
            workflow_id: cursor.i,
        })
    }
}

fn watch_filter(req: &pb::WatchWorkflowsRequest) -> Result<WatchFilter> {
    let texts = |field: &str, values: &[String]| {
        values
            .iter()
            .map(|v| text(field, v))
            .collect::<Result<Vec<_>>>()
    };
    Ok(WatchFilter {
        queue_names: texts("queue_names", &req.queue_names)?,
        names: texts("workflow_names", &req.workflow_names)?,
        statuses: req
            .statuses
            .iter()
            .map(|s| status_filter("statuses", *s))
            .collect::<Result<_>>()?,
        application_names: texts("application_names", &req.application_names)?,
        attributes: req
            .attributes
            .as_ref()
            .map(|a| struct_to_map(a, "attributes").map(serde_json::Value::Object))
            .transpose()?,
        workflow_ids: texts("workflow_ids", &req.workflow_ids)?,
        id_prefixes: texts("workflow_id_prefixes", &req.workflow_id_prefixes)?,
        scope: Default::default(),
    })
}

/// Per-stream state: the filter, the workflows already matched (followed even after they stop
/// matching, e.g. cancel clears the queue) and the last cursor sent.
struct Watcher {
    filter: WatchFilter,
    followed: HashSet<String>,
    cursor: Option<Cursor>,
}

impl Watcher {
    /// Sends `row` if it concerns this watcher.
    async fn offer(
        &mut self,
        sink: &Sink<pb::WatchWorkflowsResponse>,
        row: &WorkflowRow,
        replayed: bool,
    ) -> Flow {
        let relevant =
            self.followed.contains(&row.workflow_id) || self.filter.matches_workflow(row);
        if !relevant {
            return Ok(());
        }
        if row.status().is_some_and(|s| s.is_terminal()) {
            self.followed.remove(&row.workflow_id);
        } else {
            self.followed.insert(row.workflow_id.clone());
        }
        if !self.filter.matches_status(row) {
            return Ok(());
        }
        let cursor = Cursor::of(row);
        let msg = pb::WatchWorkflowsResponse {
            workflow: Some(render::status_update(row)),
            cursor: cursor.encode(),
            replayed,
        };
        self.cursor = Some(cursor);
        task::send(sink, msg).await
    }

    /// Re-reads from the database what changed since the cursor (after a reconnect or a lag).
    async fn replay(&mut self, repo: &Repo, sink: &Sink<pb::WatchWorkflowsResponse>) -> Flow {
        let Some(cursor) = self.cursor.clone() else {
            return Ok(());
        };
        let mut filter = self.filter.to_list_filter();
        // Statuses are checked per row (a followed workflow may have moved on to another status).
        filter.statuses.clear();
        // Saturating: the cursor comes back from the caller, who may have forged any value.
        filter.updated_after = Some(cursor.updated_at.saturating_sub(REPLAY_MARGIN_MS));
        let query = ListQuery {
            filter,
            by_updated_at: true,
            limit: REPLAY_LIMIT,
            ..ListQuery::default()
        };
        let page = repo.list_workflows(&query).await?;
        for row in &page.rows {
            if row.updated_at == cursor.updated_at && row.workflow_id == cursor.workflow_id {
                continue;
            }
            self.offer(sink, row, true).await?;
        }
        Ok(())
    }
}

impl WorkflowApi {
    pub(in crate::api) fn watch_workflows(
        &self,
        req: &pb::WatchWorkflowsRequest,
    ) -> Result<RpcStream<pb::WatchWorkflowsResponse>> {
        let mut filter = watch_filter(req)?;
        filter.scope = self.filter_scope();
        let cursor = (!req.cursor.is_empty())
            .then(|| Cursor::decode(&req.cursor))
            .transpose()?;
        let (repo, hub) = (self.repo.clone(), self.hub.clone());
        self.streams.spawn(move |sink| {
            task::run(async move {
                // Subscribe first, then replay: a transition in between arrives twice at worst.
                let mut feed = hub.subscribe_feed();
                let mut watcher = Watcher {
                    filter,
                    followed: HashSet::new(),
                    cursor,
                };
                // Replays are boxed: a list query's state would otherwise sit in every idle
                // watcher's task for its whole life (see `task::read`).
                Box::pin(watcher.replay(&repo, &sink)).await?;
                loop {
                    let row: Arc<WorkflowRow> = tokio::select! {
                        received = feed.recv() => match received {
                            Ok(row) => row,
                            // Fell behind the shared feed: catch up from the database, then go on.
                            Err(RecvError::Lagged(_)) => {
                                Box::pin(watcher.replay(&repo, &sink)).await?;
                                continue;
                            }
                            Err(RecvError::Closed) => return Err(Error::Draining.into()),
                        },
                        _ = sink.closed() => return Err(Stop::Left),
                    };
                    watcher.offer(&sink, &row, false).await?;
                }
            })
        })
    }
}
