//! Enqueue: the `workflow_status` row and its `workflow_input` row written by ONE statement (a
//! data-modifying CTE, atomic without BEGIN/COMMIT) in one round trip, as the DBOS clients'
//! two-insert transaction writes them.

use tokio_postgres::{types::Type, GenericClient, Row, Transaction};

use crate::repo::db::row::Columns;
use crate::repo::{
    db::classify::classify,
    db::classify::is_unique_violation,
    db::schema::SchemaInfo,
    sql::Statements,
    workflows::{
        outcome::{outcome, outcomes},
        session::EnqueueSession,
    },
    Param, Repo, Unnamed,
};
use crate::{
    error::{Error, Result},
    model::{EnqueueOutcome, Enqueued, NewWorkflow, WorkflowStatus},
};

/// How many times an enqueue under RETURN_EXISTING retries when the deduplication holder vanishes
/// between the failed insert and the lookup.
const DEDUP_RETRIES: usize = 5;

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
        let insert = format!(
            "INSERT INTO {ws} AS cur ({cols}) SELECT {select} FROM {rows} \
             ON CONFLICT (workflow_uuid) DO UPDATE SET name = cur.name \
             RETURNING cur.workflow_uuid, cur.status, cur.name, cur.class_name, cur.config_name, \
               cur.queue_name, {owner}, {created} AS created",
            ws = s.table("workflow_status"),
            cols = columns
                .iter()
                .map(|(c, _)| *c)
                .collect::<Vec<_>>()
                .join(", "),
            select = select.join(", "),
        );
        let text = if has_input {
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
        } else {
            insert
        };
        EnqueueSql { text, arrays }
    }

    /// The parameters' types, in placeholder order (for preparing the statement).
    pub(in crate::repo) fn types(&self) -> Vec<Type> {
        let mut types = vec![Type::TEXT];
        types.extend(self.arrays.iter().map(|(_, elem)| elem.array().1));
        types
    }

    /// The statement's parameters for `wfs`: the creator token, then one array per per-row column.
    pub(in crate::repo) fn params(&self, token: &str, wfs: &[NewWorkflow]) -> Vec<Box<dyn Param>> {
        let mut params: Vec<Box<dyn Param>> = vec![Box::new(token.to_owned())];
        for (name, elem) in &self.arrays {
            let text = |f: fn(&NewWorkflow) -> Option<String>| -> Box<dyn Param> {
                Box::new(wfs.iter().map(f).collect::<Vec<_>>())
            };
            let int8 = |f: fn(&NewWorkflow) -> Option<i64>| -> Box<dyn Param> {
                Box::new(wfs.iter().map(f).collect::<Vec<_>>())
            };
            params.push(match (*name, elem) {
                ("workflow_uuid", _) => text(|w| Some(w.workflow_id.clone())),
                ("status", _) => text(|w| Some(initial_status(w).as_str().to_owned())),
                ("name", _) => text(|w| Some(w.name.clone())),
                ("class_name", _) => text(|w| w.class_name.clone()),
                ("config_name", _) => text(|w| w.config_name.clone()),
                ("queue_name", _) => text(|w| Some(w.queue_name.clone())),
                ("application_version", _) => text(|w| w.app_version.clone()),
                ("authenticated_user", _) => text(|w| w.authenticated_user.clone()),
                ("authenticated_roles", _) => text(|w| w.authenticated_roles.clone()),
                ("assumed_role", _) => text(|w| w.assumed_role.clone()),
                ("workflow_timeout_ms", _) => int8(|w| w.timeout_ms),
                ("workflow_deadline_epoch_ms", _) => int8(|w| w.deadline_epoch_ms),
                ("deduplication_id", _) => text(|w| w.deduplication_id.clone()),
                ("priority", _) => Box::new(wfs.iter().map(|w| w.priority).collect::<Vec<i32>>()),
                ("queue_partition_key", _) => text(|w| w.queue_partition_key.clone()),
                ("delay_until_epoch_ms", _) => int8(|w| w.delay_ms),
                ("attributes", _) => text(|w| w.attributes.clone()),
                ("serialization", _) => text(|w| w.serialization.clone()),
                ("schedule_name", _) => text(|w| w.schedule_name.clone()),
                ("debounce_deadline_epoch_ms", _) => int8(|w| w.debounce_deadline_epoch_ms),
                ("is_debounced", _) => {
                    Box::new(wfs.iter().map(|w| w.is_debounced).collect::<Vec<bool>>())
                }
                ("application_name", _) => text(|w| w.application_name.clone()),
                // "inputs" (inline, older schemas) and "input" (workflow_input) carry the same text.
                (_, ElemType::Text) => text(|w| Some(w.inputs.clone())),
                (other, _) => {
                    // Every per-row column above has an arm; an unknown one is a bug caught by tests.
                    tracing::error!(column = other, "enqueue column without a value");
                    int8(|_| None)
                }
            });
        }
        params
    }
}

