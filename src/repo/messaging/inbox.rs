//! Listing what a workflow received and wrote: its messages (`notifications`, which `recv` marks
//! consumed and keeps) a page at a time, and a summary of each of its streams (`streams`). Both
//! statements read the workflow's status row with the caller's scope, so a workflow outside it
//! lists as one that does not exist.

use crate::repo::db::row::Columns;
use crate::repo::{
    db::classify::classify, db::schema::SchemaInfo, db::scope::Bound, Repo, Unnamed,
};
use crate::{
    error::Result,
    model::{
        is_stream_closed_marker, MessagePage, MessageQuery, MessageRow, Scope, StoredValue,
        StreamKeyRow, StreamKeys, NULL_TOPIC,
    },
};

/// Most stream keys one ListStreamKeys answers.
pub const MAX_STREAM_KEYS: i64 = 1000;

/// The close marker is 24 bytes at most: a last value is read only this far, so a closed check
/// never loads a large value.
const MARKER_PREFIX: i32 = 64;

/// The workflow's status row (`$1`, scope `$7`/`$8`) LEFT JOINed with up to `$6` of its messages
/// after (`$4` created_at ms, `$5` id), filtered by stored topic `$2` and consumed `$3` (NULL:
/// any); one all-NULL message row when none match, no row when the workflow is not there.
pub(crate) fn list_messages_sql(s: &SchemaInfo, in_scope: &str) -> String {
    let col = |name: &str, missing: &str| {
        if s.has_column("notifications", name) {
            format!("n.{name}")
        } else {
            missing.to_owned()
        }
    };
    let consumed = col("consumed", "false");
    format!(
        "SELECT m.message_uuid, m.topic, m.message, m.serialization, m.created_at_epoch_ms, \
           m.consumed, m.consumed_by \
         FROM {ws} ws LEFT JOIN LATERAL ( \
           SELECT n.message_uuid, n.topic, n.message, {ser} AS serialization, n.created_at_epoch_ms, \
             {consumed} AS consumed, {by} AS consumed_by \
           FROM {notifications} n WHERE n.destination_uuid = ws.workflow_uuid \
             AND ($2::text IS NULL OR COALESCE(n.topic, '{NULL_TOPIC}') = $2::text) \
             AND ($3::bool IS NULL OR {consumed} = $3::bool) \
             AND ($4::int8 IS NULL OR (n.created_at_epoch_ms, n.message_uuid) > ($4::int8, $5::text)) \
           ORDER BY n.created_at_epoch_ms, n.message_uuid LIMIT $6::int8) m ON true \
         WHERE ws.workflow_uuid = $1 AND {in_scope} \
         ORDER BY m.created_at_epoch_ms, m.message_uuid",
        ws = s.table("workflow_status"),
        notifications = s.table("notifications"),
        ser = col("serialization", "NULL::text"),
        by = col("consumed_by_function_id", "NULL::int4"),
    )
}

/// The workflow's status row (`$1`, scope `$2`/`$3`) LEFT JOINed with up to `$4` of its stream
/// keys: each key's row count, last offset and the start of the value there (one all-NULL row when
/// it wrote none, no row when the workflow is not there).
pub(crate) fn stream_keys_sql(s: &SchemaInfo, in_scope: &str) -> String {
    let ws = s.table("workflow_status");
    if !s.has_table("streams") {
        return format!(
            "SELECT NULL::text, NULL::int8, NULL::int4, NULL::text FROM {ws} ws \
             WHERE ws.workflow_uuid = $1 AND {in_scope} AND $4::int8 IS NOT NULL"
        );
    }
    format!(
        "SELECT k.key, k.n, k.last_offset, left(last.value, {MARKER_PREFIX}) \
         FROM {ws} ws LEFT JOIN LATERAL ( \
           SELECT st.key, count(*)::int8 AS n, max(st.\"offset\") AS last_offset FROM {streams} st \
           WHERE st.workflow_uuid = ws.workflow_uuid GROUP BY st.key ORDER BY st.key LIMIT $4::int8) k ON true \
         LEFT JOIN {streams} last ON last.workflow_uuid = ws.workflow_uuid AND last.key = k.key \
           AND last.\"offset\" = k.last_offset \
         WHERE ws.workflow_uuid = $1 AND {in_scope} ORDER BY k.key",
        streams = s.table("streams"),
    )
}

impl Repo {
    /// One page of the messages sent to a workflow inside `scope`, oldest first; `None` when the
    /// workflow does not exist or is outside `scope`.
    pub async fn list_messages(
        &self,
        query: &MessageQuery,
        scope: &Scope,
    ) -> Result<Option<MessagePage>> {
        let conn = self.conn().await?;
        let bound = Bound::of(scope);
        let (after_ms, after_id) = match &query.after {
            Some((ms, id)) => (Some(*ms), Some(id.as_str())),
            None => (None, None),
        };
        let rows = conn
            .query_unnamed(
                self.sql().list_messages.as_str(),
                &[
                    &query.workflow_id,
                    &query.topic,
                    &query.consumed,
                    &after_ms,
                    &after_id,
                    &(query.limit + 1),
                    &bound.apps,
                    &bound.queues,
                ],
            )
            .await
            .map_err(|e| classify("listing a workflow's messages", e))?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut messages = Vec::with_capacity(rows.len());
        for row in &rows {
            // The LEFT JOIN's all-NULL row: the workflow has no message that matches.
            let Some(message_id) = row.col::<_, Option<String>>(0)? else {
                continue;
            };
            messages.push(MessageRow {
                message_id,
                topic: row.col(1)?,
                message: StoredValue {
                    text: row.col(2)?,
                    serialization: row.col(3)?,
                },
                created_at_ms: row.col(4)?,
                consumed: row.col(5)?,
                consumed_by_function_id: row.col(6)?,
            });
        }
        let has_more = messages.len() as i64 > query.limit;
        messages.truncate(query.limit as usize);
        Ok(Some(MessagePage {
            rows: messages,
            has_more,
        }))
    }

    /// The streams a workflow inside `scope` wrote, by key (at most [`MAX_STREAM_KEYS`]); `None`
    /// when the workflow does not exist or is outside `scope`.
    pub async fn list_stream_keys(
        &self,
        workflow_id: &str,
        scope: &Scope,
    ) -> Result<Option<StreamKeys>> {
        let conn = self.conn().await?;
        let bound = Bound::of(scope);
        let rows = conn
            .query_unnamed(
                self.sql().stream_keys.as_str(),
                &[
                    &workflow_id,
                    &bound.apps,
                    &bound.queues,
                    &(MAX_STREAM_KEYS + 1),
                ],
            )
            .await
            .map_err(|e| classify("listing a workflow's streams", e))?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut keys = Vec::with_capacity(rows.len());
        for row in &rows {
            let Some(key) = row.col::<_, Option<String>>(0)? else {
                continue;
            };
            let count: i64 = row.col(1)?;
            let last_offset: i32 = row.col(2)?;
            // The row at the last offset may be gone in between (the workflow deleted): not closed.
            let closed = row
                .col::<_, Option<String>>(3)?
                .is_some_and(|v| is_stream_closed_marker(&v));
            let values = count - i64::from(closed);
            keys.push(StreamKeyRow {
                key,
                values: i32::try_from(values).unwrap_or(i32::MAX),
                last_offset,
                closed,
            });
        }
        let truncated = keys.len() as i64 > MAX_STREAM_KEYS;
        keys.truncate(MAX_STREAM_KEYS as usize);
        Ok(Some(StreamKeys { keys, truncated }))
    }
}
