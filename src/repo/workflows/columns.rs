//! The enqueue statement's per-row parameters as arrays read straight from the workflows: each
//! [`Column`] encodes its array (one element per workflow) when the statement is sent, so building
//! a statement's parameters allocates nothing per column and copies no text. A lone enqueue used to
//! allocate about fifty times here (a `Vec` and a `Box` per column, a `String` per text value).

use std::error::Error;

use bytes::BytesMut;
use postgres_protocol::types::{array_to_sql, ArrayDimension};
use tokio_postgres::types::{to_sql_checked, IsNull, Kind, ToSql, Type};

use crate::model::NewWorkflow;
use crate::repo::Param;

/// An element type of a column, and the array type the statement declares for it.
pub(crate) trait Element: ToSql + Sync + Send {
    const ARRAY: Type;
}

impl Element for Option<&str> {
    const ARRAY: Type = Type::TEXT_ARRAY;
}

impl Element for Option<i64> {
    const ARRAY: Type = Type::INT8_ARRAY;
}

impl Element for i32 {
    const ARRAY: Type = Type::INT4_ARRAY;
}

impl Element for bool {
    const ARRAY: Type = Type::BOOL_ARRAY;
}

/// One column: `get` applied to every workflow, sent as a one-dimensional array.
pub(crate) struct Column<'a, T> {
    wfs: &'a [NewWorkflow],
    get: fn(&'a NewWorkflow) -> T,
}

impl<'a, T> Column<'a, T> {
    pub fn new(wfs: &'a [NewWorkflow], get: fn(&'a NewWorkflow) -> T) -> Self {
        Column { wfs, get }
    }
}

impl<T> std::fmt::Debug for Column<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Column({} rows)", self.wfs.len())
    }
}

impl<T: Element> ToSql for Column<'_, T> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        let Kind::Array(member) = ty.kind() else {
            return Err(format!("an enqueue column was bound to {ty}, not an array").into());
        };
        let dimension = ArrayDimension {
            len: i32::try_from(self.wfs.len())?,
            lower_bound: 1,
        };
        array_to_sql(
            Some(dimension),
            member.oid(),
            self.wfs.iter(),
            |wf, out| match (self.get)(wf).to_sql(member, out)? {
                IsNull::No => Ok(postgres_protocol::IsNull::No),
                IsNull::Yes => Ok(postgres_protocol::IsNull::Yes),
            },
            out,
        )?;
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == T::ARRAY
    }

    to_sql_checked!();
}

impl<T: Element> Param for Column<'_, T> {
    fn declared() -> Type {
        T::ARRAY
    }

    fn pg_type(&self) -> Type {
        T::ARRAY
    }
}

/// Any column of the statement, so its parameters are one `Vec` without a `Box` each.
#[derive(Debug)]
pub(crate) enum AnyColumn<'a> {
    Text(Column<'a, Option<&'a str>>),
    Int8(Column<'a, Option<i64>>),
    Int4(Column<'a, i32>),
    Bool(Column<'a, bool>),
}

impl AnyColumn<'_> {
    fn inner(&self) -> &dyn Param {
        match self {
            AnyColumn::Text(c) => c,
            AnyColumn::Int8(c) => c,
            AnyColumn::Int4(c) => c,
            AnyColumn::Bool(c) => c,
        }
    }
}

impl ToSql for AnyColumn<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match self {
            AnyColumn::Text(c) => c.to_sql(ty, out),
            AnyColumn::Int8(c) => c.to_sql(ty, out),
            AnyColumn::Int4(c) => c.to_sql(ty, out),
            AnyColumn::Bool(c) => c.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        matches!(ty.kind(), Kind::Array(_))
    }

    // Each variant checks its own type.
    fn to_sql_checked(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        self.inner().to_sql_checked(ty, out)
    }
}

impl Param for AnyColumn<'_> {
    fn declared() -> Type {
        // Only ever used through `pg_type`: which array depends on the variant.
        Type::TEXT_ARRAY
    }

    fn pg_type(&self) -> Type {
        self.inner().pg_type()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A column encodes exactly what the `Vec` it replaces encoded.
    #[test]
    fn encodes_as_the_vec_it_replaces() {
        let wfs = vec![
            NewWorkflow {
                workflow_id: "a".into(),
                class_name: None,
                timeout_ms: Some(5),
                priority: 3,
                ..NewWorkflow::default()
            },
            NewWorkflow {
                workflow_id: "b".into(),
                class_name: Some("C".into()),
                ..NewWorkflow::default()
            },
        ];
        let same = |column: &dyn ToSql, vec: &dyn ToSql, ty: Type| {
            let (mut a, mut b) = (BytesMut::new(), BytesMut::new());
            column.to_sql_checked(&ty, &mut a).unwrap();
            vec.to_sql_checked(&ty, &mut b).unwrap();
            assert_eq!(a, b, "{ty}");
        };
        let ids = Column::new(&wfs, |w| Some(w.workflow_id.as_str()));
        same(&ids, &vec![Some("a"), Some("b")], Type::TEXT_ARRAY);
        let classes = Column::new(&wfs, |w| w.class_name.as_deref());
        same(&classes, &vec![None, Some("C")], Type::TEXT_ARRAY);
        let timeouts = Column::new(&wfs, |w| w.timeout_ms);
        same(&timeouts, &vec![Some(5i64), None], Type::INT8_ARRAY);
        let priorities = Column::new(&wfs, |w| w.priority);
        same(&priorities, &vec![3i32, 0], Type::INT4_ARRAY);
        // Bound to a type it does not declare, it refuses rather than sending the wrong bytes.
        let mut out = BytesMut::new();
        assert!(ids.to_sql_checked(&Type::INT8_ARRAY, &mut out).is_err());
    }
}
