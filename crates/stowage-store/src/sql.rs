//! One way to run the catalog's statements on either engine.
//!
//! Statements are written once, in the SQL both engines share (`RETURNING`, `ON CONFLICT`,
//! partial indexes), with `?N` (or bare `?`) placeholders; for PostgreSQL they are rewritten to
//! `$N` and prepared once per connection. Values cross as [`Value`]s, which bind to whatever type
//! the server inferred for a placeholder (an integer binds to `BIGINT`, `INTEGER` or `BOOLEAN`),
//! and columns come back as [`Cell`]s, so an `EXISTS` that PostgreSQL answers as a boolean reads
//! like SQLite's 0 or 1. Integers in the PostgreSQL schema are `BIGINT` and flags are integers, as
//! in SQLite, so the same statements hold on both.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;

use postgres::types::{FromSql, IsNull, ToSql, Type};
use stowage_types::{Error, Result};

/// Maps a database error to an internal error; SQL failures are never the caller's fault here,
/// because every input is validated before it reaches the store.
fn sqlite_error(error: rusqlite::Error) -> Error {
    Error::internal(format!("catalog: {error}"))
}

fn pg_error(error: postgres::Error) -> Error {
    Error::internal(format!("catalog: {}", crate::pg_client::describe(&error)))
}

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(Cow<'a, str>),
}

/// What can be bound to a placeholder.
pub(crate) trait ToValue {
    fn to_value(&self) -> Value<'_>;
}

impl ToValue for Value<'_> {
    fn to_value(&self) -> Value<'_> {
        match self {
            Value::Text(text) => Value::Text(Cow::Borrowed(text)),
            other => other.clone(),
        }
    }
}

macro_rules! integer_values {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value<'_> {
                Value::Int(*self as i64)
            }
        }
    )*};
}
integer_values!(i64, i32, u32, usize);

impl ToValue for bool {
    fn to_value(&self) -> Value<'_> {
        Value::Int(i64::from(*self))
    }
}

impl ToValue for f64 {
    fn to_value(&self) -> Value<'_> {
        Value::Real(*self)
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value<'_> {
        Value::Text(Cow::Borrowed(self))
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value<'_> {
        Value::Text(Cow::Borrowed(self))
    }
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value<'_> {
        (**self).to_value()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value<'_> {
        match self {
            Some(value) => value.to_value(),
            None => Value::Null,
        }
    }
}

impl From<i64> for Value<'static> {
    fn from(value: i64) -> Self {
        Value::Int(value)
    }
}

impl From<String> for Value<'static> {
    fn from(value: String) -> Self {
        Value::Text(Cow::Owned(value))
    }
}

/// Values collected at run time (a statement built from a filter), as placeholders' values.
pub(crate) fn dynamic<'v>(values: &'v [Value<'v>]) -> Vec<&'v dyn ToValue> {
    values.iter().map(|value| value as &dyn ToValue).collect()
}

/// The placeholders' values of one statement: `params![a, b]`.
macro_rules! params {
    ($($value:expr),* $(,)?) => {
        &[$(&$value as &dyn $crate::sql::ToValue),*] as &[&dyn $crate::sql::ToValue]
    };
}
pub(crate) use params;

pub(crate) type Params<'p> = &'p [&'p dyn ToValue];

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(value) => ValueRef::Integer(*value),
            Value::Real(value) => ValueRef::Real(*value),
            Value::Text(text) => ValueRef::Text(text.as_bytes()),
        }))
    }
}

