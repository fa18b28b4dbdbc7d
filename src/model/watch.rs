//! WatchWorkflows' in-memory filter over the hub's transition feed, and JSON containment as
//! PostgreSQL's `jsonb @>` defines it.

use super::{ListFilter, Scope, WorkflowRow, WorkflowStatus};

/// WatchWorkflows' filter, matched in memory against each transition of the shared feed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WatchFilter {
    pub queue_names: Vec<String>,
    pub names: Vec<String>,
    pub statuses: Vec<WorkflowStatus>,
    pub application_names: Vec<String>,
    /// A JSON object the row's attributes must contain (as `@>` does).
    pub attributes: Option<serde_json::Value>,
    pub workflow_ids: Vec<String>,
    pub id_prefixes: Vec<String>,
    /// The caller's token scope.
    pub scope: Scope,
}

impl WatchFilter {
    /// Whether a status row matches, ignoring its status (callers that track a workflow keep
    /// following it after it stops matching, e.g. when cancel clears its queue).
    pub fn matches_workflow(&self, row: &WorkflowRow) -> bool {
        let any = |values: &[String], v: &Option<String>| {
            values.is_empty() || v.as_ref().is_some_and(|v| values.contains(v))
        };
        any(&self.queue_names, &row.queue_name)
            && any(&self.names, &row.name)
            && (self.workflow_ids.is_empty() || self.workflow_ids.contains(&row.workflow_id))
            && (self.id_prefixes.is_empty()
                || self
                    .id_prefixes
                    .iter()
                    .any(|p| row.workflow_id.starts_with(p.as_str())))
            && (self.application_names.is_empty()
                || row
                    .application_name
                    .as_ref()
                    .is_none_or(|a| self.application_names.contains(a)))
            && self
                .scope
                .allows(row.application_name.as_deref(), row.queue_name.as_deref())
            && self.attributes.as_ref().is_none_or(|want| {
                row.attributes
                    .as_deref()
                    .and_then(|a| serde_json::from_str::<serde_json::Value>(a).ok())
                    .is_some_and(|have| json_contains(&have, want))
            })
    }

    /// Whether the row's status is one the watcher asked for.
    pub fn matches_status(&self, row: &WorkflowRow) -> bool {
        self.statuses.is_empty() || row.status().is_some_and(|s| self.statuses.contains(&s))
    }

    /// The same filter for a ListWorkflows-style query (used to replay missed transitions).
    pub fn to_list_filter(&self) -> ListFilter {
        ListFilter {
            workflow_ids: self.workflow_ids.clone(),
            statuses: self.statuses.clone(),
            names: self.names.clone(),
            queue_names: self.queue_names.clone(),
            id_prefixes: self.id_prefixes.clone(),
            attributes: self.attributes.as_ref().map(|a| a.to_string()),
            application_names: self.application_names.clone(),
            scope: self.scope.clone(),
            ..ListFilter::default()
        }
    }
}

/// JSON containment with the semantics of PostgreSQL's `jsonb @>`: objects contain sub-objects,
/// arrays contain every element of the other array, scalars equal.
pub fn json_contains(have: &serde_json::Value, want: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    match (have, want) {
        (J::Object(h), J::Object(w)) => w
            .iter()
            .all(|(k, wv)| h.get(k).is_some_and(|hv| json_contains(hv, wv))),
        (J::Array(h), J::Array(w)) => w.iter().all(|wv| h.iter().any(|hv| json_contains(hv, wv))),
        (J::Array(h), scalar) if !scalar.is_object() && !scalar.is_array() => h.contains(scalar),
        (J::Number(a), J::Number(b)) => a.as_f64() == b.as_f64(),
        (a, b) => a == b,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::json_contains;

    #[test]
    fn containment_follows_jsonb() {
        assert!(json_contains(
            &json!({"a": 1, "b": {"c": [1, 2]}}),
            &json!({"b": {"c": [2]}})
        ));
        assert!(!json_contains(&json!({"a": 1}), &json!({"a": 2})));
        assert!(json_contains(&json!([1, 2, 3]), &json!([3, 1])));
        assert!(json_contains(&json!({"n": 1.0}), &json!({"n": 1})));
        assert!(!json_contains(&json!({"a": [1]}), &json!({"a": 1, "b": 2})));
    }
}
