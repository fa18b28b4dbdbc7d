//! SQL of the workflow management calls (the rows DBOS's own `DBOSClient` management calls write; ARCHITECTURE.md, "Row contract"), built once at
//! startup for the detected schema. Columns newer than DBOS migration 11 (the oldest schema dbosd
//! serves) are written only where the schema has them; statements that need a missing table are `None`.

use crate::repo::{db::schema::SchemaInfo, db::scope};

/// The database clock in epoch milliseconds, as DBOS writes timestamps.
const NOW_MS: &str = "(EXTRACT(epoch FROM now()) * 1000)::bigint";

/// The fork mapping: `$1` source ids and `$2` fork ids, pairwise.
const FORK_MAP: &str = "unnest($1::text[], $2::text[]) AS m(orig_id, fork_id)";

/// Statements of the management calls, specialised for one schema.
#[derive(Debug, Clone)]
pub(crate) struct ManageStatements {
    /// `SELECT ws.workflow_uuid, ws.status FROM .. ws`: the locking selection, completed per call.
    pub select_prefix: String,
    /// Locks and reads the children of `$1` ids inside the scope `$2`/`$3`: workflow_uuid, status,
    /// parent_workflow_id (a child outside the scope is neither touched nor walked through).
    pub lock_children: String,
    /// Cancel on `$1` ids; returns the cancelled ids.
    pub cancel: String,
    /// Resume on `$1` ids onto queue `$2`; returns the resumed ids.
    pub resume: String,
    /// Delete: the payload deletes (no foreign key), then the status delete (cascades; returns ids).
    pub delete_payloads: Vec<String>,
    pub delete_status: String,
    /// The last recorded step of each of `$1` ids.
    pub last_steps: String,
    /// Fork rows; parameters: map, keep_version, version, queue, partition key, default app, timeout.
    pub fork_status: String,
    pub fork_input: Option<String>,
    pub mark_forked: Option<String>,
    /// Fork history copies below step `$3` (copy_steps also takes `$4`/`$5` child replacements).
    pub copy_steps: String,
    pub copy_events_history: String,
    pub copy_events: String,
    pub copy_streams: String,
    /// Locks one workflow (`$1`, inside the scope `$2`/`$3`) and reads its status.
    pub lock_one: String,
    /// Whether workflow `$1` exists inside the scope `$2`/`$3`.
    pub exists: String,
    /// Which of `$1` ids exist inside the scope `$2`/`$3`, share-locked for the transaction (a
    /// fork's replacement children must stay what was checked until it commits).
    pub share_in_scope: String,
    /// In-flight changes of workflow `$1`.
    pub set_delay: Option<String>,
    pub set_priority: String,
    pub replace_attributes: Option<String>,
    pub merge_attributes: Option<String>,
    /// Steps of `$1` after function_id `$2` (NULL: from the start), `LIMIT $3 OFFSET $4`, while
    /// the workflow is inside the scope `$5`/`$6`; indexed by `load_output as usize`.
    pub list_steps: [String; 2],
}

