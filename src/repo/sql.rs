//! SQL text built once at startup for the detected schema: schema-qualified names, and `NULL` stand-ins
//! for columns an older DBOS schema lacks, so every statement is a fixed string the driver can cache.

use crate::repo::{db::schema::SchemaInfo, db::scope};

/// `workflow_status` columns dbosd reads, with the type used when a column is missing.
const STATUS_COLUMNS: &[(&str, &str)] = &[
    ("workflow_uuid", "text"),
    ("status", "text"),
    ("name", "text"),
    ("class_name", "text"),
    ("config_name", "text"),
    ("queue_name", "text"),
    ("application_name", "text"),
    ("application_version", "text"),
    ("application_id", "text"),
    ("executor_id", "text"),
    ("authenticated_user", "text"),
    ("assumed_role", "text"),
    ("authenticated_roles", "text"),
    ("serialization", "text"),
    ("recovery_attempts", "bigint"),
    ("priority", "integer"),
    ("deduplication_id", "text"),
    ("queue_partition_key", "text"),
    ("workflow_timeout_ms", "bigint"),
    ("workflow_deadline_epoch_ms", "bigint"),
    ("created_at", "bigint"),
    ("updated_at", "bigint"),
    ("started_at_epoch_ms", "bigint"),
    ("completed_at", "bigint"),
    ("delay_until_epoch_ms", "bigint"),
    ("forked_from", "text"),
    ("was_forked_from", "boolean"),
    ("parent_workflow_id", "text"),
    ("schedule_name", "text"),
    ("is_debounced", "boolean"),
];

/// A list statement around its WHERE: `head` + WHERE + ORDER BY + LIMIT, then `tail` (joining the
/// payloads to the page) and the ORDER BY again over `page`, when there is a tail.
#[derive(Debug, Clone)]
pub(crate) struct ListSql {
    pub head: String,
    pub tail: Option<String>,
}

/// Every statement dbosd runs, specialised for one schema.
#[derive(Debug, Clone)]
pub(crate) struct Statements {
    /// `SELECT <row> FROM ... WHERE ws.workflow_uuid = $1` inside the scope `$2`/`$3` (see
    /// `repo::db::scope`), with all payloads.
    pub get_workflow: String,
    /// `SELECT <row> ... WHERE ws.workflow_uuid = $1` (scope `$2`/`$3`) without input, with output
    /// and error.
    pub get_outcome: String,
    /// Like `get_outcome` for `= ANY($1)`.
    pub get_outcomes: String,
    /// A stream's writer status and values from an offset (see `repo::messaging::streams`).
    pub read_stream: String,
    /// A page of a workflow's messages and its stream keys (see `repo::messaging::inbox`).
    pub list_messages: String,
    pub stream_keys: String,
    /// The hub's batched poll (see `repo::waits`), and its keyed part alone.
    pub poll: String,
    pub poll_keys: String,
    /// List SELECTs around their WHERE, indexed by `load_input as usize * 2 + load_output as usize`.
    pub list_prefix: [ListSql; 4],
    /// The enqueue statement (see `repo::workflows::enqueue`).
    pub enqueue: crate::repo::workflows::statement::EnqueueSql,
    pub dedup_holder: String,
    /// DebounceWorkflow's statements, where the schema has debouncing.
    pub debounce: Option<crate::repo::debounce::DebounceSql>,
    /// Every workflow forked (recursively) from `$1` inside the scope `$2`/`$3`, in id order.
    pub forks_of: String,
    /// Inserts a message for `$1` when it exists inside the scope `$5`/`$6`: (exists, inserted).
    pub send: String,
    /// An event's value, `$1`/`$2`, of a workflow inside the scope `$3`/`$4`.
    pub get_event: String,
    /// The workflow management statements.
    pub manage: crate::repo::manage::sql::ManageStatements,
    /// A workflow's status row (scope `$2`/`$3`) LEFT JOINed with its events (one NULL event row
    /// when it has none).
    pub get_all_events: String,
    /// Queue registry, application versions and rename; None where the schema predates them.
    pub queues: Option<crate::repo::queues::QueueSql>,
    pub versions: Option<crate::repo::versions::app_versions::VersionSql>,
    pub rename: Option<crate::repo::versions::rename::RenameSql>,
    pub schedules: Option<crate::repo::schedules::ScheduleSql>,
}

