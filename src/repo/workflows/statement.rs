//! The enqueue statement's text and parameters, built once per schema (`repo::sql` keeps it): one
//! data-modifying CTE writing the `workflow_status` row and its `workflow_input` row for any
//! number of workflows, with each column's value sourced per the detected schema.

use tokio_postgres::types::Type;

use super::columns::{AnyColumn, Column};
use crate::model::{NewWorkflow, WorkflowStatus};
use crate::repo::{db::schema::SchemaInfo, Param};

/// How a `workflow_status` column gets its value in the enqueue statement.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Source {
    /// One value per workflow, sent as an array of this element type and unnested.
    PerRow(ElemType),
    /// The same SQL expression for every row.
    Fixed(&'static str),
    /// The call's creator token (one per statement: "the insert that created the row").
    CreatorToken,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ElemType {
    Text,
    Int8,
    Int4,
    Bool,
}

impl ElemType {
    /// The array of this element type, as SQL names it and as sent.
    fn array(self) -> (&'static str, Type) {
        match self {
            ElemType::Text => ("text[]", Type::TEXT_ARRAY),
            ElemType::Int8 => ("int8[]", Type::INT8_ARRAY),
            ElemType::Int4 => ("int4[]", Type::INT4_ARRAY),
            ElemType::Bool => ("bool[]", Type::BOOL_ARRAY),
        }
    }
}

/// `workflow_status` columns an enqueue writes, in order (filtered to those the schema has).
const STATUS_COLUMNS: &[(&str, Source)] = &[
    ("workflow_uuid", Source::PerRow(ElemType::Text)),
    ("status", Source::PerRow(ElemType::Text)),
    ("name", Source::PerRow(ElemType::Text)),
    ("class_name", Source::PerRow(ElemType::Text)),
    ("config_name", Source::PerRow(ElemType::Text)),
    ("queue_name", Source::PerRow(ElemType::Text)),
    ("application_version", Source::PerRow(ElemType::Text)),
    ("authenticated_user", Source::PerRow(ElemType::Text)),
    ("authenticated_roles", Source::PerRow(ElemType::Text)),
    ("assumed_role", Source::PerRow(ElemType::Text)),
    ("recovery_attempts", Source::Fixed("0")),
    ("workflow_timeout_ms", Source::PerRow(ElemType::Int8)),
    ("workflow_deadline_epoch_ms", Source::PerRow(ElemType::Int8)),
    ("deduplication_id", Source::PerRow(ElemType::Text)),
    ("priority", Source::PerRow(ElemType::Int4)),
    ("serialization", Source::PerRow(ElemType::Text)),
    ("queue_partition_key", Source::PerRow(ElemType::Text)),
    ("creator_xid", Source::CreatorToken),
    ("delay_until_epoch_ms", Source::PerRow(ElemType::Int8)),
    ("attributes", Source::PerRow(ElemType::Text)),
    ("application_name", Source::PerRow(ElemType::Text)),
    ("inputs", Source::PerRow(ElemType::Text)),
    ("schedule_name", Source::PerRow(ElemType::Text)),
    ("is_debounced", Source::PerRow(ElemType::Bool)),
    ("debounce_deadline_epoch_ms", Source::PerRow(ElemType::Int8)),
];

/// The enqueue statement for one schema: any number of workflows in one statement (unnested
/// arrays), atomic on its own, one round trip.
#[derive(Debug, Clone)]
pub(crate) struct EnqueueSql {
    pub(in crate::repo) text: String,
    /// The same statement for workflows that must all be new (EnqueueWorkflows' first try): no
    /// `ON CONFLICT` on the id, so an id already taken fails the whole statement (a unique
    /// violation, nothing written) instead of returning the existing row. Same parameters and
    /// returned columns as `text`.
    pub(in crate::repo) fresh_text: String,
    /// Per-row parameters in placeholder order: column names, then `input` for `workflow_input`.
    arrays: Vec<(&'static str, ElemType)>,
}

impl EnqueueSql {
    pub fn build(s: &SchemaInfo) -> Self {
        let has_input = s.has_table("workflow_input");
        let columns: Vec<(&'static str, Source)> = STATUS_COLUMNS
            .iter()
            .copied()
            .filter(|(c, _)| s.has_column("workflow_status", c))
            // Inputs go inline only where there is no workflow_input table.
            .filter(|(c, _)| *c != "inputs" || !has_input)
            .collect();
        let mut arrays: Vec<(&'static str, ElemType)> = columns
            .iter()
            .filter_map(|(c, src)| match src {
                Source::PerRow(t) => Some((*c, *t)),
                _ => None,
            })
            .collect();
        if has_input {
            arrays.push(("input", ElemType::Text));
        }
        // $1 is the creator token; the arrays follow.
        let unnest: Vec<String> = arrays
            .iter()
            .enumerate()
            .map(|(i, (_, t))| format!("${}::{}", i + 2, t.array().0))
            .collect();
        let aliases: Vec<&str> = arrays.iter().map(|(c, _)| *c).collect();
        let select: Vec<String> = columns
            .iter()
            .map(|(c, src)| match (c, src) {
                (_, Source::Fixed(sql)) => (*sql).to_owned(),
                (_, Source::CreatorToken) => "$1".to_owned(),
                (&"attributes", _) => "u.attributes::jsonb".to_owned(),
                // The DB clock, like created_at, so every replica agrees on when a delay ends.
                (&"delay_until_epoch_ms", _) => {
                    "(EXTRACT(epoch FROM now()) * 1000)::bigint + u.delay_until_epoch_ms".to_owned()
                }
                (c, _) => format!("u.{c}"),
            })
            .collect();
        // Whether this statement inserted the row (rather than finding it): by the creator token
        // where the schema has one, else by the fresh row version's empty xmax.
        let created = if columns.iter().any(|(c, _)| *c == "creator_xid") {
            "cur.creator_xid IS NOT DISTINCT FROM $1"
        } else {
            "(cur.xmax = 0 AND $1::text IS NOT NULL)"
        };
        let rows = format!("unnest({}) AS u({})", unnest.join(", "), aliases.join(", "));
        // The existing row's owner, so an id taken outside the caller's scope reveals nothing.
        let owner = if s.has_column("workflow_status", "application_name") {
            "cur.application_name"
        } else {
            "NULL::text AS application_name"
        };
        let insert = |on_conflict: &str| {
            format!(
                "INSERT INTO {ws} AS cur ({cols}) SELECT {select} FROM {rows}{on_conflict} \
                 RETURNING cur.workflow_uuid, cur.status, cur.name, cur.class_name, cur.config_name, \
                   cur.queue_name, {owner}, {created} AS created",
                ws = s.table("workflow_status"),
                cols = columns
                    .iter()
                    .map(|(c, _)| *c)
                    .collect::<Vec<_>>()
                    .join(", "),
                select = select.join(", "),
            )
        };
        let with_input = |insert: String| {
            if !has_input {
                return insert;
            }
            // The input rows need only the id and input arrays, not every column again.
            let param = |name: &str| {
                let i = arrays.iter().position(|(c, _)| *c == name).unwrap_or(0);
                format!("${}::text[]", i + 2)
            };
            let inputs = format!(
                "unnest({}, {}) AS u(workflow_uuid, input)",
                param("workflow_uuid"),
                param("input")
            );
            format!(
                "WITH ins AS ({insert}), \
                 inp AS (INSERT INTO {wi} (workflow_uuid, inputs) \
                         SELECT u.workflow_uuid, u.input FROM {inputs} JOIN ins ON ins.workflow_uuid = u.workflow_uuid \
                         WHERE ins.created ON CONFLICT (workflow_uuid) DO NOTHING) \
                 SELECT workflow_uuid, status, name, class_name, config_name, queue_name, \
                   application_name, created FROM ins",
                wi = s.table("workflow_input"),
            )
        };
        let text = with_input(insert(
            " ON CONFLICT (workflow_uuid) DO UPDATE SET name = cur.name",
        ));
        let fresh_text = with_input(insert(""));
        EnqueueSql {
            text,
            fresh_text,
            arrays,
        }
    }

    /// The parameters' types, in placeholder order (for preparing the statement).
    pub(in crate::repo) fn types(&self) -> Vec<Type> {
        let mut types = vec![Type::TEXT];
        types.extend(self.arrays.iter().map(|(_, elem)| elem.array().1));
        types
    }

    /// The statement's parameters for `wfs`: the creator token, then one array per per-row column,
    /// each read from `wfs` as it is sent (`super::columns`).
    pub(in crate::repo) fn params<'a>(
        &self,
        token: &'a str,
        wfs: &'a [NewWorkflow],
    ) -> EnqueueParams<'a> {
        use AnyColumn::{Bool, Int4, Int8, Text};
        let text = |f: fn(&'a NewWorkflow) -> Option<&'a str>| Text(Column::new(wfs, f));
        let int8 = |f: fn(&'a NewWorkflow) -> Option<i64>| Int8(Column::new(wfs, f));
        let columns = self
            .arrays
            .iter()
            .map(|(name, elem)| match (*name, elem) {
                ("workflow_uuid", _) => text(|w| Some(w.workflow_id.as_str())),
                ("status", _) => text(|w| Some(initial_status(w).as_str())),
                ("name", _) => text(|w| Some(w.name.as_str())),
                ("class_name", _) => text(|w| w.class_name.as_deref()),
                ("config_name", _) => text(|w| w.config_name.as_deref()),
                ("queue_name", _) => text(|w| Some(w.queue_name.as_str())),
                ("application_version", _) => text(|w| w.app_version.as_deref()),
                ("authenticated_user", _) => text(|w| w.authenticated_user.as_deref()),
                ("authenticated_roles", _) => text(|w| w.authenticated_roles.as_deref()),
                ("assumed_role", _) => text(|w| w.assumed_role.as_deref()),
                ("workflow_timeout_ms", _) => int8(|w| w.timeout_ms),
                ("workflow_deadline_epoch_ms", _) => int8(|w| w.deadline_epoch_ms),
                ("deduplication_id", _) => text(|w| w.deduplication_id.as_deref()),
                ("priority", _) => Int4(Column::new(wfs, |w| w.priority)),
                ("queue_partition_key", _) => text(|w| w.queue_partition_key.as_deref()),
                ("delay_until_epoch_ms", _) => int8(|w| w.delay_ms),
                ("attributes", _) => text(|w| w.attributes.as_deref()),
                ("serialization", _) => text(|w| w.serialization.as_deref()),
                ("schedule_name", _) => text(|w| w.schedule_name.as_deref()),
                ("debounce_deadline_epoch_ms", _) => int8(|w| w.debounce_deadline_epoch_ms),
                ("is_debounced", _) => Bool(Column::new(wfs, |w| w.is_debounced)),
                ("application_name", _) => text(|w| w.application_name.as_deref()),
                // "inputs" (inline, older schemas) and "input" (workflow_input) carry the same text.
                (_, ElemType::Text) => text(|w| Some(w.inputs.as_str())),
                (other, _) => {
                    // Every per-row column above has an arm; an unknown one is a bug caught by tests.
                    tracing::error!(column = other, "enqueue column without a value");
                    int8(|_| None)
                }
            })
            .collect();
        EnqueueParams { token, columns }
    }
}

/// The enqueue statement's parameters, borrowing the workflows they are read from.
pub(in crate::repo) struct EnqueueParams<'a> {
    token: &'a str,
    columns: Vec<AnyColumn<'a>>,
}

impl EnqueueParams<'_> {
    /// In placeholder order, as a statement takes them.
    pub fn refs(&self) -> Vec<&dyn Param> {
        std::iter::once(&self.token as &dyn Param)
            .chain(self.columns.iter().map(|c| c as &dyn Param))
            .collect()
    }
}

pub(in crate::repo) fn initial_status(wf: &NewWorkflow) -> WorkflowStatus {
    if wf.delay_ms.is_some() {
        WorkflowStatus::Delayed
    } else {
        WorkflowStatus::Enqueued
    }
}