impl ManageStatements {
    pub fn build(s: &SchemaInfo) -> Self {
        let ws = s.table("workflow_status");
        let oo = s.table("operation_outputs");
        let status_has = |c: &str| s.has_column("workflow_status", c);
        // `SET` lists keep only the columns this schema has.
        let set = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .filter(|(c, _)| status_has(c))
                .map(|(c, v)| format!("{c} = {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let cancel_set = set(&[
            ("status", "'CANCELLED'"),
            ("owner_xid", "NULL"),
            ("queue_name", "NULL"),
            ("deduplication_id", "NULL"),
            ("started_at_epoch_ms", "NULL"),
            ("updated_at", NOW_MS),
            ("completed_at", NOW_MS),
        ]);
        let resume_set = set(&[
            ("status", "'ENQUEUED'"),
            ("owner_xid", "NULL"),
            ("queue_name", "$2"),
            ("recovery_attempts", "0"),
            ("workflow_deadline_epoch_ms", "NULL"),
            ("deduplication_id", "NULL"),
            ("started_at_epoch_ms", "NULL"),
            ("updated_at", NOW_MS),
            ("completed_at", "NULL"),
        ]);
        let delete_payloads = ["workflow_input", "workflow_output", "operation_outputs"]
            .iter()
            .filter(|t| s.has_table(t))
            .map(|t| format!("DELETE FROM {} WHERE workflow_uuid = ANY($1)", s.table(t)))
            .collect();
        let attributes = status_has("attributes");
        let attributes_update = |value: &str| {
            format!(
                "UPDATE {ws} SET attributes = {value}, updated_at = {NOW_MS} \
                 WHERE workflow_uuid = $1 RETURNING attributes::text"
            )
        };
        ManageStatements {
            select_prefix: format!("SELECT ws.workflow_uuid, ws.status FROM {ws} ws"),
            lock_children: format!(
                "SELECT ws.workflow_uuid, ws.status, ws.parent_workflow_id FROM {ws} ws \
                 WHERE ws.parent_workflow_id = ANY($1) AND {} ORDER BY ws.workflow_uuid FOR UPDATE",
                scope::predicate(s, "ws", 2, 3)
            ),
            share_in_scope: format!(
                "SELECT ws.workflow_uuid FROM {ws} ws WHERE ws.workflow_uuid = ANY($1) AND {} \
                 FOR SHARE",
                scope::predicate(s, "ws", 2, 3)
            ),
            // Unlike Python and TS, an already CANCELLED row is left alone (as Go does): nothing to change.
            cancel: format!(
                "UPDATE {ws} SET {cancel_set} WHERE workflow_uuid = ANY($1) \
                 AND status NOT IN ('SUCCESS', 'ERROR', 'CANCELLED') RETURNING workflow_uuid"
            ),
            resume: format!(
                "UPDATE {ws} SET {resume_set} WHERE workflow_uuid = ANY($1) \
                 AND status NOT IN ('SUCCESS', 'ERROR') RETURNING workflow_uuid"
            ),
            delete_payloads,
            delete_status: format!(
                "DELETE FROM {ws} WHERE workflow_uuid = ANY($1) RETURNING workflow_uuid"
            ),
            last_steps: format!(
                "SELECT workflow_uuid, max(function_id) FROM {oo} \
                 WHERE workflow_uuid = ANY($1) GROUP BY workflow_uuid"
            ),
            fork_status: fork_status(s),
            fork_input: s.has_table("workflow_input").then(|| {
                let inputs = if status_has("inputs") {
                    "COALESCE(i.inputs, s.inputs)"
                } else {
                    "i.inputs"
                };
                format!(
                    "INSERT INTO {wi} (workflow_uuid, inputs) SELECT m.fork_id, {inputs} \
                     FROM {FORK_MAP} JOIN {ws} s ON s.workflow_uuid = m.orig_id \
                     LEFT JOIN {wi} i ON i.workflow_uuid = m.orig_id",
                    wi = s.table("workflow_input"),
                )
            }),
            mark_forked: status_has("was_forked_from").then(|| {
                format!("UPDATE {ws} SET was_forked_from = TRUE WHERE workflow_uuid = ANY($1)")
            }),
            copy_steps: copy_steps(s),
            copy_events_history: format!(
                "INSERT INTO {h} (workflow_uuid, function_id, key, value, serialization) \
                 SELECT m.fork_id, h.function_id, h.key, h.value, h.serialization FROM {FORK_MAP} \
                 JOIN {h} h ON h.workflow_uuid = m.orig_id AND h.function_id < $3",
                h = s.table("workflow_events_history"),
            ),
            // Only the latest value per key below the cut.
            copy_events: format!(
                "INSERT INTO {e} (workflow_uuid, key, value, serialization) \
                 SELECT fork_id, key, value, serialization FROM ( \
                   SELECT m.fork_id, h.key, h.value, h.serialization, ROW_NUMBER() OVER \
                     (PARTITION BY m.fork_id, h.key ORDER BY h.function_id DESC) AS rn \
                   FROM {FORK_MAP} JOIN {h} h ON h.workflow_uuid = m.orig_id AND h.function_id < $3 \
                 ) ranked WHERE rn = 1",
                e = s.table("workflow_events"),
                h = s.table("workflow_events_history"),
            ),
            copy_streams: format!(
                "INSERT INTO {st} (workflow_uuid, key, value, \"offset\", function_id, serialization) \
                 SELECT m.fork_id, st.key, st.value, st.\"offset\", st.function_id, st.serialization \
                 FROM {FORK_MAP} JOIN {st} st ON st.workflow_uuid = m.orig_id AND st.function_id < $3",
                st = s.table("streams"),
            ),
            lock_one: format!(
                "SELECT ws.status FROM {ws} ws WHERE ws.workflow_uuid = $1 AND {} FOR UPDATE",
                scope::predicate(s, "ws", 2, 3)
            ),
            exists: format!(
                "SELECT EXISTS (SELECT 1 FROM {ws} ws WHERE ws.workflow_uuid = $1 AND {})",
                scope::predicate(s, "ws", 2, 3)
            ),
            set_delay: status_has("delay_until_epoch_ms").then(|| {
                format!(
                    "UPDATE {ws} SET delay_until_epoch_ms = COALESCE($2::bigint, {NOW_MS} + $3::bigint), \
                     updated_at = {NOW_MS} WHERE workflow_uuid = $1 AND status = 'DELAYED' \
                     RETURNING delay_until_epoch_ms"
                )
            }),
            set_priority: format!(
                "UPDATE {ws} SET priority = $2, updated_at = {NOW_MS} \
                 WHERE workflow_uuid = $1 AND status IN ('ENQUEUED', 'DELAYED') RETURNING priority"
            ),
            replace_attributes: attributes.then(|| attributes_update("$2::text::jsonb")),
            // Python's merge: a non-object (NULL, JSON null) counts as an empty object.
            merge_attributes: attributes.then(|| {
                attributes_update(
                    "(CASE WHEN jsonb_typeof(attributes) = 'object' THEN attributes \
                     ELSE '{}'::jsonb END) || $2::text::jsonb",
                )
            }),
            list_steps: [false, true].map(|load| {
                let payload = if load { "output, error" } else { "NULL::text AS output, NULL::text AS error" };
                format!(
                    "SELECT function_id, function_name, {payload}, serialization, child_workflow_id, \
                     started_at_epoch_ms, completed_at_epoch_ms FROM {oo} \
                     WHERE workflow_uuid = $1 AND ($2::int4 IS NULL OR function_id > $2) \
                     AND EXISTS (SELECT 1 FROM {ws} ws WHERE ws.workflow_uuid = $1 AND {}) \
                     ORDER BY function_id LIMIT $3 OFFSET $4",
                    scope::predicate(s, "ws", 5, 6)
                )
            }),
        }
    }
}

