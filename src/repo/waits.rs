//! The hub's batched poll: ONE statement per tick that reports a fingerprint of the current state of
//! the awaited workflows, event keys and streams of this tick's sweep chunk, the status rows created
//! or finished since a watermark (found through the `created_at` and `completed_at` indexes, so
//! their cost does not grow with the number of waits), plus (for WatchWorkflows) the status rows
//! changed since the feed's watermark. Empty arrays and NULL watermarks make the unused parts free,
//! so the statement never changes shape.
//!
//! A tick that needs neither watermark (every waited key in the chunk, no watcher: up to 1,000
//! waits) runs the keyed part alone, a second statement planned once; the full one is planned at
//! each run for its watermarks' values. Planning was most of the full statement's cost.
//!
//! The feed's part finds, every tick, the transitions DBOS writes into an indexed column: a new row
//! (`created_at`), a dequeue (`started_at_epoch_ms`) and an end, cancel included (`completed_at`).
//! What no index finds (resume, recovery and fork back to ENQUEUED, a DELAYED row's new delay) needs
//! a read of every in-flight row, which the caller asks for only now and then (its watermark is
//! NULL on the other ticks) so its cost stays bounded however many rows are in flight.

use tokio_postgres::{Client, Statement};

use crate::repo::db::row::Columns;
use crate::repo::{
    db::classify::classify, db::schema::SchemaInfo, workflows::status::decode_json_row, Repo,
};
use crate::{error::Result, model::WorkflowRow};

/// What one poll asks about, as the statement's parallel arrays: awaited workflow ids, then
/// (workflow id, key) pairs of awaited events and of awaited streams.
#[derive(Debug, Clone, Copy)]
pub struct PollKeys<'a> {
    pub status_ids: &'a [&'a str],
    pub event_ids: &'a [&'a str],
    pub event_keys: &'a [&'a str],
    pub stream_ids: &'a [&'a str],
    pub stream_keys: &'a [&'a str],
}

/// The feed's watermarks (epoch ms) for one poll; `None` asks for nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedSince {
    /// Rows changed since then that an indexed column finds (new, dequeued, finished).
    pub indexed: Option<i64>,
    /// In-flight rows changed since then, whatever changed (the rescan); only with `indexed`.
    pub rescan: Option<i64>,
}

/// What one poll found.
#[derive(Debug, Default)]
pub struct PollResult {
    /// (workflow id, status|updated_at) for awaited workflows that exist, and for every workflow
    /// created or finished since the recent watermark (awaited or not: the caller picks).
    pub statuses: Vec<(String, String)>,
    /// (workflow id, key, value fingerprint) for awaited events that are set.
    pub events: Vec<(String, String, String)>,
    /// (workflow id, key, highest offset) for awaited streams with values.
    pub streams: Vec<(String, String, String)>,
    /// Status rows changed since the feed's watermarks.
    pub changed: Vec<WorkflowRow>,
    /// The database clock (epoch ms) when the poll ran.
    pub db_now_ms: i64,
}

/// A status row's fingerprint as the poll statement computes it (`status || '|' || updated_at`; the
/// empty string for a row that is absent or has no status), so a waiter can tell the hub what its
/// own read saw.
pub fn status_fingerprint(row: Option<&WorkflowRow>) -> String {
    match row {
        Some(WorkflowRow {
            status: Some(status),
            updated_at,
            ..
        }) => format!("{status}|{updated_at}"),
        _ => String::new(),
    }
}

/// `column` at or after the watermark `param`, written as a closed range: without statistics
/// (a table no ANALYZE has seen yet) PostgreSQL guesses that a one-sided `>=` keeps a third of the
/// rows and scans the whole table (24 ms a tick at 100,000 rows, measured), but guesses a range
/// small and takes the index. The upper bound (about 30 years ahead) excludes nothing.
fn since(column: &str, param: &str) -> String {
    format!("({column} >= {param} AND {column} < {param} + 1000000000000)")
}

