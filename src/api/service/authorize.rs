//! Authorization: the one path every `WorkflowService` handler goes through. [`WorkflowApi::begin`]
//! takes the caller (the auth layer's [`Principal`]) and the method's policy (`auth::policy`, looked up in `api::rpcs` and tagged
//! on the request by the auth layer from its path); [`Call::permit`] decides from the policy alone
//! whether this token may make this kind of call; [`Call::finish`] renders the result and writes
//! the audit record of every write.
//!
//! Which workflows a call may touch is not decided here: the caller's scope goes down to the
//! repository and into the SQL that reads or changes the rows (`repo::db::scope`), so a workflow
//! outside it looks exactly like one that does not exist. PERMISSION_DENIED is only for "this
//! token may not make this call": whole-database calls, and new workflows (or resumes and forks)
//! onto an application or queue outside the scope.

use std::{net::SocketAddr, sync::Arc};

use tonic::{Code, Request, Response, Status};

use crate::api::{service::audit_targets::Audited, RpcResult, WorkflowApi};
use crate::{
    audit::{self, AuditRecord},
    auth::{
        policy::{Access, CalledMethod, ScopeKind},
        Principal,
    },
    error::{Error, Result},
    model::Scope,
    model::{Action, NewWorkflow},
    telemetry::layer::REQUEST_ID,
};

/// Every workflow: the scope of an unrestricted caller.
static UNRESTRICTED: Scope = Scope {
    applications: None,
    queues: None,
};

/// One call in progress: the API as its caller may use it, and what its audit record needs.
pub(in crate::api) struct Call {
    pub api: WorkflowApi,
    method: CalledMethod,
    peer: Option<SocketAddr>,
    request_id: Option<String>,
}

impl WorkflowApi {
    /// Starts serving `request`. A call the auth layer did not tag is refused: without its policy
    /// nothing could say what it may touch.
    pub(in crate::api) fn begin<T>(
        &self,
        request: &Request<T>,
    ) -> std::result::Result<Call, Status> {
        let Some(method) = request.extensions().get::<CalledMethod>().copied() else {
            return Err(Status::internal(
                "the call reached the service without its policy; this is a dbosd bug",
            ));
        };
        let mut api = self.clone();
        api.caller = request.extensions().get::<Arc<Principal>>().cloned();
        Ok(Call {
            api,
            method,
            peer: request.remote_addr(),
            request_id: request
                .metadata()
                .get(REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        })
    }

    /// The restricted caller's token name and scope; `None` for an unrestricted caller.
    fn restricted(&self) -> Option<(&str, &Scope)> {
        let caller = self.caller.as_deref()?;
        caller
            .scope
            .is_restricted()
            .then_some((caller.name.as_str(), &caller.scope))
    }

    /// The caller's scope, which every repository call touching workflows takes (unrestricted
    /// without a scoped token).
    pub(in crate::api) fn scope(&self) -> &Scope {
        self.restricted()
            .map(|(_, scope)| scope)
            .unwrap_or(&UNRESTRICTED)
    }

    /// The caller's scope, owned (for list, watch and aggregate filters).
    pub(in crate::api) fn filter_scope(&self) -> Scope {
        self.scope().clone()
    }

    /// Admits new workflows: each must belong to an application and queue inside the scope. Each
    /// carries the scope down, so an id already taken outside it is answered without its data.
    pub(in crate::api) fn admit_new_workflows(&self, workflows: &mut [NewWorkflow]) -> Result<()> {
        for wf in workflows.iter_mut() {
            if let Some((name, scope)) = self.restricted() {
                let (app, queue) = (wf.application_name.as_deref(), Some(wf.queue_name.as_str()));
                if !scope.allows(app, queue) {
                    return Err(denied(name, "a new workflow", app, queue));
                }
            }
            wf.caller_scope = self.filter_scope();
        }
        Ok(())
    }

    /// Checks the queue a resume or fork puts workflows on (the workflows themselves are scoped in
    /// the repository).
    pub(in crate::api) fn admit_target_queue(&self, action: &Action) -> Result<()> {
        let target_queue = match action {
            Action::Resume { queue_name } => Some(queue_name),
            Action::Fork(spec) => Some(&spec.queue_name),
            Action::Cancel { .. } | Action::Delete { .. } => None,
        };
        match (target_queue, self.restricted()) {
            (Some(queue), Some((name, scope))) if !scope.allows_queue(queue) => {
                Err(denied(name, &format!("queue {queue}"), None, Some(queue)))
            }
            _ => Ok(()),
        }
    }
}

impl Call {
    /// Whether the caller's token may make this kind of call at all, from the policy table.
    pub(in crate::api) fn permit(&self) -> Result<()> {
        match (self.method.policy.scope, self.api.restricted()) {
            (ScopeKind::WholeDatabase, Some((name, _))) => Err(Error::PermissionDenied(format!(
                "token {name:?} is limited to some applications or queues; {} needs a token for all of them",
                self.method.name
            ))),
            _ => Ok(()),
        }
    }

    /// The call's gRPC answer, after writing its audit record if the policy marks it a write.
    pub(in crate::api) fn finish<T>(
        self,
        result: Result<T>,
        request: &impl Audited,
    ) -> RpcResult<T> {
        let result = result.map(Response::new).map_err(Status::from);
        if self.method.policy.access == Access::Write {
            // What the call named goes only into the log line: not gathered when it is off.
            let (targets, filter) = match audit::logged() {
                true => request.audit_targets(),
                false => (Vec::new(), None),
            };
            audit::record(&AuditRecord {
                principal: self.api.caller.as_deref().map(|p| p.name.as_str()),
                rpc: self.method.name,
                targets,
                filter,
                result: Some(match &result {
                    Ok(_) => Code::Ok,
                    Err(status) => status.code(),
                }),
                peer: self.peer,
                request_id: self.request_id.as_deref(),
            });
        }
        result
    }
}

fn denied(token: &str, what: &str, app: Option<&str>, queue: Option<&str>) -> Error {
    Error::PermissionDenied(format!(
        "token {token:?} may not touch {what} (application {}, queue {})",
        app.unwrap_or("none"),
        queue.unwrap_or("none"),
    ))
}
