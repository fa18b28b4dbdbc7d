//! Reading columns from a row: a column that is missing or of an unexpected type (a schema the
//! repository did not expect) is an `Error::Internal` naming the column, never a panic.

use std::fmt::Display;

use tokio_postgres::{row::RowIndex, types::FromSql, Row};

use crate::error::{Error, Result};

/// [`Row::try_get`] with the failure mapped to INTERNAL; use it instead of the panicking `Row::get`.
pub trait Columns {
    /// Column `idx` (a position or a name) as `T`.
    fn col<'a, I, T>(&'a self, idx: I) -> Result<T>
    where
        I: RowIndex + Display,
        T: FromSql<'a>;
}

impl Columns for Row {
    fn col<'a, I, T>(&'a self, idx: I) -> Result<T>
    where
        I: RowIndex + Display,
        T: FromSql<'a>,
    {
        let name = idx.to_string();
        self.try_get(idx)
            .map_err(|e| Error::internal(format!("reading column {name} of a row"), e))
    }
}