/// The arms every poll has: the swept workflows (looked up one by one through the primary key;
/// `OFFSET 0` keeps the lookup a per-id subquery: left to its estimates, PostgreSQL scanned all of
/// workflow_status for 1,000 ids, 12 ms at 100,000 rows, where the key takes 2 ms), the swept
/// events and streams, and the database clock. Parameters `$1`-`$5`.
fn keyed_arms(s: &SchemaInfo) -> [String; 4] {
    let ws = s.table("workflow_status");
    let events = s.table("workflow_events");
    let streams = if s.has_table("streams") {
        format!(
            "SELECT 'x', st.workflow_uuid, st.key, max(st.\"offset\")::text, NULL::text FROM {} st \
             JOIN unnest($4::text[], $5::text[]) AS k(id, key) ON st.workflow_uuid = k.id AND st.key = k.key \
             GROUP BY st.workflow_uuid, st.key",
            s.table("streams")
        )
    } else {
        "SELECT 'x', NULL::text, NULL::text, NULL::text, NULL::text WHERE $4::text[] IS NULL AND $5::text[] IS NULL"
            .to_owned()
    };
    [
        format!(
            "SELECT 's', s.id, NULL::text, s.fp, NULL::text FROM unnest($1::text[]) AS k(id) \
               CROSS JOIN LATERAL (SELECT ws.workflow_uuid AS id, ws.status || '|' || ws.updated_at AS fp \
                 FROM {ws} ws WHERE ws.workflow_uuid = k.id OFFSET 0) s"
        ),
        format!(
            "SELECT 'e', ev.workflow_uuid, ev.key, md5(ev.value) || '|' || coalesce(ev.serialization, ''), NULL::text \
               FROM {events} ev JOIN unnest($2::text[], $3::text[]) AS k(id, key) \
               ON ev.workflow_uuid = k.id AND ev.key = k.key"
        ),
        streams,
        "SELECT 'n', NULL::text, NULL::text, ((EXTRACT(epoch FROM now()) * 1000)::bigint)::text, NULL::text"
            .to_owned(),
    ]
}

/// The poll of a tick that sweeps every waited key and feeds no watcher (up to 1,000 waits, the
/// common case): the keyed arms alone. It has one good plan whatever its parameters (primary-key
/// lookups per key), so it is planned once: a custom plan of the full statement cost PostgreSQL
/// 0.4-1.2 ms of planning a tick, this one about 0.03 ms in all.
pub(crate) fn poll_keys_sql(s: &SchemaInfo) -> String {
    keyed_arms(s).join(" UNION ALL ")
}

/// Builds the full poll statement for a schema: the keyed arms, the rows created or finished since
/// `$7`, and the feed's changed rows since `$6` (rescan `$8`).
pub(crate) fn poll_sql(s: &SchemaInfo, status_select: &str) -> String {
    let ws = s.table("workflow_status");
    // Transitions DBOS writes into an indexed column, found every tick: new (created_at index),
    // dequeued (started_at index), finished or cancelled (completed_at index, set by both).
    let has = |c: &str| s.has_column("workflow_status", c);
    let mut indexed_sets = vec![since("ws.created_at", "$6")];
    if has("started_at_epoch_ms") {
        indexed_sets.push(since("ws.started_at_epoch_ms", "$6"));
    }
    if has("completed_at") {
        indexed_sets.push(since("ws.completed_at", "$6"));
    } else {
        indexed_sets.push("ws.status NOT IN ('ENQUEUED','PENDING','DELAYED')".to_owned());
    }
    // Every other change leaves its row in flight (ENQUEUED/PENDING, DELAYED: partial indexes) but
    // changes no indexed column: the rescan ($8, NULL on most ticks) reads all in-flight rows.
    let changed = format!(
        "$6::bigint IS NOT NULL AND ((ws.updated_at >= $6 AND ({indexed})) OR \
         ($8::bigint IS NOT NULL AND ws.updated_at >= $8 AND ws.status IN ('ENQUEUED','PENDING','DELAYED')))",
        indexed = indexed_sets.join(" OR "),
    );
    // Created or finished lately: the indexes on created_at and completed_at find these rows
    // whatever the number of waits (schemas before completed_at: new rows only).
    let recent = if has("completed_at") {
        format!(
            "{} OR {}",
            since("ws.created_at", "$7"),
            since("ws.completed_at", "$7")
        )
    } else {
        since("ws.created_at", "$7")
    };
    let [swept, events, streams, now] = keyed_arms(s);
    format!(
        "{swept} \
         UNION ALL \
         SELECT 's', ws.workflow_uuid, NULL::text, ws.status || '|' || ws.updated_at, NULL::text FROM {ws} ws \
           WHERE $7::bigint IS NOT NULL AND ({recent}) \
         UNION ALL {events} UNION ALL {streams} \
         UNION ALL \
         SELECT 'w', NULL::text, NULL::text, NULL::text, row_to_json(r)::text FROM ({status_select} \
           WHERE {changed}) r \
         UNION ALL {now}",
    )
}

