//! The caller's scope in SQL. Every statement that reads or changes workflows a caller names carries
//! the scope as a predicate on the owning `workflow_status` row, bound as two text arrays
//! (applications, queues; NULL for "any"), so ownership is decided by the same statement that reads
//! or locks the row. A row outside the scope is then exactly a row that is not there.

use crate::model::Scope;
use crate::repo::db::schema::SchemaInfo;

/// `<alias>` (a `workflow_status` row) is inside the scope bound at `$apps` and `$queues`. Where the
/// schema has no owning application, every row is unclaimed and so outside a restricted scope.
pub(crate) fn predicate(s: &SchemaInfo, alias: &str, apps: usize, queues: usize) -> String {
    let app = if s.has_column("workflow_status", "application_name") {
        format!("(${apps}::text[] IS NULL OR {alias}.application_name = ANY(${apps}::text[]))")
    } else {
        format!("${apps}::text[] IS NULL")
    };
    format!("{app} AND (${queues}::text[] IS NULL OR {alias}.queue_name = ANY(${queues}::text[]))")
}

/// A scope's bind values, kept alive for a statement's parameter list.
pub(crate) struct Bound {
    pub apps: Option<Vec<String>>,
    pub queues: Option<Vec<String>>,
}

impl Bound {
    pub(crate) fn of(scope: &Scope) -> Self {
        let (apps, queues) = scope.bind();
        Bound { apps, queues }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unrestricted_scope_binds_nulls_and_restricted_binds_lists() {
        let any = Bound::of(&Scope::default());
        assert!(any.apps.is_none() && any.queues.is_none());
        let alpha = Bound::of(&Scope {
            applications: Some(vec!["alpha".into()]),
            queues: None,
        });
        assert_eq!(alpha.apps.as_deref(), Some(&["alpha".to_owned()][..]));
        assert!(alpha.queues.is_none());
    }
}
