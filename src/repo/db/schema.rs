//! Detects the DBOS schema at startup: its migration version and which tables and columns exist,
//! so dbosd works on any DBOS 3.x database (and writes inputs inline where `workflow_input` is missing).

use crate::repo::db::row::Columns;
use crate::repo::db::unnamed::Unnamed;
use std::collections::{HashMap, HashSet};

use tokio_postgres::GenericClient;

use crate::error::Result;
use crate::repo::db::classify::classify;

const SELECT_COLUMNS: &str =
    "SELECT table_name::text, column_name::text FROM information_schema.columns \
     WHERE table_schema = $1";
const SELECT_SCHEMA_EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)";

/// The tables and columns dbosd cannot work without (DBOS migration 11 and earlier).
const REQUIRED: &[(&str, &[&str])] = &[
    (
        "workflow_status",
        &[
            "workflow_uuid",
            "status",
            "name",
            "queue_name",
            "created_at",
            "updated_at",
            "priority",
            "serialization",
        ],
    ),
    (
        "notifications",
        &[
            "destination_uuid",
            "topic",
            "message",
            "message_uuid",
            "serialization",
        ],
    ),
    (
        "workflow_events",
        &["workflow_uuid", "key", "value", "serialization"],
    ),
];

/// What dbosd found in the system schema.
#[derive(Debug, Clone)]
pub struct SchemaInfo {
    /// The schema name, unquoted.
    pub name: String,
    /// `dbos_migrations.version`, if the table and a row exist.
    pub version: Option<i64>,
    columns: HashMap<String, HashSet<String>>,
}

/// Why a database cannot be served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incompatibility {
    /// The schema does not exist at all.
    MissingSchema,
    /// A required table or column is missing.
    Missing(String),
    /// The schema is sharded (enterprise router only).
    Sharded,
}

impl std::fmt::Display for Incompatibility {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Incompatibility::MissingSchema => write!(f, "the DBOS schema does not exist"),
            Incompatibility::Missing(what) => write!(f, "the DBOS schema lacks {what}"),
            Incompatibility::Sharded => write!(
                f,
                "the DBOS schema is sharded (workflow_status.shard_key); dbosd does not support sharded schemas"
            ),
        }
    }
}

impl SchemaInfo {
    /// Reads the catalog and `dbos_migrations` of schema `name`.
    pub async fn detect(client: &(impl GenericClient + Sync), name: &str) -> Result<Self> {
        let ctx = "reading the DBOS schema";
        let exists: bool = client
            .query_one_unnamed(SELECT_SCHEMA_EXISTS, &[&name])
            .await
            .map_err(|e| classify(ctx, e))?
            .col(0)?;
        let mut columns: HashMap<String, HashSet<String>> = HashMap::new();
        if exists {
            for row in client
                .query_unnamed(SELECT_COLUMNS, &[&name])
                .await
                .map_err(|e| classify(ctx, e))?
            {
                columns.entry(row.col(0)?).or_default().insert(row.col(1)?);
            }
        }
        let mut info = SchemaInfo {
            name: name.to_owned(),
            version: None,
            columns,
        };
        if info.has_column("dbos_migrations", "version") {
            let sql = format!("SELECT max(version) FROM {}", info.table("dbos_migrations"));
            info.version = client
                .query_one_unnamed(sql.as_str(), &[])
                .await
                .map_err(|e| classify(ctx, e))?
                .col(0)?;
        }
        Ok(info)
    }

    /// Whether the schema can be served; the first problem found otherwise.
    pub fn check(&self) -> Result<(), Incompatibility> {
        if self.columns.is_empty() {
            return Err(Incompatibility::MissingSchema);
        }
        if self.has_column("workflow_status", "shard_key") {
            return Err(Incompatibility::Sharded);
        }
        for (table, cols) in REQUIRED {
            if !self.has_table(table) {
                return Err(Incompatibility::Missing(format!("table {table}")));
            }
            if let Some(col) = cols.iter().find(|c| !self.has_column(table, c)) {
                return Err(Incompatibility::Missing(format!("column {table}.{col}")));
            }
        }
        Ok(())
    }

    /// Whether `table` exists in the schema.
    pub fn has_table(&self, table: &str) -> bool {
        self.columns.contains_key(table)
    }

    /// Whether `table.column` exists in the schema.
    pub fn has_column(&self, table: &str, column: &str) -> bool {
        self.columns.get(table).is_some_and(|c| c.contains(column))
    }

    /// The schema-qualified, quoted name of `table`.
    pub fn table(&self, table: &str) -> String {
        format!("{}.{}", quote_ident(&self.name), quote_ident(table))
    }
}

/// Quotes an SQL identifier (the schema name comes from configuration, never from a request).
pub fn quote_ident(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}
