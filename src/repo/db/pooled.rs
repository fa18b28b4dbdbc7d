//! Pooled connections, each with a cache of the hot statements it has prepared.
//!
//! Parsing and planning a statement can cost PostgreSQL more than running it, so frequent reads
//! (GetWorkflow, the waits' re-reads, list pages) are prepared once per connection and reused.
//! Behind a transaction-pooling proxy (`--direct-database-url` given) a prepared statement may not
//! exist on the server session the next transaction gets, so there the cache is off and every
//! statement goes unnamed ([`crate::repo::db::unnamed::Unnamed`]).
//!
//! Each connection also carries its statement state ([`Session`]): a connection on which a
//! statement was cut off is dropped instead of reused (see [`crate::repo::db::statement`]).

use std::{
    collections::HashMap,
    ops::{Deref, DerefMut},
    sync::{Arc, Mutex},
};

use bb8::ManageConnection;
use bb8_postgres::PostgresConnectionManager;
use futures::TryStreamExt;
use tokio_postgres::{types::ToSql, Client, Error, NoTls, Row, Statement};

use crate::repo::{
    db::statement::{self, Limits, Session},
    db::unnamed::query_prepared,
    db::unnamed::{Param, Unnamed},
};
use crate::sync::lock_unpoisoned;

/// Most statements one connection keeps prepared; past it the cache starts over (list filters can
/// combine into many distinct statements).
const MAX_CACHED: usize = 64;

/// The bb8 manager: tokio-postgres connections wrapped with their statement cache.
pub struct Manager {
    inner: PostgresConnectionManager<NoTls>,
    /// Whether statements may be prepared and sessions set (no transaction-pooling proxy in
    /// between).
    direct: bool,
    /// The `statement_timeout` the connections start with (set by `config`'s options).
    ceiling: Option<std::time::Duration>,
}

impl Manager {
    pub fn new(
        config: tokio_postgres::Config,
        direct: bool,
        ceiling: Option<std::time::Duration>,
    ) -> Self {
        Manager {
            inner: PostgresConnectionManager::new(config, NoTls),
            direct,
            ceiling,
        }
    }
}

/// One pooled connection; derefs to its [`Client`].
pub struct PooledClient {
    /// Boxed, so its address (the key of its [`Session`]) stays put while bb8 moves this around.
    client: Box<Client>,
    /// `None` when statements must not be prepared.
    prepared: Option<Mutex<HashMap<String, Statement>>>,
    session: Arc<Session>,
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

impl Drop for PooledClient {
    fn drop(&mut self) {
        statement::unregister(&self.client);
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
        match self.prepared(sql, params).await? {
            Some(statement) => query_prepared(&self.client, &statement, params).await,
            None => self.client.query_unnamed(sql, params).await,
        }
    }

    /// Like [`PooledClient::query_hot`], but hands each row to `each` as it arrives instead of
    /// collecting them first: a caller converting rows (a list page) holds one row at a time, not
    /// the whole result, and converts while the rest is still on its way. An `Err` from `each`
    /// stops the read (the rest of the result is discarded) and is returned inside the `Ok`.
    pub(crate) async fn for_each_hot<E>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        mut each: impl FnMut(Row) -> Result<(), E>,
    ) -> Result<Result<(), E>, Error> {
        let statement = self.prepared(sql, params).await?;
        let read = async {
            let sql_params = params.iter().map(|p| *p as &(dyn ToSql + Sync));
            let rows = match &statement {
                Some(statement) => self.client.query_raw(statement, sql_params).await?,
                None => {
                    let typed = params
                        .iter()
                        .map(|p| (*p as &(dyn ToSql + Sync), p.pg_type()));
                    self.client.query_typed_raw(sql, typed).await?
                }
            };
            let mut rows = std::pin::pin!(rows);
            while let Some(row) = rows.try_next().await? {
                if let Err(stop) = each(row) {
                    return Ok(Err(stop));
                }
            }
            Ok(Ok(()))
        };
        statement::run(&self.client, false, read).await
    }

    /// `sql` prepared on this connection (from the cache, preparing it on first use); `None`
    /// where statements must not be prepared.
    async fn prepared(&self, sql: &str, params: &[&dyn Param]) -> Result<Option<Statement>, Error> {
        let Some(cache) = &self.prepared else {
            return Ok(None);
        };
        if let Some(statement) = lock_unpoisoned(cache).get(sql).cloned() {
            return Ok(Some(statement));
        }
        let types: Vec<_> = params.iter().map(|p| p.pg_type()).collect();
        let prepare = self.client.prepare_typed(sql, &types);
        // Parsing takes the tables' locks too: it is a statement like any other.
        let statement = statement::run(&self.client, false, prepare).await?;
        let mut cache = lock_unpoisoned(cache);
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(sql.to_owned(), statement.clone());
        Ok(Some(statement))
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
        let client = Box::new(self.inner.connect().await?);
        let session = Session::new(Limits {
            ceiling: self.ceiling,
            settable: self.direct,
        });
        statement::register(&client, Arc::clone(&session));
        Ok(PooledClient {
            client,
            prepared: self.direct.then(Mutex::default),
            session,
        })
    }

    async fn is_valid(&self, conn: &mut PooledClient) -> Result<(), Error> {
        self.inner.is_valid(&mut conn.client).await
    }

    fn has_broken(&self, conn: &mut PooledClient) -> bool {
        conn.session.is_abandoned() || self.inner.has_broken(&mut conn.client)
    }
}
