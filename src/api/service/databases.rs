//! The routing table of the databases dbosd serves: name -> that database's [`WorkflowApi`] (or
//! "not open yet"), and its health as last checked. Every call resolves its database here exactly
//! once, from the `dbos-database` request metadata (the default database when absent), before its
//! handler runs; gRPC, gRPC-Web, Connect and MCP all reach the service through the same stack, so
//! this is the one resolver. The fleet (`crate::fleet`) fills and empties the table; this module
//! only reads it per call.
//!
//! A name that is not served and a name the caller's token may not use get the same NOT_FOUND, so
//! a caller learns nothing about databases it may not see.

use std::{
    collections::BTreeMap,
    sync::{
        atomic::{AtomicI32, Ordering},
        Arc, RwLock,
    },
};

use tonic::{metadata::MetadataMap, Status};

use crate::{api::WorkflowApi, auth::Principal, error::Error, pb};

/// The request metadata key naming a call's database.
pub use crate::fleet_config::DATABASE_HEADER;

/// The health of one database as its checker last saw it, shared with the checker.
#[derive(Clone, Default, Debug)]
pub struct HealthCell(Arc<AtomicI32>);

impl HealthCell {
    /// Records a check's outcome.
    pub fn set(&self, serving: bool) {
        let health = match serving {
            true => pb::DatabaseHealth::Serving,
            false => pb::DatabaseHealth::NotServing,
        };
        self.0.store(health as i32, Ordering::Relaxed);
    }

    /// The last outcome (`Unspecified` before the first check).
    pub fn get(&self) -> pb::DatabaseHealth {
        pb::DatabaseHealth::try_from(self.0.load(Ordering::Relaxed))
            .unwrap_or(pb::DatabaseHealth::Unspecified)
    }
}

/// One served database.
#[derive(Clone)]
struct Entry {
    /// `None` until the database has been reached and its schema checked.
    api: Option<WorkflowApi>,
    health: HealthCell,
}

#[derive(Default)]
struct Table {
    default: Option<String>,
    entries: BTreeMap<String, Entry>,
}

/// The routing table, shared by the service (reads) and the fleet (writes).
#[derive(Clone, Default)]
pub struct Databases {
    inner: Arc<RwLock<Table>>,
}

/// The health service name reporting database `name`.
pub fn health_service(name: &str) -> String {
    format!("{}/{name}", crate::auth::policy::SERVICE)
}

impl Databases {
    /// An empty table.
    pub fn new() -> Self {
        Databases::default()
    }

    /// Makes `name` the database of calls that name none.
    pub fn set_default(&self, name: &str) {
        self.write().default = Some(name.to_owned());
    }

    /// Serves `name`, not open yet: its calls answer UNAVAILABLE until [`Databases::open`].
    pub fn add(&self, name: &str, health: HealthCell) {
        self.write()
            .entries
            .insert(name.to_owned(), Entry { api: None, health });
    }

    /// Routes `name`'s calls to `api` (the database has been reached and checked).
    pub fn open(&self, name: &str, api: WorkflowApi) {
        if let Some(entry) = self.write().entries.get_mut(name) {
            entry.api = Some(api);
        }
    }

    /// Stops serving `name`; calls already resolved finish on the service they hold.
    pub fn remove(&self, name: &str) {
        self.write().entries.remove(name);
    }

    /// The names served now.
    pub fn names(&self) -> Vec<String> {
        self.read().entries.keys().cloned().collect()
    }

    /// The service of the database `metadata` names (or the default), if `caller` may use it.
    pub fn resolve(
        &self,
        metadata: &MetadataMap,
        caller: Option<&Principal>,
    ) -> Result<WorkflowApi, Status> {
        let table = self.read();
        let name = match metadata.get(DATABASE_HEADER) {
            Some(value) => {
                let Ok(name) = value.to_str() else {
                    return Err(not_found("(not printable ASCII)"));
                };
                name.trim()
            }
            None => match &table.default {
                Some(default) => default.as_str(),
                None => {
                    return Err(Error::invalid(
                        DATABASE_HEADER,
                        "this dbosd serves several databases and none is the default; \
                         name one in the dbos-database request metadata (ListDatabases lists them)",
                    )
                    .into())
                }
            },
        };
        let is_default = table.default.as_deref() == Some(name);
        let entry = table
            .entries
            .get(name)
            .filter(|_| caller.is_none_or(|p| p.databases.allows(name, is_default)));
        let Some(entry) = entry else {
            return Err(not_found(name));
        };
        match &entry.api {
            Some(api) => Ok(api.clone()),
            None => Err(Error::Unavailable(format!(
                "database {name:?} is not reachable yet (dbosd keeps trying to open it); retry"
            ))
            .into()),
        }
    }

    /// Every open database's pool and hub, for the metrics.
    pub fn samples(&self) -> Vec<crate::telemetry::databases::DatabaseSample> {
        let table = self.read();
        table
            .entries
            .iter()
            .filter_map(|(name, entry)| {
                let api = entry.api.as_ref()?;
                Some(crate::telemetry::databases::DatabaseSample {
                    name: name.clone(),
                    pool: api.repo.pool_state(),
                    hub_waiting_keys: api.hub.waiting_keys(),
                })
            })
            .collect()
    }

    /// The databases `caller` may use, with their health, by name.
    pub fn list(&self, caller: Option<&Principal>) -> Vec<pb::DatabaseInfo> {
        let table = self.read();
        table
            .entries
            .iter()
            .filter_map(|(name, entry)| {
                let is_default = table.default.as_deref() == Some(name.as_str());
                caller
                    .is_none_or(|p| p.databases.allows(name, is_default))
                    .then(|| pb::DatabaseInfo {
                        name: name.clone(),
                        is_default,
                        health: entry.health.get() as i32,
                        health_service: health_service(name),
                    })
            })
            .collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Table> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Table> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// The one answer for a database the caller cannot use, whether or not it exists.
/// Marked so the call metrics count it under `database="unknown"`, not the name sent.
fn not_found(name: &str) -> Status {
    let mut status: Status = Error::NotFound(format!(
        "no database {name:?} is served here for this caller (ListDatabases lists the ones you may use)"
    ))
    .into();
    status.set_source(Arc::new(crate::telemetry::database_label::UnservedDatabase));
    status
}