impl ToSql for Value<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match (self, ty) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::Int(value), &Type::INT8) => value.to_sql(ty, out),
            (Value::Int(value), &Type::INT4) => i32::try_from(*value)?.to_sql(ty, out),
            (Value::Int(value), &Type::INT2) => i16::try_from(*value)?.to_sql(ty, out),
            (Value::Int(value), &Type::BOOL) => (*value != 0).to_sql(ty, out),
            (Value::Int(value), &Type::FLOAT8) => (*value as f64).to_sql(ty, out),
            (Value::Int(value), &Type::TEXT | &Type::VARCHAR) => value.to_string().to_sql(ty, out),
            (Value::Real(value), &Type::FLOAT8) => value.to_sql(ty, out),
            (Value::Real(value), &Type::FLOAT4) => (*value as f32).to_sql(ty, out),
            (Value::Text(text), _) => text.as_ref().to_sql(ty, out),
            (value, ty) => Err(format!("cannot bind {value:?} to a {ty} placeholder").into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

/// A column's value as a row holds it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Cell<'r> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'r str),
}

impl<'r> FromSql<'r> for Cell<'r> {
    fn from_sql(ty: &Type, raw: &'r [u8]) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(match *ty {
            Type::INT8 => Cell::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => Cell::Int(i32::from_sql(ty, raw)?.into()),
            Type::INT2 => Cell::Int(i16::from_sql(ty, raw)?.into()),
            Type::BOOL => Cell::Int(bool::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => Cell::Real(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => Cell::Real(f32::from_sql(ty, raw)?.into()),
            _ => Cell::Text(<&str>::from_sql(ty, raw)?),
        })
    }

    fn from_sql_null(_: &Type) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Cell::Null)
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::INT8 | Type::INT4 | Type::INT2 | Type::BOOL | Type::FLOAT8 | Type::FLOAT4)
            || <&str as FromSql>::accepts(ty)
    }
}

/// What a column can be read as.
pub(crate) trait FromCell: Sized {
    fn from_cell(cell: Cell<'_>) -> std::result::Result<Self, String>;
}

impl FromCell for i64 {
    fn from_cell(cell: Cell<'_>) -> std::result::Result<Self, String> {
        match cell {
            Cell::Int(value) => Ok(value),
            other => Err(format!("expected an integer, found {other:?}")),
        }
    }
}

impl FromCell for bool {
    fn from_cell(cell: Cell<'_>) -> std::result::Result<Self, String> {
        i64::from_cell(cell).map(|value| value != 0)
    }
}

impl FromCell for f64 {
    fn from_cell(cell: Cell<'_>) -> std::result::Result<Self, String> {
        match cell {
            Cell::Real(value) => Ok(value),
            Cell::Int(value) => Ok(value as f64),
            other => Err(format!("expected a number, found {other:?}")),
        }
    }
}

impl FromCell for String {
    fn from_cell(cell: Cell<'_>) -> std::result::Result<Self, String> {
        match cell {
            Cell::Text(text) => Ok(text.to_string()),
            other => Err(format!("expected text, found {other:?}")),
        }
    }
}

impl<T: FromCell> FromCell for Option<T> {
    fn from_cell(cell: Cell<'_>) -> std::result::Result<Self, String> {
        match cell {
            Cell::Null => Ok(None),
            other => T::from_cell(other).map(Some),
        }
    }
}

/// One row of a result.
pub(crate) enum Row<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    Postgres(&'r postgres::Row),
}

impl Row<'_> {
    /// Column `index`, read as `T`.
    pub(crate) fn get<T: FromCell>(&self, index: usize) -> Result<T> {
        let read = match self {
            Row::Sqlite(row) => match row.get_ref(index) {
                Ok(value) => {
                    use rusqlite::types::ValueRef;
                    let cell = match value {
                        ValueRef::Null => Cell::Null,
                        ValueRef::Integer(value) => Cell::Int(value),
                        ValueRef::Real(value) => Cell::Real(value),
                        ValueRef::Text(text) => {
                            Cell::Text(std::str::from_utf8(text).map_err(|e| Error::internal(format!("catalog: {e}")))?)
                        }
                        ValueRef::Blob(_) => return Err(Error::internal("catalog: a blob where none is stored")),
                    };
                    T::from_cell(cell)
                }
                Err(error) => Err(error.to_string()),
            },
            Row::Postgres(row) => match row.try_get::<_, Cell<'_>>(index) {
                Ok(cell) => T::from_cell(cell),
                Err(error) => Err(error.to_string()),
            },
        };
        read.map_err(|error| Error::internal(format!("catalog column {index}: {error}")))
    }
}