impl Statements {
    pub fn build(s: &SchemaInfo) -> Self {
        let ws = s.table("workflow_status");
        let has_input = s.has_table("workflow_input");
        let has_output = s.has_table("workflow_output");
        let inputs_expr = match (has_input, s.has_column("workflow_status", "inputs")) {
            (true, true) => "COALESCE(wi.inputs, ws.inputs)",
            (true, false) => "wi.inputs",
            (false, true) => "ws.inputs",
            (false, false) => "NULL::text",
        };
        let outcome_expr = |col: &str| match (has_output, s.has_column("workflow_status", col)) {
            (true, true) => format!("COALESCE(wo.{col}, ws.{col})"),
            (true, false) => format!("wo.{col}"),
            (false, true) => format!("ws.{col}"),
            (false, false) => "NULL::text".to_owned(),
        };
        let mut base: Vec<String> = STATUS_COLUMNS
            .iter()
            .map(|(col, ty)| {
                if s.has_column("workflow_status", col) {
                    format!("ws.{col}")
                } else {
                    format!("NULL::{ty} AS {col}")
                }
            })
            .collect();
        base.push(if s.has_column("workflow_status", "attributes") {
            "ws.attributes::text AS attributes".to_owned()
        } else {
            "NULL::text AS attributes".to_owned()
        });
        let select = |input: bool, output: bool| {
            let mut cols = base.clone();
            cols.push(format!(
                "{} AS inputs",
                if input { inputs_expr } else { "NULL::text" }
            ));
            for col in ["output", "error"] {
                let expr = if output {
                    outcome_expr(col)
                } else {
                    "NULL::text".to_owned()
                };
                cols.push(format!("{expr} AS {col}"));
            }
            let mut from = format!("SELECT {} FROM {ws} ws", cols.join(", "));
            if input && has_input {
                from += &format!(
                    " LEFT JOIN {} wi ON wi.workflow_uuid = ws.workflow_uuid",
                    s.table("workflow_input")
                );
            }
            if output && has_output {
                from += &format!(
                    " LEFT JOIN {} wo ON wo.workflow_uuid = ws.workflow_uuid",
                    s.table("workflow_output")
                );
            }
            from
        };

        // A page with payloads: the page of `workflow_status` rows first (as without payloads),
        // then its payload rows joined to those few. Joined in one SELECT, PostgreSQL plans the
        // joins against every index of workflow_status on each page (~0.5 ms of planning, and no
        // generic plan); this way the joins are planned over the page alone and the statement
        // gets its generic plan (measured over 1,000,000 rows: 1.1 ms -> 0.47 ms a page).
        let list_page = |input: bool, output: bool| {
            if !input && !output {
                return ListSql {
                    head: select(false, false),
                    tail: None,
                };
            }
            let mut inner = base.clone();
            let mut outer: Vec<String> = STATUS_COLUMNS
                .iter()
                .map(|(col, _)| format!("page.{col}"))
                .collect();
            outer.push("page.attributes".to_owned());
            let mut joins = String::new();
            let mut payload = |want: bool, table: &str, alias: &str, col: &str| {
                let own = s.has_column("workflow_status", col);
                if own && want {
                    inner.push(format!("ws.{col} AS ws_{col}"));
                }
                let has_table = s.has_table(table);
                outer.push(match (want, has_table, own) {
                    (false, _, _) | (true, false, false) => format!("NULL::text AS {col}"),
                    (true, true, true) => {
                        format!("COALESCE({alias}.{col}, page.ws_{col}) AS {col}")
                    }
                    (true, true, false) => format!("{alias}.{col} AS {col}"),
                    (true, false, true) => format!("page.ws_{col} AS {col}"),
                });
                if want && has_table && !joins.contains(&format!(" {alias} ")) {
                    joins += &format!(
                        " LEFT JOIN {} {alias} ON {alias}.workflow_uuid = page.workflow_uuid",
                        s.table(table)
                    );
                }
            };
            payload(input, "workflow_input", "wi", "inputs");
            payload(output, "workflow_output", "wo", "output");
            payload(output, "workflow_output", "wo", "error");
            ListSql {
                head: format!(
                    "WITH page AS MATERIALIZED (SELECT {} FROM {ws} ws",
                    inner.join(", ")
                ),
                tail: Some(format!(") SELECT {} FROM page{joins}", outer.join(", "))),
            }
        };

        let scoped = |first: usize| scope::predicate(s, "ws", first, first + 1);
        Statements {
            get_workflow: format!(
                "{} WHERE ws.workflow_uuid = $1 AND {}",
                select(true, true),
                scoped(2)
            ),
            get_outcome: format!(
                "{} WHERE ws.workflow_uuid = $1 AND {}",
                select(false, true),
                scoped(2)
            ),
            get_outcomes: format!(
                "{} WHERE ws.workflow_uuid = ANY($1) AND {}",
                select(false, true),
                scoped(2)
            ),
            read_stream: crate::repo::messaging::streams::read_stream_sql(s, &scoped(5)),
            list_messages: crate::repo::messaging::inbox::list_messages_sql(s, &scoped(7)),
            stream_keys: crate::repo::messaging::inbox::stream_keys_sql(s, &scoped(2)),
            poll: crate::repo::waits::poll_sql(s, &select(false, false)),
            poll_keys: crate::repo::waits::poll_keys_sql(s),
            list_prefix: [
                list_page(false, false),
                list_page(false, true),
                list_page(true, false),
                list_page(true, true),
            ],
            enqueue: crate::repo::workflows::statement::EnqueueSql::build(s),
            forks_of: if s.has_column("workflow_status", "forked_from") {
                // A fork outside the scope is neither reached nor walked through.
                format!(
                    "WITH RECURSIVE f(id) AS (SELECT ws.workflow_uuid FROM {ws} ws WHERE ws.forked_from = $1 AND {in_scope} \
                     UNION SELECT ws.workflow_uuid FROM {ws} ws JOIN f ON ws.forked_from = f.id WHERE {in_scope}) \
                     SELECT id FROM f ORDER BY id",
                    in_scope = scoped(2),
                )
            } else {
                "SELECT NULL::text WHERE $1::text IS NULL AND $2::text[] IS NULL AND $3::text[] IS NULL"
                    .to_owned()
            },
            debounce: crate::repo::debounce::DebounceSql::build(s),
            // With its owner, so a holder outside the caller's scope is not returned.
            dedup_holder: format!(
                "SELECT workflow_uuid, status, {app}, queue_name FROM {ws} \
                 WHERE queue_name = $1 AND deduplication_id = $2",
                app = if s.has_column("workflow_status", "application_name") {
                    "application_name"
                } else {
                    "NULL::text"
                }
            ),
            // The destination is looked up with the scope in the statement that inserts, so a
            // workflow outside it is answered exactly as one that does not exist.
            send: format!(
                "WITH target AS (SELECT ws.workflow_uuid FROM {ws} ws WHERE ws.workflow_uuid = $1 AND {}), \
                 ins AS (INSERT INTO {} (destination_uuid, topic, message, message_uuid, serialization) \
                   SELECT target.workflow_uuid, $2::text, $3::text, $4::text, 'portable_json' FROM target \
                   ON CONFLICT (message_uuid) DO NOTHING RETURNING message_uuid) \
                 SELECT EXISTS (SELECT 1 FROM target), EXISTS (SELECT 1 FROM ins)",
                scoped(5),
                s.table("notifications")
            ),
            get_event: format!(
                "SELECT e.value, e.serialization FROM {} e JOIN {ws} ws ON ws.workflow_uuid = e.workflow_uuid \
                 WHERE e.workflow_uuid = $1 AND e.key = $2 AND {}",
                s.table("workflow_events"),
                scoped(3)
            ),
            manage: crate::repo::manage::sql::ManageStatements::build(s),
            get_all_events: format!(
                "SELECT e.key, e.value, e.serialization FROM {ws} ws LEFT JOIN {} e \
                 ON e.workflow_uuid = ws.workflow_uuid WHERE ws.workflow_uuid = $1 AND {} ORDER BY e.key",
                s.table("workflow_events"),
                scoped(2)
            ),
            queues: crate::repo::queues::QueueSql::build(s),
            versions: crate::repo::versions::app_versions::VersionSql::build(s),
            rename: crate::repo::versions::rename::RenameSql::build(s),
            schedules: crate::repo::schedules::ScheduleSql::build(s),
        }
    }
}
