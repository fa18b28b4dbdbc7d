//! The workflow export document: a portable, versioned JSON file holding one workflow (and, when
//! asked, its child workflows) as the rows of the DBOS system tables it owns, every column's value
//! exactly as stored (payload texts stay the text the writer wrote, so nothing is re-encoded).
//!
//! ```json
//! {"format": "dbosd.workflow-export", "version": 1, "workflow_id": "order-17",
//!  "exported_at_epoch_ms": 1767225600000, "source_schema_version": 125,
//!  "workflows": [{"workflow_id": "order-17",
//!                 "tables": {"workflow_status": [{...}], "operation_outputs": [{...}, ...], ...}}]}
//! ```
//!
//! This module owns the format: [`Document::decode`] reads hostile bytes within [`Limits`] and
//! refuses what a version-1 reader does not know (another format or version, an unknown table, a
//! row of another workflow); [`Document::rename`] moves the document to a new workflow id. The
//! rows are written and read by `repo::export`.

#[cfg(test)]
mod fuzz;

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::model::WorkflowStatus;

/// The `format` every export document carries.
pub const FORMAT: &str = "dbosd.workflow-export";
/// The one version this dbosd reads and writes.
pub const VERSION: u64 = 1;

/// The tables a workflow owns, with the column naming the owner, in the order an import writes
/// them (the status row first: the others refer to it).
pub const TABLES: [(&str, &str); 8] = [
    ("workflow_status", "workflow_uuid"),
    ("workflow_input", "workflow_uuid"),
    ("workflow_output", "workflow_uuid"),
    ("operation_outputs", "workflow_uuid"),
    ("workflow_events", "workflow_uuid"),
    ("workflow_events_history", "workflow_uuid"),
    ("streams", "workflow_uuid"),
    ("notifications", "destination_uuid"),
];

/// Columns holding a workflow id, rewritten by [`Document::rename`] when they name a workflow of
/// the document.
const ID_COLUMNS: [&str; 5] = [
    "workflow_uuid",
    "destination_uuid",
    "parent_workflow_id",
    "forked_from",
    "child_workflow_id",
];

/// One row: column name to stored value.
pub type Row = Map<String, Value>;

/// A whole export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    pub format: String,
    pub version: u64,
    /// The exported workflow (the first of `workflows`).
    pub workflow_id: String,
    pub exported_at_epoch_ms: i64,
    /// The source's `dbos_migrations` version, for the reader's information.
    pub source_schema_version: Option<i64>,
    pub workflows: Vec<WorkflowRows>,
}

/// One workflow's rows, by table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowRows {
    pub workflow_id: String,
    pub tables: BTreeMap<String, Vec<Row>>,
}

impl WorkflowRows {
    /// The `workflow_status` row (a decoded document has exactly one).
    pub fn status_row(&self) -> Option<&Row> {
        self.tables.get("workflow_status").and_then(|r| r.first())
    }

    /// A text column of the status row.
    pub fn status_text(&self, column: &str) -> Option<&str> {
        self.status_row()?.get(column)?.as_str()
    }
}

/// How much a document may hold; a decoder of hostile bytes checks every bound before trusting it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The document's whole text, in bytes.
    pub max_bytes: usize,
    /// Workflows in one document.
    pub max_workflows: usize,
    /// Rows over all workflows and tables.
    pub max_rows: usize,
    /// One value (a payload text; a JSON column's serialized text), in bytes.
    pub max_value_bytes: usize,
}

fn bad(reason: impl Into<String>) -> Error {
    Error::invalid("document", reason)
}

impl Document {
    /// A version-1 document of `workflows` (the exported one first).
    pub fn new(
        workflows: Vec<WorkflowRows>,
        exported_at_epoch_ms: i64,
        source_schema_version: Option<i64>,
    ) -> Document {
        Document {
            format: FORMAT.to_owned(),
            version: VERSION,
            workflow_id: workflows
                .first()
                .map(|w| w.workflow_id.clone())
                .unwrap_or_default(),
            exported_at_epoch_ms,
            source_schema_version,
            workflows,
        }
    }

