//! The authorization policy of every `dbosd.v1.WorkflowService` RPC, in one table (like Temporal's
//! `common/api/metadata.go`): what the call touches (its scope kind), whether it reads or writes,
//! and whether it waits. The auth layer tags each call with its method; `WorkflowApi::begin` looks
//! the policy up here, and that one path decides what a token may call and what is audited.
//! Ownership of the rows themselves is decided in SQL (see `repo::db::scope`).

/// What a call touches, and so how the caller's scope applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeKind {
    /// Workflows the request names by id: one outside the scope is answered as a missing one.
    WorkflowIds,
    /// Workflows a filter selects (lists, aggregates, watches, bulk calls): narrowed to the scope.
    Filter,
    /// Workflows the call creates: each must be inside the scope (else PERMISSION_DENIED).
    NewWorkflows,
    /// State shared by every application (queues, versions, schedules, cross-workflow
    /// transactions, step aggregates): needs a token for all applications.
    WholeDatabase,
}

/// Whether a call changes anything (writes are audited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// One RPC's policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub scope: ScopeKind,
    pub access: Access,
    /// The call waits on purpose (a stream, or GetEvent's timeout).
    pub polling: bool,
}

/// The full name of the service this table covers.
pub const SERVICE: &str = "dbosd.v1.WorkflowService";

const fn p(scope: ScopeKind, access: Access, polling: bool) -> Policy {
    Policy {
        scope,
        access,
        polling,
    }
}

use Access::{Read, Write};
use ScopeKind::{Filter, NewWorkflows, WholeDatabase, WorkflowIds};

/// Every RPC of the service, by method name.
pub const POLICIES: &[(&str, Policy)] = &[
    ("EnqueueWorkflow", p(NewWorkflows, Write, false)),
    ("EnqueueWorkflows", p(NewWorkflows, Write, false)),
    ("DebounceWorkflow", p(WholeDatabase, Write, false)),
    ("GetWorkflow", p(WorkflowIds, Read, false)),
    ("ListWorkflows", p(Filter, Read, false)),
    ("SendMessage", p(WorkflowIds, Write, false)),
    ("GetEvent", p(WorkflowIds, Read, true)),
    ("AwaitWorkflow", p(WorkflowIds, Read, true)),
    ("AwaitWorkflows", p(WorkflowIds, Read, true)),
    ("WatchEvent", p(WorkflowIds, Read, true)),
    ("ReadStream", p(WorkflowIds, Read, true)),
    ("WatchWorkflows", p(Filter, Read, true)),
    ("CancelWorkflow", p(WorkflowIds, Write, false)),
    ("CancelWorkflows", p(Filter, Write, false)),
    ("ResumeWorkflow", p(WorkflowIds, Write, false)),
    ("ResumeWorkflows", p(Filter, Write, false)),
    ("ForkWorkflow", p(WorkflowIds, Write, false)),
    ("ForkWorkflows", p(Filter, Write, false)),
    ("DeleteWorkflow", p(WorkflowIds, Write, false)),
    ("DeleteWorkflows", p(Filter, Write, false)),
    ("ListWorkflowSteps", p(WorkflowIds, Read, false)),
    ("ListQueuedWorkflows", p(Filter, Read, false)),
    ("SetWorkflowDelay", p(WorkflowIds, Write, false)),
    ("SetWorkflowPriority", p(WorkflowIds, Write, false)),
    ("UpdateWorkflowAttributes", p(WorkflowIds, Write, false)),
    ("RegisterQueue", p(WholeDatabase, Write, false)),
    ("GetQueue", p(WholeDatabase, Read, false)),
    ("ListQueues", p(WholeDatabase, Read, false)),
    ("UpdateQueue", p(WholeDatabase, Write, false)),
    ("DeleteQueue", p(WholeDatabase, Write, false)),
    ("ListApplicationVersions", p(WholeDatabase, Read, false)),
    ("GetLatestApplicationVersion", p(WholeDatabase, Read, false)),
    (
        "SetLatestApplicationVersion",
        p(WholeDatabase, Write, false),
    ),
    ("RenameApplication", p(WholeDatabase, Write, false)),
    ("SendMessages", p(WorkflowIds, Write, false)),
    ("Transact", p(WholeDatabase, Write, false)),
    ("GetWorkflowEvents", p(WorkflowIds, Read, false)),
    ("GetWorkflowAggregates", p(Filter, Read, false)),
    ("GetStepAggregates", p(WholeDatabase, Read, false)),
    ("CreateSchedule", p(WholeDatabase, Write, false)),
    ("ApplySchedules", p(WholeDatabase, Write, false)),
    ("UpdateSchedule", p(WholeDatabase, Write, false)),
    ("ListSchedules", p(WholeDatabase, Read, false)),
    ("GetSchedule", p(WholeDatabase, Read, false)),
    ("PauseSchedule", p(WholeDatabase, Write, false)),
    ("ResumeSchedule", p(WholeDatabase, Write, false)),
    ("DeleteSchedule", p(WholeDatabase, Write, false)),
    ("TriggerSchedule", p(WholeDatabase, Write, false)),
    ("BackfillSchedule", p(WholeDatabase, Write, false)),
];

