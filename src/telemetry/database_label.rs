//! The `database` label of the per-call metrics: the configured name of the database a call named
//! (`dbos-database` metadata, the default database's name when absent), or [`UNKNOWN`]. The label
//! space is the served databases' names, which the fleet keeps here as it opens and removes them,
//! plus `unknown`: a call naming a database that is not served, or one its token may not use, is
//! counted under `unknown` and never under the name it sent, so no caller can grow the number of
//! series. A removed database's series stay (counters keep their totals); a call naming it later
//! counts as `unknown`. Each name is one shared `Arc<str>`: labelling a call clones it, with no
//! allocation on the call path.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use http::HeaderMap;
use tonic::Status;

use crate::fleet_config::DATABASE_HEADER;

/// The label of calls whose database is not one the caller may use.
pub const UNKNOWN: &str = "unknown";

/// The source of a `Status` refusing a call's database (not served, or not the caller's), which
/// the resolver sets so the call layer counts the call under [`UNKNOWN`].
#[derive(Debug)]
pub struct UnservedDatabase;

impl std::fmt::Display for UnservedDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the call's database is not served for this caller")
    }
}

impl std::error::Error for UnservedDatabase {}

/// The names a call's `database` label may take, shared by the fleet (writes) and the call layer
/// (one read per call).
#[derive(Clone)]
pub struct DatabaseLabels {
    inner: Arc<RwLock<Names>>,
}

struct Names {
    default: Option<Arc<str>>,
    served: HashMap<Box<str>, Arc<str>>,
    unknown: Arc<str>,
}

impl Default for DatabaseLabels {
    fn default() -> Self {
        DatabaseLabels {
            inner: Arc::new(RwLock::new(Names {
                default: None,
                served: HashMap::new(),
                unknown: Arc::from(UNKNOWN),
            })),
        }
    }
}

impl DatabaseLabels {
    /// `name` is served: calls naming it are labelled with it.
    pub fn add(&self, name: &str) {
        let mut names = self.write();
        names.served.insert(Box::from(name), Arc::from(name));
    }

    /// `name` is the database of calls that name none.
    pub fn set_default(&self, name: &str) {
        let mut names = self.write();
        let label = Arc::clone(
            names
                .served
                .entry(Box::from(name))
                .or_insert_with(|| Arc::from(name)),
        );
        names.default = Some(label);
    }

    /// `name` is no longer served: calls naming it count as `unknown` from now on.
    pub fn remove(&self, name: &str) {
        let mut names = self.write();
        if names.default.as_deref() != Some(name) {
            names.served.remove(name);
        }
    }

    /// The label of a call with these request headers.
    pub fn of(&self, headers: &HeaderMap) -> Arc<str> {
        let names = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let label = match headers.get(DATABASE_HEADER) {
            None => names.default.as_ref(),
            Some(value) => value
                .to_str()
                .ok()
                .and_then(|name| names.served.get(name.trim())),
        };
        Arc::clone(label.unwrap_or(&names.unknown))
    }

    /// The label of a call the resolver refused (its `Status` in the response's extensions has
    /// [`UnservedDatabase`] as its source): `unknown`; any other call keeps `label`.
    pub fn answered(&self, extensions: &http::Extensions, label: Arc<str>) -> Arc<str> {
        let refused = extensions
            .get::<Status>()
            .and_then(|s| std::error::Error::source(s))
            .is_some_and(|e| e.is::<UnservedDatabase>());
        match refused {
            true => Arc::clone(&self.inner.read().unwrap_or_else(|e| e.into_inner()).unknown),
            false => label,
        }
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Names> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(database: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(name) = database {
            headers.insert(DATABASE_HEADER, name.parse().unwrap());
        }
        headers
    }

    #[test]
    fn only_served_names_are_labels() {
        let labels = DatabaseLabels::default();
        assert_eq!(&*labels.of(&call(None)), UNKNOWN);
        labels.set_default("main");
        labels.add("b");
        assert_eq!(&*labels.of(&call(None)), "main");
        assert_eq!(&*labels.of(&call(Some(" b "))), "b");
        assert_eq!(&*labels.of(&call(Some("invented"))), UNKNOWN);
        // One shared name per database: the call path clones, it does not allocate.
        assert!(Arc::ptr_eq(
            &labels.of(&call(Some("b"))),
            &labels.of(&call(Some("b")))
        ));
        labels.remove("b");
        labels.remove("main");
        assert_eq!(&*labels.of(&call(Some("b"))), UNKNOWN);
        assert_eq!(&*labels.of(&call(Some("main"))), "main");

        let mut refused = Status::not_found("no such database");
        refused.set_source(Arc::new(UnservedDatabase));
        let mut extensions = http::Extensions::new();
        extensions.insert(refused);
        let main = labels.of(&call(None));
        assert_eq!(&*labels.answered(&extensions, Arc::clone(&main)), UNKNOWN);
        extensions.insert(Status::not_found("no such workflow"));
        assert_eq!(&*labels.answered(&extensions, main), "main");
    }
}