    /// The document as JSON text.
    pub fn encode(&self) -> String {
        // Maps with string keys and JSON values always serialize.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Reads and checks a document within `limits`; every refusal is INVALID_ARGUMENT on
    /// `document` saying what is wrong.
    pub fn decode(text: &str, limits: &Limits) -> Result<Document> {
        if text.len() > limits.max_bytes {
            return Err(bad(format!(
                "is {} bytes; at most {} are accepted",
                text.len(),
                limits.max_bytes
            )));
        }
        let value: Value = serde_json::from_str(text)
            .map_err(|e| bad(format!("is not a JSON object ({})", e.classify_text())))?;
        let Value::Object(header) = &value else {
            return Err(bad(
                "is not a JSON object (not an object with format and version)",
            ));
        };
        match header.get("format").and_then(Value::as_str) {
            Some(FORMAT) => {}
            Some(other) => {
                return Err(bad(format!(
                    "has format {other:?}; this dbosd reads {FORMAT:?}"
                )))
            }
            None => return Err(bad(format!("has no \"format\": {FORMAT:?}"))),
        }
        match header.get("version").and_then(Value::as_u64) {
            Some(VERSION) => {}
            Some(v) => {
                return Err(bad(format!(
                    "is version {v} of {FORMAT}; this dbosd reads version {VERSION} only"
                )))
            }
            None => return Err(bad("has no numeric \"version\"")),
        }
        let doc: Document = serde_json::from_value(value).map_err(|e| {
            bad(format!(
                "does not have the shape of {FORMAT} version {VERSION}: {e}"
            ))
        })?;
        doc.check(limits)?;
        Ok(doc)
    }

    fn check(&self, limits: &Limits) -> Result<()> {
        if self.workflows.is_empty() || self.workflows.len() > limits.max_workflows {
            return Err(bad(format!(
                "must hold between 1 and {} workflows",
                limits.max_workflows
            )));
        }
        if self.workflows[0].workflow_id != self.workflow_id {
            return Err(bad("workflow_id must name the first of its workflows"));
        }
        let mut ids = HashSet::new();
        let mut rows = 0usize;
        for wf in &self.workflows {
            let id = wf.workflow_id.as_str();
            if id.trim().is_empty() || id.contains('\0') {
                return Err(bad("holds a workflow with a blank id"));
            }
            if !ids.insert(id) {
                return Err(bad(format!("holds workflow {id:?} twice")));
            }
            for (table, table_rows) in &wf.tables {
                let Some((_, owner)) = TABLES.iter().find(|(t, _)| t == table) else {
                    return Err(bad(format!(
                        "has a table {table:?} this dbosd does not know"
                    )));
                };
                rows += table_rows.len();
                if rows > limits.max_rows {
                    return Err(bad(format!("holds more than {} rows", limits.max_rows)));
                }
                for row in table_rows {
                    check_row(row, table, owner, id, limits)?;
                }
            }
            let status = wf.tables.get("workflow_status").map_or(0, Vec::len);
            if status != 1 {
                return Err(bad(format!(
                    "must hold one workflow_status row for workflow {id:?}, not {status}"
                )));
            }
            match wf.status_text("status") {
                Some(s) if WorkflowStatus::parse(s).is_some() => {}
                _ => {
                    return Err(bad(format!(
                        "workflow {id:?} has no known status in its workflow_status row"
                    )))
                }
            }
        }
        Ok(())
    }

    /// Moves the document to `new_id`: the exported workflow takes it, and each other workflow of
    /// the document (its children) takes `new_id` in place of the exported id's prefix (DBOS names
    /// children `<parent>-<step>`), or `<new_id>-<id>` when it has no such prefix. Every column
    /// naming a workflow of the document follows; messages get new ids (theirs embed the
    /// destination) and deduplication ids are dropped (the copy is not the original's request).
    pub fn rename(&mut self, new_id: &str) {
        let old = self.workflow_id.clone();
        let map: HashMap<String, String> = self
            .workflows
            .iter()
            .map(|w| {
                let id = &w.workflow_id;
                let renamed = if *id == old {
                    new_id.to_owned()
                } else if let Some(rest) = id.strip_prefix(old.as_str()) {
                    format!("{new_id}{rest}")
                } else {
                    format!("{new_id}-{id}")
                };
                (id.clone(), renamed)
            })
            .collect();
        let moved = |v: &mut Value| {
            if let Some(new) = v.as_str().and_then(|s| map.get(s)) {
                *v = Value::String(new.clone());
            }
        };
        self.workflow_id = new_id.to_owned();
        for wf in &mut self.workflows {
            if let Some(new) = map.get(&wf.workflow_id) {
                wf.workflow_id = new.clone();
            }
            for (table, rows) in &mut wf.tables {
                for row in rows {
                    for column in ID_COLUMNS {
                        if let Some(v) = row.get_mut(column) {
                            moved(v);
                        }
                    }
                    if table == "notifications" && row.contains_key("message_uuid") {
                        let id = uuid::Uuid::new_v4().to_string();
                        row.insert("message_uuid".to_owned(), Value::String(id));
                    }
                    if table == "workflow_status" && row.contains_key("deduplication_id") {
                        row.insert("deduplication_id".to_owned(), Value::Null);
                    }
                }
            }
        }
    }
}

/// A row's column names are identifiers, its owner column names its workflow, and no value is
/// over the value limit.
fn check_row(row: &Row, table: &str, owner: &str, id: &str, limits: &Limits) -> Result<()> {
    if row.get(owner).and_then(Value::as_str) != Some(id) {
        return Err(bad(format!(
            "has a {table} row whose {owner} is not its workflow {id:?}"
        )));
    }
    for (column, value) in row {
        let identifier = !column.is_empty()
            && column.len() <= 63
            && column.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && column
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !identifier {
            return Err(bad(format!("has a {table} column named {column:?}")));
        }
        let size = match value {
            Value::String(s) => {
                if s.contains('\0') {
                    return Err(bad(format!("{table}.{column} holds a NUL byte")));
                }
                s.len()
            }
            Value::Array(_) | Value::Object(_) => value.to_string().len(),
            _ => 0,
        };
        if size > limits.max_value_bytes {
            return Err(bad(format!(
                "{table}.{column} of workflow {id:?} is {size} bytes; at most {} are accepted",
                limits.max_value_bytes
            )));
        }
    }
    Ok(())
}

/// A serde_json error's category in words (its position is noise to a caller).
trait Classified {
    fn classify_text(&self) -> &'static str;
}

impl Classified for serde_json::Error {
    fn classify_text(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "unreadable",
            serde_json::error::Category::Syntax => "malformed JSON",
            serde_json::error::Category::Data => "not an object with format and version",
            serde_json::error::Category::Eof => "truncated JSON",
        }
    }
}
