//! ListWorkflows: the filtered, keyset-paged SELECT over `workflow_status`, and the [`Where`] builder
//! that turns a [`ListFilter`] into SQL for it, ListQueuedWorkflows and the bulk management calls.
//!
//! User values only ever travel as bind parameters; the SQL text is assembled from fixed fragments.

use crate::model::WorkflowRow;
use crate::repo::{db::classify::classify, workflows::status::decode_row, Param, Repo};
use crate::{
    error::Result,
    model::{ListFilter, ListQuery, PageCursor, WorkflowPage},
};

/// Accumulates `AND`ed conditions on `workflow_status` (aliased `ws`) and their parameters.
pub(crate) struct Where<'a> {
    repo: &'a Repo,
    pub(crate) clauses: Vec<String>,
    params: Vec<Box<dyn Param>>,
}

impl<'a> Where<'a> {
    pub(crate) fn new(repo: &'a Repo) -> Self {
        Where {
            repo,
            clauses: Vec::new(),
            params: Vec::new(),
        }
    }

    /// The next placeholder, bound to `value`.
    pub(crate) fn bind<T: Param + 'static>(&mut self, value: T) -> String {
        self.params.push(Box::new(value));
        format!("${}", self.params.len())
    }

    /// `ws.<column>`, or a NULL of the right type where an older schema lacks the column
    /// (so a filter on it matches nothing instead of failing).
    pub(crate) fn col(&self, column: &str, ty: &str) -> String {
        if self.repo.schema().has_column("workflow_status", column) {
            format!("ws.{column}")
        } else {
            format!("NULL::{ty}")
        }
    }

    fn any_of(&mut self, column: &str, values: &[String]) {
        if values.is_empty() {
            return;
        }
        let col = self.col(column, "text");
        let p = self.bind(values.to_vec());
        self.clauses.push(format!("{col} = ANY({p})"));
    }

    fn compare(&mut self, column: &str, op: &str, value: Option<i64>) {
        if let Some(v) = value {
            let col = self.col(column, "bigint");
            let p = self.bind(v);
            self.clauses.push(format!("{col} {op} {p}"));
        }
    }

    fn is_null(&mut self, column: &str, null: Option<bool>) {
        if let Some(null) = null {
            let col = self.col(column, "text");
            let not = if null { "" } else { " NOT" };
            self.clauses.push(format!("{col} IS{not} NULL"));
        }
    }

    fn equals_bool(&mut self, column: &str, value: Option<bool>) {
        if let Some(v) = value {
            let col = self.col(column, "boolean");
            let p = self.bind(v);
            self.clauses.push(format!("{col} = {p}"));
        }
    }

    /// Adds every condition of `f`.
    pub(crate) fn filter(&mut self, f: &ListFilter) {
        self.any_of("workflow_uuid", &f.workflow_ids);
        let statuses: Vec<String> = f.statuses.iter().map(|s| s.as_str().to_owned()).collect();
        self.any_of("status", &statuses);
        self.any_of("name", &f.names);
        self.compare("created_at", ">=", f.created_after);
        self.compare("created_at", "<=", f.created_before);
        self.compare("completed_at", ">=", f.completed_after);
        self.compare("completed_at", "<=", f.completed_before);
        self.compare("started_at_epoch_ms", ">=", f.dequeued_after);
        self.compare("started_at_epoch_ms", "<=", f.dequeued_before);
        self.any_of("application_version", &f.app_versions);
        self.any_of("forked_from", &f.forked_from);
        self.any_of("parent_workflow_id", &f.parent_workflow_ids);
        self.any_of("authenticated_user", &f.authenticated_users);
        self.any_of("queue_name", &f.queue_names);
        self.any_of("executor_id", &f.executor_ids);
        if !f.id_prefixes.is_empty() {
            let patterns: Vec<String> = f.id_prefixes.iter().map(|p| like_prefix(p)).collect();
            let p = self.bind(patterns);
            self.clauses.push(format!("ws.workflow_uuid LIKE ANY({p})"));
        }
        self.equals_bool("was_forked_from", f.was_forked_from);
        self.is_null("forked_from", f.is_fork.map(|fork| !fork));
        self.is_null("parent_workflow_id", f.has_parent.map(|child| !child));
        if let Some(attrs) = &f.attributes {
            let col = self.col("attributes", "jsonb");
            let p = self.bind(attrs.clone());
            self.clauses.push(format!("{col} @> {p}::text::jsonb"));
        }
        self.any_of("schedule_name", &f.schedule_names);
        self.any_of("deduplication_id", &f.deduplication_ids);
        self.equals_bool("is_debounced", f.is_debounced);
        self.compare("updated_at", ">=", f.updated_after);
        if !f.application_names.is_empty() {
            let col = self.col("application_name", "text");
            let p = self.bind(f.application_names.clone());
            self.clauses
                .push(format!("({col} = ANY({p}) OR {col} IS NULL)"));
        }
        // A restricted scope keeps to its own applications and queues, never unclaimed rows.
        for (column, allowed) in [
            ("application_name", &f.scope.applications),
            ("queue_name", &f.scope.queues),
        ] {
            if let Some(allowed) = allowed {
                let col = self.col(column, "text");
                let p = self.bind(allowed.clone());
                self.clauses.push(format!("{col} = ANY({p})"));
            }
        }
        if f.queues_only {
            // As the Python client: queued means "has a queue", and active unless statuses are given.
            self.clauses.push("ws.queue_name IS NOT NULL".to_owned());
            if f.statuses.is_empty() {
                self.clauses
                    .push("ws.status IN ('ENQUEUED', 'DELAYED', 'PENDING')".to_owned());
            }
        }
    }

    /// ` WHERE <conditions>`, or nothing when there are none.
    pub(crate) fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }

    /// The bound parameters, in placeholder order.
    pub(crate) fn params(&self) -> Vec<&dyn Param> {
        self.params.iter().map(|p| p.as_ref()).collect()
    }

    fn after(&mut self, cursor: &PageCursor, desc: bool) {
        let op = if desc { "<" } else { ">" };
        let c = self.bind(cursor.created_at);
        let id = self.bind(cursor.workflow_id.clone());
        // The leading range keeps the created_at index usable; the OR breaks ties by id.
        let range = if desc { "<=" } else { ">=" };
        self.clauses.push(format!(
            "ws.created_at {range} {c} AND (ws.created_at {op} {c} OR ws.workflow_uuid {op} {id})"
        ));
    }
}