/// The method a request path (`/dbosd.v1.WorkflowService/<Method>`) calls, with its policy; `None`
/// for another service or a method the table does not know (tonic answers UNIMPLEMENTED).
pub fn for_path(path: &str) -> Option<(&'static str, &'static Policy)> {
    let (service, method) = path.trim_start_matches('/').split_once('/')?;
    if service != SERVICE {
        return None;
    }
    POLICIES
        .iter()
        .find(|(name, _)| *name == method)
        .map(|(name, policy)| (*name, policy))
}

/// The RPC a call tagged by the auth layer is for.
#[derive(Debug, Clone, Copy)]
pub struct CalledMethod {
    pub name: &'static str,
    pub policy: &'static Policy,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use prost::Message;

    use super::*;
    use crate::pb;

    /// The service's methods from the descriptor set dbosd registers for reflection.
    fn service_methods() -> Vec<prost_types::MethodDescriptorProto> {
        let set = prost_types::FileDescriptorSet::decode(pb::FILE_DESCRIPTOR_SET).unwrap();
        set.file
            .iter()
            .filter(|f| f.package() == "dbosd.v1")
            .flat_map(|f| f.service.iter())
            .filter(|s| format!("dbosd.v1.{}", s.name()) == SERVICE)
            .flat_map(|s| s.method.clone())
            .collect()
    }

    #[test]
    fn every_rpc_has_exactly_one_policy_and_every_policy_an_rpc() {
        let methods = service_methods();
        assert!(methods.len() > 40, "the descriptor lists the service");
        let rpcs: BTreeSet<&str> = methods.iter().map(|m| m.name()).collect();
        let mut named = BTreeSet::new();
        for (name, _) in POLICIES {
            assert!(named.insert(*name), "{name} has two policies");
        }
        let missing: Vec<_> = rpcs.difference(&named).collect();
        assert!(missing.is_empty(), "RPCs without a policy: {missing:?}");
        let stray: Vec<_> = named.difference(&rpcs).collect();
        assert!(stray.is_empty(), "policies naming no RPC: {stray:?}");
        // `polling` says what the descriptor says: streams wait, and so does GetEvent.
        for m in &methods {
            let (_, policy) = for_path(&format!("/{SERVICE}/{}", m.name())).unwrap();
            let waits = m.server_streaming() || m.name() == "GetEvent";
            assert_eq!(policy.polling, waits, "{}", m.name());
        }
        // Calls over state shared by every application, spelled out so that a table edit that
        // opens one to scoped tokens fails here.
        let whole: BTreeSet<&str> = POLICIES
            .iter()
            .filter(|(_, p)| p.scope == WholeDatabase)
            .map(|(name, _)| *name)
            .collect();
        let expected: BTreeSet<&str> = [
            "DebounceWorkflow",
            "RegisterQueue",
            "GetQueue",
            "ListQueues",
            "UpdateQueue",
            "DeleteQueue",
            "ListApplicationVersions",
            "GetLatestApplicationVersion",
            "SetLatestApplicationVersion",
            "RenameApplication",
            "Transact",
            "GetStepAggregates",
            "CreateSchedule",
            "ApplySchedules",
            "UpdateSchedule",
            "ListSchedules",
            "GetSchedule",
            "PauseSchedule",
            "ResumeSchedule",
            "DeleteSchedule",
            "TriggerSchedule",
            "BackfillSchedule",
        ]
        .into();
        assert_eq!(whole, expected);
        // Every RPC whose name says it changes something is a write.
        for (name, policy) in POLICIES {
            let verb = ["Get", "List", "Await", "Watch", "Read"];
            let reads = verb.iter().any(|v| name.starts_with(v));
            assert_eq!(policy.access == Read, reads, "{name}");
        }
        assert!(for_path("/grpc.health.v1.Health/Check").is_none());
        assert!(for_path(&format!("/{SERVICE}/NoSuchMethod")).is_none());
    }
}