pub(in crate::repo) fn initial_status(wf: &NewWorkflow) -> WorkflowStatus {
    if wf.delay_ms.is_some() {
        WorkflowStatus::Delayed
    } else {
        WorkflowStatus::Enqueued
    }
}

/// A deduplication id is held by another active workflow of its queue (the database's detail).
pub(in crate::repo) struct DedupConflict(String);

impl Repo {
    /// Enqueues `wf` atomically (status row and input row), as the DBOS clients do.
    pub async fn enqueue(&self, wf: &NewWorkflow) -> Result<Enqueued> {
        for attempt in 1.. {
            let conn = self.conn().await?;
            // One workflow needs no transaction: on a conflict nothing was inserted.
            match run(&**conn, self.sql(), std::slice::from_ref(wf)).await? {
                Ok(rows) => return outcome(wf, rows.first()),
                Err(DedupConflict(_)) => {
                    if let Some(done) = dedup_holder(&**conn, self.sql(), wf, attempt).await? {
                        return Ok(done);
                    }
                }
            }
        }
        unreachable!("the attempts are unbounded; dedup_holder ends the loop")
    }

    /// Enqueues independent workflows with one statement where it can (on `session` when given,
    /// else on a pooled connection): each gets its own outcome, as if enqueued alone. Ids must be
    /// distinct. When the shared statement fails for a reason that may belong to one workflow (a
    /// deduplication conflict, a value the database rejects), nothing was written and each is
    /// enqueued alone, so only the workflow at fault gets the error.
    pub async fn enqueue_each(
        &self,
        wfs: &[NewWorkflow],
        session: Option<&EnqueueSession>,
    ) -> Vec<Result<Enqueued>> {
        let mut shared = match session {
            Some(session) => Some(session.run(self.sql(), wfs).await),
            None => None,
        };
        // A broken session (say, a database restart, or its backend terminated) tells nothing
        // about the workflows: the pool may still reach the database.
        let broken = session.is_some_and(EnqueueSession::is_closed)
            || matches!(shared, Some(Err(Error::Unavailable(_))));
        if broken || (shared.is_none() && wfs.len() > 1) {
            shared = Some(match self.conn().await {
                Ok(conn) => run(&**conn, self.sql(), wfs).await,
                Err(e) => Err(e),
            });
        }
        match shared {
            Some(Ok(Ok(rows))) => return outcomes(wfs, &rows),
            Some(Err(e)) if e.retryable() => {
                return wfs.iter().map(|_| Err(e.for_another_caller())).collect()
            }
            _ => {}
        }
        futures::future::join_all(wfs.iter().map(|wf| self.enqueue(wf))).await
    }

    /// Enqueues several workflows atomically (one statement in one transaction): every one is
    /// written, or none. Ids must be distinct. A deduplication conflict fails the whole batch with
    /// ALREADY_EXISTS.
    pub async fn enqueue_many(&self, wfs: &[NewWorkflow]) -> Result<Vec<Enqueued>> {
        let mut conn = self.conn().await?;
        // A batch that finds a conflicting id after inserting others must undo them: dropping `tx`
        // on an error rolls it back.
        let tx = conn
            .transaction()
            .await
            .map_err(|e| classify("enqueueing workflows", e))?;
        let done = match run(&tx, self.sql(), wfs).await? {
            Ok(rows) => outcomes(wfs, &rows)
                .into_iter()
                .collect::<Result<Vec<_>>>()?,
            Err(DedupConflict(detail)) => {
                return Err(Error::AlreadyExists(format!(
                    "a workflow of the batch was deduplicated ({detail}); nothing was enqueued"
                )))
            }
        };
        tx.commit()
            .await
            .map_err(|e| classify("enqueueing workflows", e))?;
        Ok(done)
    }
}

