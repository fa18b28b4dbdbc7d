//! `streams`: reading a DBOS stream (values written by a workflow under a key, dense offsets from 0).

use crate::repo::db::row::Columns;
use crate::repo::{db::classify::classify, db::schema::SchemaInfo, db::scope::Bound, Repo};
use crate::{
    error::Result,
    model::Scope,
    model::{StoredValue, StreamRead, WorkflowStatus},
};

/// Values read per round trip.
pub const READ_BATCH: i32 = 100;

/// The writer's status joined with up to `$4` values from offset `$3` (one row with NULL values when
/// there are none; no row when the workflow does not exist or is outside `in_scope`, the scope
/// predicate on `ws` over `$5`/`$6`): a stream belongs to its workflow. The window is computed in
/// int8, so an offset near i32::MAX (the caller's, or a stored one) does not overflow.
pub(crate) fn read_stream_sql(s: &SchemaInfo, in_scope: &str) -> String {
    let ws = s.table("workflow_status");
    if !s.has_table("streams") {
        return format!(
            "SELECT ws.status, NULL::int4 AS \"offset\", NULL::text AS value, NULL::text AS serialization \
             FROM {ws} ws WHERE ws.workflow_uuid = $1 AND $2::text IS NOT NULL AND $3::int4 IS NOT NULL AND $4::int4 IS NOT NULL \
             AND {in_scope}"
        );
    }
    format!(
        "SELECT ws.status, st.\"offset\", st.value, st.serialization FROM {ws} ws \
         LEFT JOIN {streams} st ON st.workflow_uuid = ws.workflow_uuid AND st.key = $2 \
           AND st.\"offset\" >= $3 AND st.\"offset\"::int8 - $3::int4 < $4::int4 \
         WHERE ws.workflow_uuid = $1 AND {in_scope} ORDER BY st.\"offset\"",
        streams = s.table("streams"),
    )
}

impl Repo {
    /// The writer's status and the consecutive values of stream `key` from `offset`, of a workflow
    /// inside `scope` (one outside it reads as missing).
    pub async fn read_stream(
        &self,
        workflow_id: &str,
        key: &str,
        offset: i32,
        scope: &Scope,
    ) -> Result<StreamRead> {
        let conn = self.conn().await?;
        let bound = Bound::of(scope);
        let rows = conn
            .query_hot(
                self.sql().read_stream.as_str(),
                &[
                    &workflow_id,
                    &key,
                    &offset,
                    &READ_BATCH,
                    &bound.apps,
                    &bound.queues,
                ],
            )
            .await
            .map_err(|e| classify("reading a stream", e))?;
        let mut read = StreamRead {
            status: None,
            exists: !rows.is_empty(),
            values: Vec::new(),
        };
        let mut next = offset;
        for row in &rows {
            read.status = row
                .col::<_, Option<String>>(0)?
                .as_deref()
                .and_then(WorkflowStatus::parse);
            let (Some(at), Some(text)) = (
                row.col::<_, Option<i32>>(1)?,
                row.col::<_, Option<String>>(2)?,
            ) else {
                continue;
            };
            // Only a gap-free run is returned: a missing offset is a write still in flight.
            if at != next {
                break;
            }
            read.values.push((
                at,
                StoredValue {
                    text,
                    serialization: row.col(3)?,
                },
            ));
            // i32::MAX is the last offset a stream can hold.
            let Some(after) = next.checked_add(1) else {
                break;
            };
            next = after;
        }
        Ok(read)
    }
}
