//! The databases of a fleet as configured: `--database NAME=URL` (repeatable) and the TOML config
//! file (`--config FILE`) ([`FleetFlags`]), parsed into [`DatabaseSpec`]s. Only parsing and checking here; the
//! fleet (`crate::fleet`) opens, serves and reloads them. Errors are in the file's or flag's terms
//! and never quote a URL (it may hold a password).
//!
//! ```toml
//! default = "billing"            # optional: the database of calls that name none
//! [databases.billing]
//! url = "postgres://dbosd@db1/billing_dbos_sys"
//! pool_size = 8                  # optional, as the server's flags otherwise
//! [databases.shipping]
//! url = "postgres://dbosd@db2/shipping_dbos_sys"
//! schema = "dbos"
//! retention_max_age = "7d"       # optional: this database's own retention bounds over the
//! retention_max_rows = 100000    #   --retention-* flags' (`retention = false`: none at all)
//! ```

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use clap::Args;
use serde::Deserialize;

/// The server flags naming the databases besides `--database-url`.
#[derive(Debug, Clone, Args)]
pub struct FleetFlags {
    /// Another system database to serve, as NAME=URL; repeatable (comma-separated in the
    /// environment). Calls pick it with the `dbos-database: NAME` request metadata; calls naming
    /// none go to --database-url's database (named `default`). See README, "Serving a fleet".
    #[arg(
        long = "database",
        env = "DBOSD_DATABASES",
        value_delimiter = ',',
        hide_env_values = true,
        value_parser = parse_flag
    )]
    pub databases: Vec<DatabaseSpec>,
    /// TOML file of the databases to serve (`[databases.NAME] url = ...`, and `default = "NAME"`
    /// when --database-url is not given); re-read on SIGHUP and when it changes.
    #[arg(long, env = "DBOSD_SERVER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Milliseconds between looks at the config file's modification time.
    #[arg(long, env = "DBOSD_CONFIG_POLL_MS", default_value_t = 2000)]
    pub config_poll_ms: u64,
}

/// The request metadata key (and HTTP header) a call names its database with. Here, below both
/// the resolver (`api`) and the call metrics (`telemetry`), which read it.
pub const DATABASE_HEADER: &str = "dbos-database";

/// The name of the database `--database-url` gives.
pub const DEFAULT_NAME: &str = "default";

/// One configured database. Fields left `None` take the server's flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseSpec {
    /// What calls put in `dbos-database`; also its health service suffix and metrics label.
    pub name: String,
    pub url: String,
    /// Where LISTEN and migrations connect when `url` goes through a transaction-pooling proxy.
    pub direct_url: Option<String>,
    pub schema: Option<String>,
    pub pool_size: Option<u32>,
    pub enqueue_slots: Option<usize>,
    pub application_name: Option<String>,
    /// Create or upgrade its DBOS schema when it is opened.
    pub migrate: bool,
    /// Its own retention over the `--retention-*` flags' (`crate::retention::per_database`).
    pub retention: crate::retention::RetentionOverride,
}

/// A config file's content.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FleetConfig {
    /// `default = "NAME"`: the database of calls that name none (when `--database-url` is not given).
    pub default: Option<String>,
    /// By name.
    pub databases: Vec<DatabaseSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    default: Option<String>,
    #[serde(default)]
    databases: BTreeMap<String, Table>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    url: String,
    direct_url: Option<String>,
    schema: Option<String>,
    pool_size: Option<u32>,
    enqueue_slots: Option<usize>,
    application_name: Option<String>,
    #[serde(default)]
    migrate: bool,
    retention: Option<bool>,
    retention_max_age: Option<String>,
    retention_max_rows: Option<i64>,
}

/// Checks a database name: it goes into request metadata, a health service name and a metrics
/// label, so it is short and plain.
pub fn check_name(name: &str) -> Result<(), String> {
    let plain = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
    if name.is_empty() || name.len() > 63 || !plain {
        return Err(format!(
            "database name {name:?} must be 1 to 63 letters, digits, '_', '-' or '.'"
        ));
    }
    Ok(())
}

/// Checks a URL without echoing it.
fn check_url(name: &str, what: &str, url: &str) -> Result<(), String> {
    url.parse::<tokio_postgres::Config>()
        .map(|_| ())
        .map_err(|_| format!("database {name:?}: {what} is not a PostgreSQL URL"))
}

