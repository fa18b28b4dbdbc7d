//! Statements sent unnamed: Parse, Bind and Execute in one round trip, with each parameter's type
//! given by dbosd instead of asked of the server. tokio-postgres' `query(&str)` prepares a *named*
//! statement in one round trip and runs it in another; behind a transaction-pooling pgbouncer the
//! two may reach different server sessions ("prepared statement does not exist"). Unnamed
//! statements leave nothing behind in the session, so every pooled call works through one.

use std::future::Future;

use bytes::BytesMut;
use tokio_postgres::{
    types::{ToSql, Type},
    Error, GenericClient, Row,
};

/// The PostgreSQL types dbosd's parameters have, most specific Rust mapping first: the first one
/// a value accepts is its type (`String` → text, `i64` → bigint, `Vec<String>` → text[], ...).
const CANDIDATES: [Type; 14] = [
    Type::TEXT,
    Type::INT8,
    Type::INT4,
    Type::INT2,
    Type::BOOL,
    Type::FLOAT8,
    Type::FLOAT4,
    Type::JSONB,
    Type::BYTEA,
    Type::TEXT_ARRAY,
    Type::INT8_ARRAY,
    Type::INT4_ARRAY,
    Type::BOOL_ARRAY,
    Type::FLOAT8_ARRAY,
];

/// The type of one parameter. A value no candidate accepts gets `text`, and tokio-postgres then
/// reports the mismatch as an ordinary error when it encodes it.
fn type_of(param: &(dyn ToSql + Sync)) -> Type {
    let mut scratch = BytesMut::new();
    CANDIDATES
        .iter()
        .find(|ty| {
            scratch.clear();
            param.to_sql_checked(ty, &mut scratch).is_ok()
        })
        .cloned()
        .unwrap_or(Type::TEXT)
}

fn typed<'a>(params: &[&'a (dyn ToSql + Sync)]) -> Vec<(&'a (dyn ToSql + Sync), Type)> {
    params.iter().map(|p| (*p, type_of(*p))).collect()
}

/// Each method is tokio-postgres' method of the same name, sent as an unnamed statement.
macro_rules! unnamed {
    ($($name:ident => $typed:ident -> $out:ty;)+) => {
        /// `query`, `query_one`, `query_opt` and `execute`, sent as unnamed statements.
        pub trait Unnamed: GenericClient + Sync {
            $(
                fn $name<'a>(
                    &'a self,
                    sql: &'a str,
                    params: &'a [&'a (dyn ToSql + Sync)],
                ) -> impl Future<Output = Result<$out, Error>> + Send + 'a {
                    async move { self.$typed(sql, &typed(params)).await }
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
    use super::*;

    #[test]
    fn parameters_get_their_natural_types() {
        let none: Option<i64> = None;
        let cases: [(&(dyn ToSql + Sync), Type); 7] = [
            (&"text", Type::TEXT),
            (&String::from("s"), Type::TEXT),
            (&1_i64, Type::INT8),
            (&1_i32, Type::INT4),
            (&none, Type::INT8),
            (&vec![String::new()], Type::TEXT_ARRAY),
            (&serde_json::json!({"a": 1}), Type::JSONB),
        ];
        for (param, want) in cases {
            assert_eq!(type_of(param), want);
        }
    }
}
