//! Authorization: what the caller's token (a [`Scope`] from the auth layer) lets a call touch.
//! Calls naming workflows check their owners (PERMISSION_DENIED); lists, watches and bulk filters
//! are narrowed to the scope. An unrestricted caller (no tokens configured, or a `"*"` token)
//! costs nothing: no owner query is made.

use std::{future::Future, sync::Arc};

use tonic::Request;

use super::WorkflowApi;
use crate::{
    auth::{Principal, Scope},
    error::{Error, Result},
    model::{Action, NewWorkflow, Selection},
};

impl WorkflowApi {
    /// This API as the caller of `request` may use it.
    pub(super) fn scoped<T>(&self, request: &Request<T>) -> WorkflowApi {
        let mut api = self.clone();
        if let Some(principal) = request.extensions().get::<Arc<Principal>>() {
            api.caller = Some(Arc::clone(principal));
        }
        api
    }

    fn scope(&self) -> Option<(&str, &Scope)> {
        let caller = self.caller.as_deref()?;
        caller
            .scope
            .is_restricted()
            .then_some((caller.name.as_str(), &caller.scope))
    }

    /// Fails unless every existing workflow among `ids` is inside the caller's scope (unknown ids
    /// pass, so the call itself reports them as it always does).
    pub(super) async fn authorize(
        &self,
        ids: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<()> {
        let Some((name, scope)) = self.scope() else {
            return Ok(());
        };
        let ids: Vec<String> = ids.into_iter().map(|id| id.as_ref().to_owned()).collect();
        for owner in self.repo.workflow_owners(&ids).await? {
            let (app, queue) = (
                owner.application_name.as_deref(),
                owner.queue_name.as_deref(),
            );
            if !scope.allows(app, queue) {
                return Err(denied(
                    name,
                    &format!("workflow {}", owner.workflow_id),
                    app,
                    queue,
                ));
            }
        }
        Ok(())
    }

    /// Runs `call` once [`WorkflowApi::authorize`] lets the caller touch `ids`.
    pub(super) async fn owning<T>(
        &self,
        ids: impl IntoIterator<Item = impl AsRef<str>>,
        call: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        self.authorize(ids).await?;
        call.await
    }

    /// Fails unless every new workflow would be inside the caller's scope, and so is every
    /// existing workflow among the `named` ids (an enqueue of an existing id answers with its status).
    pub(super) async fn authorize_new_workflows(
        &self,
        workflows: &[NewWorkflow],
        named: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<()> {
        let Some((name, scope)) = self.scope() else {
            return Ok(());
        };
        for wf in workflows {
            let (app, queue) = (wf.application_name.as_deref(), Some(wf.queue_name.as_str()));
            if !scope.allows(app, queue) {
                return Err(denied(name, "a new workflow", app, queue));
            }
        }
        self.authorize(named).await
    }

    /// Runs `call` only for an unrestricted caller: calls that act on the whole database (queues,
    /// application versions and names, schedules, transactions across workflows).
    pub(super) async fn unrestricted<T>(&self, call: impl Future<Output = Result<T>>) -> Result<T> {
        match self.scope() {
            Some((name, _)) => Err(Error::PermissionDenied(format!(
                "token {name:?} is limited to some applications or queues; this call needs a token for all of them"
            ))),
            None => call.await,
        }
    }

    /// The scope a list, watch or bulk filter is narrowed to (unrestricted without a scoped token).
    pub(super) fn filter_scope(&self) -> Scope {
        self.scope()
            .map(|(_, scope)| scope.clone())
            .unwrap_or_default()
    }

    /// Checks a management action: its workflows (ids) or filter, and the queue it enqueues onto.
    pub(super) async fn authorize_action(
        &self,
        selection: &mut Selection,
        action: &Action,
    ) -> Result<()> {
        let target_queue = match action {
            Action::Resume { queue_name } => Some(queue_name),
            Action::Fork(spec) => Some(&spec.queue_name),
            Action::Cancel { .. } | Action::Delete { .. } => None,
        };
        if let (Some(queue), Some((name, scope))) = (target_queue, self.scope()) {
            if !scope.allows_queue(queue) {
                return Err(denied(name, &format!("queue {queue}"), None, Some(queue)));
            }
        }
        match selection {
            Selection::Ids(ids) => self.authorize(ids.iter()).await,
            Selection::Filter(filter) => {
                filter.scope = self.filter_scope();
                Ok(())
            }
        }
    }
}

fn denied(token: &str, what: &str, app: Option<&str>, queue: Option<&str>) -> Error {
    Error::PermissionDenied(format!(
        "token {token:?} may not touch {what} (application {}, queue {})",
        app.unwrap_or("none"),
        queue.unwrap_or("none"),
    ))
}