/// Enqueues `wf` inside the caller's transaction (Transact): like [`Repo::enqueue`], with a savepoint
/// around the statement so a deduplication conflict or an existing id leaves the transaction usable.
pub(crate) async fn enqueue_in(
    tx: &mut Transaction<'_>,
    sql: &Statements,
    wf: &NewWorkflow,
) -> Result<Enqueued> {
    let ctx = "enqueueing a workflow";
    for attempt in 1.. {
        let sp = tx
            .savepoint("dbosd_enqueue")
            .await
            .map_err(|e| classify(ctx, e))?;
        match run(&sp, sql, std::slice::from_ref(wf)).await? {
            Ok(rows) => {
                sp.commit().await.map_err(|e| classify(ctx, e))?;
                return outcome(wf, rows.first());
            }
            Err(DedupConflict(_)) => {
                sp.rollback().await.map_err(|e| classify(ctx, e))?;
                if let Some(done) = dedup_holder(&*tx, sql, wf, attempt).await? {
                    return Ok(done);
                }
            }
        }
    }
    unreachable!("the attempts are unbounded; dedup_holder ends the loop")
}

/// Runs the enqueue statement for `wfs` on `client` (which the caller commits or rolls back).
/// `Ok(Err(DedupConflict))` leaves a transaction aborted.
async fn run(
    client: &(impl GenericClient + Sync),
    sql: &Statements,
    wfs: &[NewWorkflow],
) -> Result<Result<Vec<Row>, DedupConflict>> {
    let stmt = &sql.enqueue;
    let token = uuid::Uuid::new_v4().to_string();
    let params = stmt.params(&token, wfs);
    let params: Vec<&dyn Param> = params.iter().map(|p| p.as_ref()).collect();
    settle(client.query_unnamed(&stmt.text, &params).await)
}

/// The enqueue statement's rows, or its deduplication conflict, or its error.
pub(in crate::repo) fn settle(
    done: Result<Vec<Row>, tokio_postgres::Error>,
) -> Result<Result<Vec<Row>, DedupConflict>> {
    match done {
        Ok(rows) => Ok(Ok(rows)),
        Err(e) => dedup_or_error(e),
    }
}

/// After a deduplication conflict: ALREADY_EXISTS under REJECT, else the holder (DEDUPLICATED), or
/// None to retry the insert when the holder released the id meanwhile (ABORTED after a few tries).
async fn dedup_holder(
    client: &(impl GenericClient + Sync),
    sql: &Statements,
    wf: &NewWorkflow,
    attempt: usize,
) -> Result<Option<Enqueued>> {
    let queue = wf.queue_name.as_str();
    let dedup = wf.deduplication_id.as_deref().unwrap_or_default();
    if !wf.return_existing_on_dedup {
        return Err(Error::AlreadyExists(format!(
            "workflow {} was deduplicated: an active workflow in queue {queue} already has deduplication id {dedup}",
            wf.workflow_id
        )));
    }
    let holder = client
        .query_opt_unnamed(sql.dedup_holder.as_str(), &[&queue, &dedup])
        .await
        .map_err(|e| classify("looking up the deduplication holder", e))?;
    if let Some(row) = holder {
        let (app, queue): (Option<String>, Option<String>) = (row.col(2)?, row.col(3)?);
        if !wf.caller_scope.allows(app.as_deref(), queue.as_deref()) {
            // Another application's workflow holds the id: answered as REJECT would be.
            return Err(Error::AlreadyExists(format!(
                "workflow {} was deduplicated: an active workflow in queue {queue} already has deduplication id {dedup}",
                wf.workflow_id,
                queue = wf.queue_name,
            )));
        }
        return Ok(Some(Enqueued {
            workflow_id: row.col(0)?,
            outcome: EnqueueOutcome::Deduplicated,
            status: row
                .col::<_, Option<String>>(1)?
                .as_deref()
                .and_then(WorkflowStatus::parse),
        }));
    }
    if attempt >= DEDUP_RETRIES {
        return Err(Error::Aborted(format!(
            "deduplication id {dedup} of queue {queue} kept changing hands; retry"
        )));
    }
    Ok(None)
}

/// A failed enqueue statement: a deduplication conflict (reported with the database's detail), or
/// an error.
fn dedup_or_error<T>(e: tokio_postgres::Error) -> Result<Result<T, DedupConflict>> {
    if is_unique_violation(&e, "dedup") {
        let detail = e
            .as_db_error()
            .and_then(|d| d.detail())
            .unwrap_or("duplicate deduplication id");
        return Ok(Err(DedupConflict(detail.to_owned())));
    }
    Err(classify("enqueueing workflows", e))
}