/// A LIKE pattern matching values that start with `prefix` literally.
pub(crate) fn like_prefix(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for ch in prefix.chars() {
        if matches!(ch, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(ch);
    }
    pattern.push('%');
    pattern
}

/// What a [`Repo::list_workflows_each`] consumer does after a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// The row is taken: hand over the next one.
    More,
    /// The row was not taken (the page is full): the page ends before it, and continues from it.
    Stop,
}

impl Repo {
    /// One page of workflows matching `query`, and the cursor of the next page if there is one.
    pub async fn list_workflows(&self, query: &ListQuery) -> Result<WorkflowPage> {
        let mut rows = Vec::new();
        let next = self
            .list_workflows_each(query, |row| {
                rows.push(row);
                Ok(Take::More)
            })
            .await?;
        Ok(WorkflowPage { rows, next })
    }

    /// One page of workflows matching `query`, each handed to `take` as PostgreSQL sends it
    /// (decoded, never collected here: a page with payloads is converted while the rest of it is
    /// still arriving, and only one row is held at a time). `take` may end the page early
    /// ([`Take::Stop`]: that row opens the next page). Returns the cursor of the next page, if any.
    pub async fn list_workflows_each(
        &self,
        query: &ListQuery,
        mut take: impl FnMut(WorkflowRow) -> Result<Take>,
    ) -> Result<Option<PageCursor>> {
        let mut w = Where::new(self);
        w.filter(&query.filter);
        if let Some(after) = &query.after {
            w.after(after, query.sort_desc);
        }
        let list = &self.sql().list_prefix
            [usize::from(query.load_input) * 2 + usize::from(query.load_output)];
        let dir = if query.sort_desc { "DESC" } else { "ASC" };
        let order = if query.by_updated_at {
            "updated_at"
        } else {
            "created_at"
        };
        let mut sql = list.head.clone() + &w.sql();
        // The limit is written into the text, not bound: with a bound limit PostgreSQL's generic
        // plan must assume a tenth of the table is wanted and plans a parallel scan, so it replans
        // every call (~0.6 ms with payloads, measured over 1,000,000 rows). With the number in the
        // text the generic plan is the index walk, planned once per connection. A number only, so
        // nothing a caller sends reaches the text; callers use a handful of page sizes.
        sql += &format!(
            " ORDER BY ws.{order} {dir}, ws.workflow_uuid {dir} LIMIT {}",
            query.limit + 1
        );
        if let Some(offset) = query.offset {
            let p = w.bind(offset);
            sql += &format!(" OFFSET {p}");
        }
        if let Some(tail) = &list.tail {
            sql += &format!("{tail} ORDER BY page.{order} {dir}, page.workflow_uuid {dir}");
        }
        let params = w.params();
        let conn = self.conn().await?;
        let limit = usize::try_from(query.limit).unwrap_or(0);
        let mut taken = 0;
        let mut last: Option<PageCursor> = None;
        // Whether a row past the page's last exists (the one more that was asked for, or the
        // one `take` refused).
        let mut more = false;
        conn.for_each_hot(sql.as_str(), &params, |row| {
            if taken == limit {
                more = true;
                return Err(None);
            }
            let row = decode_row(&row).map_err(Some)?;
            let cursor = PageCursor {
                created_at: row.created_at,
                workflow_id: row.workflow_id.clone(),
            };
            match take(row).map_err(Some)? {
                Take::More => {
                    taken += 1;
                    last = Some(cursor);
                    Ok(())
                }
                Take::Stop => {
                    more = true;
                    Err(None)
                }
            }
        })
        .await
        .map_err(|e| classify("listing workflows", e))?
        // `None`: the page ended before the result did, which is no error.
        .or_else(|stop| stop.map_or(Ok(()), Err))?;
        Ok(last.filter(|_| more))
    }
}

#[cfg(test)]
mod tests {
    use crate::repo::workflows::list::like_prefix;

    #[test]
    fn like_prefix_escapes_wildcards() {
        assert_eq!(like_prefix("a%b_c\\"), "a\\%b\\_c\\\\%");
        assert_eq!(like_prefix(""), "%");
    }
}
