//! Pooled connections, each with a cache of the hot statements it has prepared.
//!
//! Parsing and planning a statement can cost PostgreSQL more than running it, so frequent reads
//! (GetWorkflow, the waits' re-reads, list pages) are prepared once per connection and reused.
//! Behind a transaction-pooling proxy (`--direct-database-url` given) a prepared statement may not
//! exist on the server session the next transaction gets, so there the cache is off and every
//! statement goes unnamed ([`super::Unnamed`]).

use std::{
    collections::HashMap,
    ops::{Deref, DerefMut},
    sync::Mutex,
};

use bb8::ManageConnection;
use bb8_postgres::PostgresConnectionManager;
use tokio_postgres::{Client, Error, NoTls, Row, Statement};

use super::{lock_unpoisoned, unnamed::query_prepared, Param, Unnamed};

/// Most statements one connection keeps prepared; past it the cache starts over (list filters can
/// combine into many distinct statements).
const MAX_CACHED: usize = 64;

/// The bb8 manager: tokio-postgres connections wrapped with their statement cache.
pub struct Manager {
    inner: PostgresConnectionManager<NoTls>,
    /// Whether statements may be prepared (no transaction-pooling proxy in between).
    prepare: bool,
}

impl Manager {
    pub fn new(config: tokio_postgres::Config, prepare: bool) -> Self {
        Manager {
            inner: PostgresConnectionManager::new(config, NoTls),
            prepare,
        }
    }
}

/// One pooled connection; derefs to its [`Client`].
pub struct PooledClient {
    client: Client,
    /// `None` when statements must not be prepared.
    prepared: Option<Mutex<HashMap<String, Statement>>>,
}

impl Deref for PooledClient {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl DerefMut for PooledClient {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.client
    }
}

impl PooledClient {
    /// Runs `sql` prepared (from the cache, preparing it on first use), or unnamed where
    /// statements must not be prepared. Like `query`.
    pub(crate) async fn query_hot(
        &self,
        sql: &str,
        params: &[&dyn Param],
    ) -> Result<Vec<Row>, Error> {
        let Some(cache) = &self.prepared else {
            return self.client.query_unnamed(sql, params).await;
        };
        let cached = lock_unpoisoned(cache).get(sql).cloned();
        let statement = match cached {
            Some(statement) => statement,
            None => {
                let types: Vec<_> = params.iter().map(|p| p.pg_type()).collect();
                let statement = self.client.prepare_typed(sql, &types).await?;
                let mut cache = lock_unpoisoned(cache);
                if cache.len() >= MAX_CACHED {
                    cache.clear();
                }
                cache.insert(sql.to_owned(), statement.clone());
                statement
            }
        };
        query_prepared(&self.client, &statement, params).await
    }

    /// Like [`PooledClient::query_hot`], for at most one row.
    pub(crate) async fn query_opt_hot(
        &self,
        sql: &str,
        params: &[&dyn Param],
    ) -> Result<Option<Row>, Error> {
        Ok(self.query_hot(sql, params).await?.into_iter().next())
    }
}

impl ManageConnection for Manager {
    type Connection = PooledClient;
    type Error = Error;

    async fn connect(&self) -> Result<PooledClient, Error> {
        Ok(PooledClient {
            client: self.inner.connect().await?,
            prepared: self.prepare.then(Mutex::default),
        })
    }

    async fn is_valid(&self, conn: &mut PooledClient) -> Result<(), Error> {
        self.inner.is_valid(&mut conn.client).await
    }

    fn has_broken(&self, conn: &mut PooledClient) -> bool {
        self.inner.has_broken(&mut conn.client)
    }
}
