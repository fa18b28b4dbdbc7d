//! Per-database gauges of a fleet, labelled `database`: each database's pool connections and the
//! keys its hub waits on, read at scrape time from a source the server hands over (the routing
//! table), so one database's pool exhaustion or backlog shows under its own name. Only served
//! databases are labels: a caller cannot grow the label space by naming databases.

use std::sync::{Arc, OnceLock};

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{family::Family, gauge::Gauge},
    registry::Registry,
};

use crate::repo::PoolState;

/// One database at scrape time.
pub struct DatabaseSample {
    pub name: String,
    pub pool: PoolState,
    pub hub_waiting_keys: usize,
}

/// Where the samples come from (every open database).
pub type DatabaseSource = Arc<dyn Fn() -> Vec<DatabaseSample> + Send + Sync>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    database: String,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DatabaseLabels {
    database: String,
}

/// The gauges, registered once.
#[derive(Default)]
pub struct DatabaseGauges {
    pool: Family<PoolLabels, Gauge>,
    hub_waiting_keys: Family<DatabaseLabels, Gauge>,
    source: OnceLock<DatabaseSource>,
}

impl DatabaseGauges {
    /// Registers the families in `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "database_pool_connections",
            "Pool connections of each served database, by state (in_use, idle, waiting)",
            self.pool.clone(),
        );
        registry.register(
            "database_hub_waiting_keys",
            "Workflows, events and streams waited on, by database",
            self.hub_waiting_keys.clone(),
        );
    }

    /// Reads samples from `source` at every scrape (set once; later calls are ignored).
    pub fn set_source(&self, source: DatabaseSource) {
        let _ = self.source.set(source);
    }

    /// Sets the gauges from the source now; a removed database's series go.
    pub fn refresh(&self) {
        let Some(source) = self.source.get() else {
            return;
        };
        self.pool.clear();
        self.hub_waiting_keys.clear();
        for s in source() {
            let pool = |state| {
                self.pool
                    .get_or_create(&PoolLabels {
                        database: s.name.clone(),
                        state,
                    })
                    .clone()
            };
            pool("in_use").set(i64::from(s.pool.connections - s.pool.idle));
            pool("idle").set(i64::from(s.pool.idle));
            pool("waiting").set(s.pool.waiting as i64);
            self.hub_waiting_keys
                .get_or_create(&DatabaseLabels { database: s.name })
                .set(s.hub_waiting_keys as i64);
        }
    }
}
