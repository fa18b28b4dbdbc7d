//! Statements sent unnamed: Parse, Bind and Execute in one round trip, each parameter's type declared
//! by its Rust type ([`Param`]) instead of asked of the server. tokio-postgres' `query(&str)` prepares
//! a *named* statement in one round trip and runs it in another; behind a transaction-pooling
//! pgbouncer the two may reach different server sessions ("prepared statement does not exist").
//! Unnamed statements leave nothing behind in the session, so every pooled call works through one.
//! All of the repository's parameterized statements, `Where`'s (`repo::workflows::list`)
//! included, go through [`Unnamed`]; a type is a constant of the Rust type, never worked out per call.

use std::future::Future;

use tokio_postgres::{
    types::{ToSql, Type},
    Error, GenericClient, Row,
};

/// A parameter whose PostgreSQL type its Rust type declares. The SQL must agree with it (or cast):
/// a mismatch is an error when the statement runs.
pub(crate) trait Param: ToSql + Sync + Send {
    /// The PostgreSQL type of every value of this Rust type.
    fn declared() -> Type
    where
        Self: Sized;

    /// [`Param::declared`], through `dyn Param`.
    fn pg_type(&self) -> Type;
}

/// Declares the PostgreSQL type of each listed Rust type.
macro_rules! declare {
    ($($pg:ident: $($rust:ty),+;)+) => {
        $($(
            impl Param for $rust {
                fn declared() -> Type {
                    Type::$pg
                }
                fn pg_type(&self) -> Type {
                    Type::$pg
                }
            }
        )+)+
    };
}

declare! {
    TEXT: String, &str;
    INT8: i64;
    INT4: i32;
    BOOL: bool;
    FLOAT8: f64;
    TEXT_ARRAY: Vec<String>, Vec<&str>, Vec<Option<String>>, &[String], &[&str];
    INT8_ARRAY: Vec<Option<i64>>;
    INT4_ARRAY: Vec<i32>;
    BOOL_ARRAY: Vec<bool>;
    BYTEA: Vec<u8>;
}

/// NULL or a value: the value's type.
impl<T: Param> Param for Option<T> {
    fn declared() -> Type {
        T::declared()
    }
    fn pg_type(&self) -> Type {
        T::declared()
    }
}

impl<T: Param> Param for &T {
    fn declared() -> Type {
        T::declared()
    }
    fn pg_type(&self) -> Type {
        T::declared()
    }
}

/// Runs a prepared `statement` (its parameter types were fixed when it was prepared).
pub(crate) async fn query_prepared(
    client: &tokio_postgres::Client,
    statement: &tokio_postgres::Statement,
    params: &[&dyn Param],
) -> Result<Vec<Row>, Error> {
    let params: Vec<&(dyn ToSql + Sync)> =
        params.iter().map(|p| *p as &(dyn ToSql + Sync)).collect();
    crate::repo::db::statement::run(client, false, client.query(statement, &params)).await
}

/// tokio-postgres' `query_typed` parameters.
fn typed<'a>(params: &[&'a dyn Param]) -> Vec<(&'a (dyn ToSql + Sync), Type)> {
    params
        .iter()
        .map(|p| (*p as &(dyn ToSql + Sync), p.pg_type()))
        .collect()
}

/// Each method is tokio-postgres' method of the same name, sent as an unnamed statement within the
/// call's limits ([`crate::repo::db::statement::run`]).
macro_rules! unnamed {
    ($($name:ident => $typed:ident -> $out:ty;)+) => {
        /// `query`, `query_one`, `query_opt` and `execute`, sent as unnamed statements.
        pub trait Unnamed: GenericClient + Sync {
            $(
                fn $name<'a>(
                    &'a self,
                    sql: &'a str,
                    params: &'a [&'a dyn Param],
                ) -> impl Future<Output = Result<$out, Error>> + Send + 'a {
                    async move {
                        let client = self.client();
                        // GenericClient is Client or Transaction: only a Client is its own client.
                        let in_transaction = !std::ptr::addr_eq(self, client);
                        let params = typed(params);
                        let statement = self.$typed(sql, &params);
                        crate::repo::db::statement::run(client, in_transaction, statement).await
                    }
                }
            )+
        }
    };
}

unnamed! {
    query_unnamed => query_typed -> Vec<Row>;
    query_one_unnamed => query_typed_one -> Row;
    query_opt_unnamed => query_typed_opt -> Option<Row>;
    execute_unnamed => execute_typed -> u64;
}

impl<C: GenericClient + Sync> Unnamed for C {}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;

    use super::*;

    /// Each Rust type gets its natural PostgreSQL type, and one tokio-postgres can encode it as.
    #[test]
    fn parameters_declare_their_natural_types() {
        let none: Option<i64> = None;
        let cases: [(&dyn Param, Type); 10] = [
            (&"text", Type::TEXT),
            (&String::from("s"), Type::TEXT),
            (&1_i64, Type::INT8),
            (&1_i32, Type::INT4),
            (&1.5_f64, Type::FLOAT8),
            (&none, Type::INT8),
            (&Some(true), Type::BOOL),
            (&vec![String::new()], Type::TEXT_ARRAY),
            (&vec![Some(1_i64), None], Type::INT8_ARRAY),
            (&vec![1_i32], Type::INT4_ARRAY),
        ];
        let mut buf = BytesMut::new();
        for (param, want) in cases {
            assert_eq!(param.pg_type(), want);
            assert!(param.to_sql_checked(&want, &mut buf).is_ok(), "{want}");
        }
    }
}