/// A PostgreSQL connection with its prepared statements.
pub(crate) struct PgConn {
    pub(crate) client: crate::pg_client::PgClient,
    statements: HashMap<String, postgres::Statement>,
}

impl PgConn {
    pub(crate) fn new(client: crate::pg_client::PgClient) -> Self {
        PgConn { client, statements: HashMap::new() }
    }

    fn statement(&mut self, sql: &str) -> Result<postgres::Statement> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(&placeholders(sql)).map_err(pg_error)?;
        if self.statements.len() >= 512 {
            // Statements built from filters vary; the fixed ones come back at the next use.
            self.statements.clear();
        }
        self.statements.insert(sql.to_string(), statement.clone());
        Ok(statement)
    }
}

/// Rewrites `?N` and bare `?` to PostgreSQL's `$N`, outside quoted text.
fn placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    let (mut quote, mut next) = (None, 1);
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(open), c) if c == open => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '?') => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                out.push('$');
                if digits.is_empty() {
                    out.push_str(&next.to_string());
                    next += 1;
                } else {
                    out.push_str(&digits);
                }
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

/// A connection of either engine, inside whatever transaction its holder began.
#[derive(Clone, Copy)]
pub(crate) enum Conn<'c> {
    Sqlite(&'c rusqlite::Connection),
    Postgres(&'c RefCell<PgConn>),
}

fn sqlite_params<'p>(params: Params<'p>) -> Vec<Value<'p>> {
    params.iter().map(|value| value.to_value()).collect()
}