/// How the poller's session plans its statements (`plan_cache_mode`), switched only when the
/// statement it runs changes: rare, as it follows the number of waits and watchers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PlanMode {
    /// The full statement, planned at each run with its watermarks' values: a generic plan cannot
    /// know that `created_at >= $7` selects a few rows, and could scan the whole table every tick.
    Custom,
    /// The keyed statement, planned once: primary-key lookups whatever the keys.
    Generic,
}

impl PlanMode {
    fn set_sql(self) -> &'static str {
        match self {
            PlanMode::Custom => "SET plan_cache_mode = force_custom_plan",
            PlanMode::Generic => "SET plan_cache_mode = force_generic_plan",
        }
    }
}

/// The poller's two statements, prepared once on the connection it keeps, and its session's mode.
pub struct Poller {
    full: Statement,
    keyed: Statement,
    mode: Option<PlanMode>,
}

impl Repo {
    /// Prepares the poll statements on `client` (a connection the poller keeps for itself alone:
    /// the poller changes its session's `plan_cache_mode`).
    pub async fn prepare_poll(&self, client: &Client) -> Result<Poller> {
        let prepare = |sql| async move {
            client
                .prepare(sql)
                .await
                .map_err(|e| classify("preparing the hub poll", e))
        };
        Ok(Poller {
            full: prepare(&self.sql().poll).await?,
            keyed: prepare(&self.sql().poll_keys).await?,
            mode: None,
        })
    }
}

impl Poller {
    /// Runs one poll for `set`; `recent_since` (epoch ms) asks for the status rows created or
    /// finished since then, `feed` for the status rows changed since its watermarks. Without
    /// either, the keyed statement alone runs.
    pub async fn poll(
        &mut self,
        client: &Client,
        set: PollKeys<'_>,
        recent_since: Option<i64>,
        feed: FeedSince,
    ) -> Result<PollResult> {
        let keys_only = recent_since.is_none() && feed == FeedSince::default();
        let mode = match keys_only {
            true => PlanMode::Generic,
            false => PlanMode::Custom,
        };
        if self.mode != Some(mode) {
            client
                .batch_execute(mode.set_sql())
                .await
                .map_err(|e| classify("polling for changes", e))?;
            self.mode = Some(mode);
        }
        let keyed: [&(dyn tokio_postgres::types::ToSql + Sync); 5] = [
            &set.status_ids,
            &set.event_ids,
            &set.event_keys,
            &set.stream_ids,
            &set.stream_keys,
        ];
        let rows = match keys_only {
            true => client.query(&self.keyed, &keyed).await,
            false => {
                let watermarks: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
                    [&feed.indexed, &recent_since, &feed.rescan];
                let params: Vec<_> = keyed.into_iter().chain(watermarks).collect();
                client.query(&self.full, &params).await
            }
        }
        .map_err(|e| classify("polling for changes", e))?;
        let mut result = PollResult::default();
        for row in rows {
            let kind: &str = row.col(0)?;
            let id: Option<String> = row.col(1)?;
            let key: Option<String> = row.col(2)?;
            let fp: Option<String> = row.col(3)?;
            match (kind, id, key, fp) {
                ("s", Some(id), _, Some(fp)) => result.statuses.push((id, fp)),
                ("e", Some(id), Some(key), Some(fp)) => result.events.push((id, key, fp)),
                ("x", Some(id), Some(key), Some(fp)) => result.streams.push((id, key, fp)),
                ("n", _, _, Some(now)) => result.db_now_ms = now.parse().unwrap_or_default(),
                ("w", ..) => {
                    if let Some(body) = row.col::<_, Option<String>>(4)? {
                        result.changed.push(decode_json_row(&body)?);
                    }
                }
                _ => {}
            }
        }
        Ok(result)
    }
}