/// Parses one `--database NAME=URL`.
pub fn parse_flag(value: &str) -> Result<DatabaseSpec, String> {
    let Some((name, url)) = value.split_once('=') else {
        return Err("--database takes NAME=URL".to_owned());
    };
    let name = name.trim();
    check_name(name)?;
    check_url(name, "the URL", url)?;
    Ok(DatabaseSpec {
        name: name.to_owned(),
        url: url.to_owned(),
        direct_url: None,
        schema: None,
        pool_size: None,
        enqueue_slots: None,
        application_name: None,
        migrate: false,
        retention: Default::default(),
    })
}

impl FleetConfig {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<FleetConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("config file {}: {e}", path.display()))
    }

    /// Parses the TOML text of a config file.
    pub fn parse(text: &str) -> Result<FleetConfig, String> {
        // toml's message quotes the offending line, which may hold a URL: keep only where.
        let file: File = toml::from_str(text).map_err(|e| match e.span() {
            Some(span) => {
                let line = text[..span.start.min(text.len())].lines().count().max(1);
                format!("not valid (line {line}): {}", e.message())
            }
            None => format!("not valid: {}", e.message()),
        })?;
        let mut databases = Vec::with_capacity(file.databases.len());
        for (name, t) in file.databases {
            check_name(&name)?;
            check_url(&name, "url", &t.url)?;
            if let Some(direct) = &t.direct_url {
                check_url(&name, "direct_url", direct)?;
            }
            if t.pool_size == Some(0) || t.enqueue_slots == Some(0) {
                return Err(format!(
                    "database {name:?}: pool_size and enqueue_slots must be at least 1"
                ));
            }
            let retention = crate::retention::RetentionOverride::parse(
                &name,
                t.retention,
                t.retention_max_age.as_deref(),
                t.retention_max_rows,
            )?;
            databases.push(DatabaseSpec {
                name,
                url: t.url,
                direct_url: t.direct_url,
                schema: t.schema,
                pool_size: t.pool_size,
                enqueue_slots: t.enqueue_slots,
                application_name: t.application_name,
                migrate: t.migrate,
                retention,
            });
        }
        if let Some(default) = &file.default {
            if !databases.iter().any(|d| &d.name == default) {
                return Err(format!(
                    "default = {default:?} names no database of the file"
                ));
            }
        }
        Ok(FleetConfig {
            default: file.default,
            databases,
        })
    }
}

/// Joins the flags' and the file's databases, refusing a name given twice.
pub fn merge(flags: &[DatabaseSpec], file: &[DatabaseSpec]) -> Result<Vec<DatabaseSpec>, String> {
    let mut all: BTreeMap<&str, &DatabaseSpec> = BTreeMap::new();
    for spec in flags.iter().chain(file) {
        if all.insert(&spec.name, spec).is_some() {
            return Err(format!("database {:?} is configured twice", spec.name));
        }
    }
    Ok(all.into_values().cloned().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_and_flags_parse_and_bad_ones_say_why_without_the_url() {
        let config = FleetConfig::parse(
            r#"default = "a"
               [databases.a]
               url = "postgres://u:pw@h1/a"
               pool_size = 4
               [databases.b]
               url = "postgres://u:pw@h2/b"
               schema = "other"
               migrate = true
               retention_max_rows = 50"#,
        )
        .unwrap();
        assert_eq!(config.default.as_deref(), Some("a"));
        assert_eq!(config.databases.len(), 2);
        assert_eq!(config.databases[0].pool_size, Some(4));
        assert_eq!(config.databases[1].schema.as_deref(), Some("other"));
        assert!(config.databases[1].migrate);
        assert_eq!(config.databases[1].retention.max_rows, Some(50));

        let flag = parse_flag("orders=postgres://u@h/orders").unwrap();
        assert_eq!(flag.name, "orders");
        assert!(parse_flag("orders").is_err());
        let err = parse_flag("bad name=postgres://u:secret@h/x").unwrap_err();
        assert!(err.contains("bad name") && !err.contains("secret"), "{err}");

        for (text, expected) in [
            (
                r#"[databases.a]
                url = "postgres://u:secret@h/a"
                pool = 3"#,
                "pool",
            ),
            (
                r#"default = "z"
                [databases.a]
                url = "postgres://u:secret@h/a""#,
                "names no database",
            ),
            (
                r#"[databases."a b"]
                url = "postgres://u:secret@h/a""#,
                "must be 1 to 63",
            ),
            (
                r#"[databases.a]
                url = "postgres://u:secret@h:notaport/a""#,
                "not a PostgreSQL URL",
            ),
        ] {
            let err = FleetConfig::parse(text).unwrap_err();
            assert!(err.contains(expected) && !err.contains("secret"), "{err}");
        }
        let twice = merge(std::slice::from_ref(&flag), std::slice::from_ref(&flag)).unwrap_err();
        assert!(twice.contains("twice"), "{twice}");
    }
}