/// The fork's status row, copied from its source . The scalar parameters sit in one
/// CTE so each is referenced whichever optional columns the schema has.
fn fork_status(s: &SchemaInfo) -> String {
    let columns: &[(&str, &str)] = &[
        ("workflow_uuid", "m.fork_id"),
        ("status", "'ENQUEUED'"),
        ("name", "s.name"),
        ("class_name", "s.class_name"),
        ("config_name", "s.config_name"),
        (
            "application_version",
            "CASE WHEN p.keep_version THEN s.application_version ELSE p.version END",
        ),
        ("application_id", "s.application_id"),
        ("authenticated_user", "s.authenticated_user"),
        ("authenticated_roles", "s.authenticated_roles"),
        ("assumed_role", "s.assumed_role"),
        ("serialization", "s.serialization"),
        ("queue_name", "p.queue"),
        ("queue_partition_key", "p.partition_key"),
        ("forked_from", "s.workflow_uuid"),
        ("attributes", "s.attributes"),
        // The source's owner runs the fork; an unclaimed source is claimed for dbosd's application.
        (
            "application_name",
            "COALESCE(s.application_name, p.default_app)",
        ),
        ("workflow_timeout_ms", "p.timeout_ms"),
        ("recovery_attempts", "0"),
        // Inputs go inline only where there is no workflow_input table.
        ("inputs", "s.inputs"),
    ];
    let (cols, exprs): (Vec<&str>, Vec<&str>) = columns
        .iter()
        .filter(|(c, _)| s.has_column("workflow_status", c))
        .filter(|(c, _)| *c != "inputs" || !s.has_table("workflow_input"))
        .copied()
        .unzip();
    format!(
        "WITH p AS (SELECT $3::bool AS keep_version, $4::text AS version, $5::text AS queue, \
           $6::text AS partition_key, $7::text AS default_app, $8::bigint AS timeout_ms) \
         INSERT INTO {ws} ({cols}) SELECT {exprs} \
         FROM {FORK_MAP} JOIN {ws} s ON s.workflow_uuid = m.orig_id CROSS JOIN p",
        ws = s.table("workflow_status"),
        cols = cols.join(", "),
        exprs = exprs.join(", "),
    )
}

/// Step checkpoints below `$3`, owned by the fork's owner, with child ids rewritten through the
/// `$4` → `$5` replacement pairs (the fork's step 5).
fn copy_steps(s: &SchemaInfo) -> String {
    let oo_has = |c: &str| s.has_column("operation_outputs", c);
    let mut columns = vec![
        ("workflow_uuid", "m.fork_id"),
        ("function_id", "o.function_id"),
        ("function_name", "o.function_name"),
        ("output", "o.output"),
        ("error", "o.error"),
        (
            "child_workflow_id",
            "COALESCE(r.new_id, o.child_workflow_id)",
        ),
        ("started_at_epoch_ms", "o.started_at_epoch_ms"),
        ("completed_at_epoch_ms", "o.completed_at_epoch_ms"),
        ("serialization", "o.serialization"),
    ];
    if oo_has("application_name") && s.has_column("workflow_status", "application_name") {
        columns.push(("application_name", "f.application_name"));
    }
    if oo_has("retention_timestamp") {
        columns.push(("retention_timestamp", NOW_MS));
    }
    let (cols, exprs): (Vec<&str>, Vec<&str>) = columns.into_iter().unzip();
    format!(
        "INSERT INTO {oo} ({cols}) SELECT {exprs} FROM {FORK_MAP} \
         JOIN {oo} o ON o.workflow_uuid = m.orig_id AND o.function_id < $3 \
         JOIN {ws} f ON f.workflow_uuid = m.fork_id \
         LEFT JOIN unnest($4::text[], $5::text[]) AS r(old_id, new_id) ON r.old_id = o.child_workflow_id",
        oo = s.table("operation_outputs"),
        ws = s.table("workflow_status"),
        cols = cols.join(", "),
        exprs = exprs.join(", "),
    )
}