impl Conn<'_> {
    /// The operator that matches a `LIKE` pattern regardless of case (SQLite's `LIKE` does).
    pub(crate) fn like(&self) -> &'static str {
        match self {
            Conn::Sqlite(_) => "LIKE",
            Conn::Postgres(_) => "ILIKE",
        }
    }

    /// Runs a statement; returns how many rows it changed.
    pub(crate) fn execute(&self, sql: &str, params: Params<'_>) -> Result<usize> {
        self.try_execute(sql, params).map_err(Failure::into_error)
    }

    /// Runs an insert whose row may break a uniqueness rule: that is the caller's `duplicate`
    /// error (two requests that raced to create the same bucket, say: the loser gets the
    /// `alreadyExists` code, never a 500), anything else a server fault.
    pub(crate) fn insert(&self, sql: &str, params: Params<'_>, duplicate: impl FnOnce() -> Error) -> Result<usize> {
        self.try_execute(sql, params).map_err(|failure| failure.or_duplicate(duplicate))
    }

    /// Runs an insert with `RETURNING` one integer (the new row's id).
    pub(crate) fn insert_returning(
        &self,
        sql: &str,
        params: Params<'_>,
        duplicate: impl FnOnce() -> Error,
    ) -> Result<i64> {
        match self.try_rows(sql, params, &mut |row| row.get::<i64>(0)) {
            Ok(ids) => ids.into_iter().next().ok_or_else(|| Error::internal("catalog: an insert returned no row")),
            Err(failure) => Err(failure.or_duplicate(duplicate)),
        }
    }

    /// Every row of a query, each read by `read`.
    pub(crate) fn rows<T>(
        &self,
        sql: &str,
        params: Params<'_>,
        mut read: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        self.try_rows(sql, params, &mut read).map_err(Failure::into_error)
    }

    /// The first row of a query, if any.
    pub(crate) fn row<T>(
        &self,
        sql: &str,
        params: Params<'_>,
        read: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<Option<T>> {
        let mut read = Some(read);
        let mut first = |row: &Row<'_>| match read.take() {
            Some(read) => read(row).map(Some),
            None => Ok(None),
        };
        let rows = self.try_rows(sql, params, &mut first).map_err(Failure::into_error)?;
        Ok(rows.into_iter().next().flatten())
    }

    /// The one row of a query that always answers one (an aggregate, say).
    pub(crate) fn one<T>(&self, sql: &str, params: Params<'_>, read: impl FnOnce(&Row<'_>) -> Result<T>) -> Result<T> {
        self.row(sql, params, read)?.ok_or_else(|| Error::internal("catalog: a query answered no row"))
    }

    fn try_execute(&self, sql: &str, params: Params<'_>) -> std::result::Result<usize, Failure> {
        match self {
            Conn::Sqlite(conn) => {
                let mut statement = conn.prepare_cached(sql).map_err(Failure::Sqlite)?;
                let values = sqlite_params(params);
                statement.execute(rusqlite::params_from_iter(values.iter())).map_err(Failure::Sqlite)
            }
            Conn::Postgres(conn) => {
                let mut conn = conn.borrow_mut();
                let statement = conn.statement(sql).map_err(Failure::Other)?;
                let values: Vec<Value<'_>> = sqlite_params(params);
                let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|value| value as _).collect();
                let changed = conn.client.execute(&statement, &refs).map_err(Failure::Postgres)?;
                Ok(changed as usize)
            }
        }
    }

    fn try_rows<T>(
        &self,
        sql: &str,
        params: Params<'_>,
        read: &mut dyn FnMut(&Row<'_>) -> Result<T>,
    ) -> std::result::Result<Vec<T>, Failure> {
        match self {
            Conn::Sqlite(conn) => {
                let mut statement = conn.prepare_cached(sql).map_err(Failure::Sqlite)?;
                let values = sqlite_params(params);
                let mut rows = statement.query(rusqlite::params_from_iter(values.iter())).map_err(Failure::Sqlite)?;
                let mut out = Vec::new();
                while let Some(row) = rows.next().map_err(Failure::Sqlite)? {
                    out.push(read(&Row::Sqlite(row)).map_err(Failure::Other)?);
                }
                Ok(out)
            }
            Conn::Postgres(conn) => {
                let rows = {
                    let mut conn = conn.borrow_mut();
                    let statement = conn.statement(sql).map_err(Failure::Other)?;
                    let values: Vec<Value<'_>> = sqlite_params(params);
                    let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|value| value as _).collect();
                    conn.client.query(&statement, &refs).map_err(Failure::Postgres)?
                };
                rows.iter().map(|row| read(&Row::Postgres(row)).map_err(Failure::Other)).collect()
            }
        }
    }
}

/// Why a statement failed, before it becomes an [`Error`].
enum Failure {
    Sqlite(rusqlite::Error),
    Postgres(postgres::Error),
    Other(Error),
}

impl Failure {
    fn into_error(self) -> Error {
        match self {
            Failure::Sqlite(error) => sqlite_error(error),
            Failure::Postgres(error) => pg_error(error),
            Failure::Other(error) => error,
        }
    }

    fn or_duplicate(self, duplicate: impl FnOnce() -> Error) -> Error {
        let unique = match &self {
            Failure::Sqlite(rusqlite::Error::SqliteFailure(failure, _)) => {
                failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            }
            Failure::Postgres(error) => error.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION),
            _ => false,
        };
        if unique {
            duplicate()
        } else {
            self.into_error()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::placeholders;

    #[test]
    fn placeholders_become_numbered_outside_quoted_text() {
        assert_eq!(placeholders("a = ?1 AND b = ?12"), "a = $1 AND b = $12");
        assert_eq!(placeholders("a = ? AND b = ?"), "a = $1 AND b = $2");
        assert_eq!(placeholders("x = '?' AND \"y?\" = ?"), "x = '?' AND \"y?\" = $1");
    }
}
