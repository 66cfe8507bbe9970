//! Table storage: [`TableStore`] keeps every table's rows, each under an opaque storage key that
//! the catalog's table record holds (a SQLite file of its own under the tables folder, in the
//! embedded backend); [`SqliteTable`] is one table's rows, opened from it.
//!
//! The file holds `data` (a hidden `_timestamp` column, then one TEXT column per table column)
//! and `meta` (the column order and the primary key). Every import runs in one transaction that
//! writes each row straight into `data` (insert, insert-or-replace, or an upsert that fires only
//! when the row differs) and commits at the end, so a failed import leaves the table exactly as it
//! was, and readers keep seeing the last committed state meanwhile (WAL). The file is authoritative for rows and schema; the catalog mirrors the
//! schema and statistics after each commit.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rusqlite::types::Value as SqlValue;
use rusqlite::{params_from_iter, Connection, OptionalExtension, TransactionBehavior};
use stowage_types::datatype::ColumnType;
use stowage_types::time::Timestamp;
use stowage_types::{Code, Error, Result};

use crate::db;

mod postgres;

/// Quotes an identifier. Column names are validated before they get here; quoting is the
/// second line of defence.
fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// Columns and primary key of a table, and the type of each column of a typed table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schema {
    pub columns: Vec<String>,
    pub primary_key: Vec<String>,
    /// A typed table's column types, in the order of `columns`; `None` for an untyped table, whose
    /// columns are text. PostgreSQL keeps them as native column types; SQLite keeps text and the
    /// types only in its schema (core checks every value either way).
    pub types: Option<Vec<ColumnType>>,
}

impl Schema {
    /// The type of `column`, in a typed table.
    fn type_of(&self, column: &str) -> Option<&ColumnType> {
        self.types.as_ref()?.iter().find(|t| t.name == column)
    }
}

/// How an import treats existing rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportMode {
    /// Replace every row.
    Full,
    /// Upsert by primary key (a row changes only when it differs); append without one.
    Incremental,
}

/// What an import did.
#[derive(Debug, Clone, Default)]
pub struct ImportStats {
    /// Rows read from the file.
    pub rows_in_file: i64,
    /// Columns the file added to the table.
    pub new_columns: Vec<String>,
    /// The table's columns after the import.
    pub columns: Vec<String>,
}

/// The rows of an import, read the way a backend takes them: as values, or as CSV records.
pub trait RowSource {
    /// The next row's values, in the order of the import's header; `None` after the last.
    fn next_values(&mut self) -> Result<Option<Vec<String>>>;

    /// `(delimiter, enclosure)` of the records [`RowSource::next_record`] gives: RFC 4180 with
    /// these two characters, an enclosure inside an enclosed value doubled, no escape character.
    fn dialect(&self) -> (u8, u8) {
        (b',', b'"')
    }

    /// Appends the next row to `rows`; `false` after the last.
    fn next_packed(&mut self, rows: &mut PackedRows) -> Result<bool> {
        let Some(values) = self.next_values()? else { return Ok(false) };
        for value in &values {
            rows.push_value(value);
        }
        rows.end_row();
        Ok(true)
    }

    /// Appends the next row to `out` as one CSV record in [`RowSource::dialect`], without a line
    /// end; `false` after the last.
    fn next_record(&mut self, out: &mut Vec<u8>) -> Result<bool> {
        let Some(values) = self.next_values()? else { return Ok(false) };
        write_record(out, &values);
        Ok(true)
    }
}

/// Rows given as values.
impl<I: Iterator<Item = Result<Vec<String>>>> RowSource for I {
    fn next_values(&mut self) -> Result<Option<Vec<String>>> {
        self.next().transpose()
    }
}

/// Rows in one buffer, their values one after another: a batch costs a few allocations, not one
/// per value.
#[derive(Debug, Default)]
pub struct PackedRows {
    text: String,
    /// Where each value ends in `text`.
    value_ends: Vec<usize>,
    /// Where each row ends in `value_ends`.
    row_ends: Vec<usize>,
}

impl PackedRows {
    /// Adds a value to the row being written.
    pub fn push_value(&mut self, value: &str) {
        self.text.push_str(value);
        self.value_ends.push(self.text.len());
    }

    /// Ends the row being written.
    pub fn end_row(&mut self) {
        self.row_ends.push(self.value_ends.len());
    }

    /// Values in the row being written so far.
    pub fn open_values(&self) -> usize {
        self.value_ends.len() - self.row_ends.last().copied().unwrap_or(0)
    }

    /// Forgets the values of the row being written.
    pub fn drop_open_row(&mut self) {
        self.value_ends.truncate(self.row_ends.last().copied().unwrap_or(0));
        self.text.truncate(self.value_ends.last().copied().unwrap_or(0));
    }

    pub fn len(&self) -> usize {
        self.row_ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.row_ends.is_empty()
    }

    /// Each row's values.
    pub fn rows(&self) -> impl Iterator<Item = impl Iterator<Item = &str>> {
        (0..self.row_ends.len()).map(move |row| {
            let first = if row == 0 { 0 } else { self.row_ends[row - 1] };
            let mut start = if first == 0 { 0 } else { self.value_ends[first - 1] };
            self.value_ends[first..self.row_ends[row]].iter().map(move |&end| {
                let value = &self.text[start..end];
                start = end;
                value
            })
        })
    }
}

/// Writes `values` as a record of the default dialect, each value enclosed, so an empty value
/// reads back as an empty text and not as a missing one.
pub fn write_record(out: &mut Vec<u8>, values: &[String]) {
    for (index, value) in values.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        write_enclosed(out, value.as_bytes(), b'"');
    }
}

/// One value enclosed in `enclosure`, the enclosures in it doubled.
fn write_enclosed(out: &mut Vec<u8>, mut value: &[u8], enclosure: u8) {
    out.push(enclosure);
    // Most values hold no enclosure: one vectorized search, then one copy.
    while let Some(at) = memchr::memchr(enclosure, value) {
        out.extend_from_slice(&value[..=at]);
        out.push(enclosure);
        value = &value[at + 1..];
    }
    out.extend_from_slice(value);
    out.push(enclosure);
}

/// Comparison of a row filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

/// How to compare values of a filter or an ordering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cast {
    Integer,
    Real,
}

/// `column op values`; `Eq` with several values means any of them, `Ne` none of them.
#[derive(Debug, Clone)]
pub struct Filter {
    pub column: String,
    pub op: FilterOp,
    pub values: Vec<String>,
    pub cast: Option<Cast>,
}

/// Which rows and columns to read.
#[derive(Debug, Clone, Default)]
pub struct RowQuery {
    /// Columns in output order; empty means all, in table order.
    pub columns: Vec<String>,
    /// Rows changed at or after this time.
    pub changed_since: Option<Timestamp>,
    /// Rows changed before this time.
    pub changed_until: Option<Timestamp>,
    pub filters: Vec<Filter>,
    /// (column, descending, cast); empty means insertion order.
    pub order_by: Vec<(String, bool, Option<Cast>)>,
    pub limit: Option<i64>,
}

/// Rows read at a time from a [`RowSource`] on the reading thread of a SQLite import.
const BATCH_ROWS: usize = 1024;

/// Up to [`BATCH_ROWS`] rows; fewer only at the end.
fn read_batch(rows: &mut (dyn RowSource + Send)) -> Result<PackedRows> {
    let mut batch = PackedRows::default();
    while batch.len() < BATCH_ROWS && rows.next_packed(&mut batch)? {}
    Ok(batch)
}

/// The `meta` key of the time of a table's last full load, when its `data_timestamp` index holds
/// only the rows whose `_timestamp` is later (a partial index). Every other row was loaded then
/// or earlier (the clock may have gone back), so a query for rows changed after that time finds
/// all of them in the index. Tables whose index holds every row have no such key.
const TIMESTAMP_FLOOR: &str = "timestamp_floor";

/// An open table file of the embedded backend.
pub struct SqliteTable {
    conn: Connection,
}

fn open_connection(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path).map_err(db)?;
    conn.execute_batch(SHARED_FILE).map_err(db)?;
    Ok(conn)
}

/// A table file others may read while it is written: WAL, so readers never wait for the writer.
const SHARED_FILE: &str = "PRAGMA journal_mode = WAL;
     PRAGMA synchronous = NORMAL;
     PRAGMA busy_timeout = 30000;
     PRAGMA temp_store = FILE;
     PRAGMA cache_size = -32000;";

/// A table file nobody else has seen yet, being loaded: its journal in memory (it holds only the
/// few pages the file had before the load; pages a load adds are not journaled) and no syncs
/// until it is done. Unlike no journal at all, a failed statement still rolls back (a primary key
/// index that meets duplicates).
const PRIVATE_FILE: &str = "PRAGMA journal_mode = MEMORY;
     PRAGMA synchronous = OFF;
     PRAGMA temp_store = FILE;
     PRAGMA cache_size = -32000;";

fn cast_expr(column: &str, cast: Option<Cast>) -> String {
    match cast {
        None => quote(column),
        Some(Cast::Integer) => format!("CAST({} AS INTEGER)", quote(column)),
        Some(Cast::Real) => format!("CAST({} AS REAL)", quote(column)),
    }
}

fn cast_value(value: &str, cast: Option<Cast>) -> SqlValue {
    match cast {
        None => SqlValue::Text(value.to_string()),
        Some(Cast::Integer) => {
            value.trim().parse::<i64>().map(SqlValue::Integer).unwrap_or(SqlValue::Text(value.into()))
        }
        Some(Cast::Real) => value.trim().parse::<f64>().map(SqlValue::Real).unwrap_or(SqlValue::Text(value.into())),
    }
}

/// Creates the primary key index over rows just loaded; when the file held the same key more than
/// once, the last of those rows stays (the rare case pays for a second pass).
fn create_primary_key_keeping_last(tx: &Connection, pk: &[String]) -> Result<()> {
    let create = format!("CREATE UNIQUE INDEX data_pk ON data ({})", pk.join(", "));
    match tx.execute(&create, []) {
        Ok(_) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(error, _)) if error.code == rusqlite::ErrorCode::ConstraintViolation => {
            tx.execute(
                &format!(
                    "DELETE FROM data WHERE rowid NOT IN (SELECT MAX(rowid) FROM data GROUP BY {})",
                    pk.join(", ")
                ),
                [],
            )
            .map_err(db)?;
            tx.execute(&create, []).map(drop).map_err(db)
        }
        Err(error) => Err(db(error)),
    }
}

/// Where tables keep their rows. Core knows tables by the storage key of their catalog record and
/// never sees how a backend stores them: `<key>.sqlite` files (with their `-wal` and `-shm`
/// companions) in one folder, or a PostgreSQL table per key.
#[derive(Debug, Clone)]
pub enum TableStore {
    Files { dir: PathBuf },
    Postgres(postgres::PgTables),
}

/// The companion files SQLite may keep beside a table's file.
const COMPANIONS: [&str; 3] = ["-wal", "-shm", "-journal"];

/// The rows of one table, opened from a [`TableStore`]. Blocking: use it on a blocking thread.
pub enum TableData {
    Sqlite(SqliteTable),
    Postgres(Box<postgres::PgTable>),
}

impl TableStore {
    /// Table storage in files under `dir`, created if missing.
    pub fn files(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|error| Error::internal(format!("tables folder: {error}")))?;
        Ok(TableStore::Files { dir: dir.to_path_buf() })
    }

    /// Table storage in schema `schema` of the PostgreSQL database at `url`. Blocking.
    pub fn postgres(url: &str, schema: &str) -> Result<Self> {
        Ok(TableStore::Postgres(postgres::PgTables::connect(url, schema)?))
    }

    /// A storage key no table has used.
    pub fn new_key(&self) -> String {
        let id = uuid::Uuid::now_v7().simple();
        match self {
            TableStore::Files { .. } => format!("{id}.sqlite"),
            TableStore::Postgres(_) => format!("t_{id}"),
        }
    }

    /// Creates the storage of a new table under `key`. Blocking.
    pub fn create(&self, key: &str, schema: &Schema) -> Result<TableData> {
        match self {
            TableStore::Files { dir } => SqliteTable::create(&dir.join(key), schema).map(TableData::Sqlite),
            TableStore::Postgres(tables) => {
                tables.create(key, schema).map(|table| TableData::Postgres(Box::new(table)))
            }
        }
    }

    /// Creates the storage of a new table under `key` and loads its first rows, all or nothing,
    /// with `job` as the commit marker. Nobody reads the new storage until the catalog registers
    /// it, and storage no table owns is swept, so a SQLite file is loaded with its journal in
    /// memory: each page is written once (not to the WAL and again at its checkpoint) and synced
    /// once at the end. When this fails, the caller removes `key`. Blocking.
    pub fn create_loaded(
        &self,
        key: &str,
        schema: &Schema,
        header: &[String],
        now: Timestamp,
        rows: &mut (dyn RowSource + Send),
        job: Option<i64>,
    ) -> Result<(TableData, ImportStats)> {
        match self {
            TableStore::Files { dir } => {
                let (table, stats) = SqliteTable::create_loaded(&dir.join(key), schema, header, now, rows, job)?;
                Ok((TableData::Sqlite(table), stats))
            }
            TableStore::Postgres(_) => {
                let mut data = self.create(key, schema)?;
                let stats = data.import(header, ImportMode::Full, now, rows, job)?;
                Ok((data, stats))
            }
        }
    }

    /// Opens the rows of the table stored under `key`. Blocking.
    pub fn open(&self, key: &str) -> Result<TableData> {
        self.open_existing(key)?.ok_or_else(|| Error::internal(format!("the rows of table storage {key} are missing")))
    }

    /// Opens the rows stored under `key`, or `None` when there are none (removed meanwhile). An
    /// opened SQLite file stays readable after it is removed. Blocking.
    pub fn open_existing(&self, key: &str) -> Result<Option<TableData>> {
        match self {
            TableStore::Files { dir } => {
                let path = dir.join(key);
                if !path.exists() {
                    return Ok(None);
                }
                Ok(Some(TableData::Sqlite(SqliteTable { conn: open_connection(&path)? })))
            }
            TableStore::Postgres(tables) => tables.open(key).map(|table| Some(TableData::Postgres(Box::new(table)))),
        }
    }

    /// Whether a full load of an existing table builds new storage ([`TableStore::create_loaded`])
    /// for the catalog to swap in, instead of loading in place. For SQLite files: a new file is
    /// written once (no WAL), and a reader that opened the old one keeps reading it after it is
    /// removed. PostgreSQL loads in place (`TRUNCATE` and `COPY` in one transaction), since a
    /// dropped table is gone even for a reader that looked it up.
    pub fn full_load_replaces(&self) -> bool {
        matches!(self, TableStore::Files { .. })
    }

    /// Removes the table stored under `key`; what cannot be removed is logged (the start-up sweep
    /// removes it later). Blocking.
    pub fn remove(&self, key: &str) {
        match self {
            TableStore::Files { dir } => {
                for suffix in std::iter::once("").chain(COMPANIONS) {
                    let file = dir.join(format!("{key}{suffix}"));
                    if let Err(error) = std::fs::remove_file(&file) {
                        if error.kind() != std::io::ErrorKind::NotFound {
                            tracing::warn!(path = %file.display(), %error, "could not remove a table's storage");
                        }
                    }
                }
            }
            TableStore::Postgres(tables) => {
                if let Err(error) = tables.remove(key) {
                    tracing::warn!(key, %error, "could not remove a table's storage");
                }
            }
        }
    }

    /// The key of every table this store holds.
    pub fn keys(&self) -> Result<HashSet<String>> {
        let dir = match self {
            TableStore::Files { dir } => dir,
            TableStore::Postgres(tables) => return tables.keys(),
        };
        let mut keys = HashSet::new();
        for entry in std::fs::read_dir(dir).map_err(Error::internal)? {
            let path = entry.map_err(Error::internal)?.path();
            let name = path.file_name().and_then(|name| name.to_str()).unwrap_or_default();
            keys.insert(COMPANIONS.iter().fold(name, |name, end| name.strip_suffix(end).unwrap_or(name)).to_string());
        }
        Ok(keys)
    }

    /// Removes every stored table whose key is not in `owned` (storage of a create or drop cut
    /// off halfway); returns how many. Only while no job runs: a create's new storage is owned by
    /// nothing until its catalog record commits. Blocking.
    pub fn sweep(&self, owned: &HashSet<String>) -> Result<usize> {
        let orphans: Vec<String> = self.keys()?.into_iter().filter(|key| !owned.contains(key)).collect();
        for key in &orphans {
            tracing::warn!(key, "deleting table storage no table owns");
            self.remove(key);
        }
        Ok(orphans.len())
    }
}

impl TableData {
    /// The table's columns and primary key.
    pub fn schema(&self) -> Result<Schema> {
        match self {
            TableData::Sqlite(table) => table.schema(),
            TableData::Postgres(table) => table.schema(),
        }
    }

    /// (row count, bytes stored).
    pub fn stats(&self) -> Result<(i64, i64)> {
        match self {
            TableData::Sqlite(table) => table.stats(),
            TableData::Postgres(table) => table.stats(),
        }
    }

    /// Imports rows whose values follow `header`. Every existing column must be in `header`;
    /// columns new to the table are added. Nothing changes unless every row is valid, and `job`
    /// (the commit marker) commits with the rows.
    pub fn import(
        &mut self,
        header: &[String],
        mode: ImportMode,
        now: Timestamp,
        rows: &mut (dyn RowSource + Send),
        job: Option<i64>,
    ) -> Result<ImportStats> {
        match self {
            TableData::Sqlite(table) => table.import(header, mode, now, rows, job),
            TableData::Postgres(table) => table.import(header, mode, now, rows, job),
        }
    }

    /// The last job whose import committed into this table, with what it imported.
    pub fn last_job(&self) -> Result<Option<(i64, ImportStats)>> {
        match self {
            TableData::Sqlite(table) => table.last_job(),
            TableData::Postgres(table) => table.last_job(),
        }
    }

    /// Reads rows; `each` gets the values of the chosen columns, in order.
    pub fn query(&self, query: &RowQuery, each: &mut dyn FnMut(&[&str]) -> Result<()>) -> Result<()> {
        match self {
            TableData::Sqlite(table) => table.query(query, each),
            TableData::Postgres(table) => table.query(query, each),
        }
    }

    /// Writes the rows a query selects as CSV records, every value enclosed in `"` (doubled
    /// inside), each record ending in `\n`: what exports and downloads send. PostgreSQL writes
    /// them itself (`COPY ... TO STDOUT`); on SQLite they are written from the rows. A query
    /// without an order and a limit may list its rows in any order: PostgreSQL lists them as
    /// they lie in the table, which an update changes.
    pub fn write_csv(&self, query: &RowQuery, out: &mut dyn std::io::Write) -> Result<()> {
        match self {
            TableData::Sqlite(table) => table.write_csv(query, out),
            TableData::Postgres(table) => table.write_csv(query, out),
        }
    }

    /// Sets the primary key; fails when the rows hold duplicates of it.
    pub fn set_primary_key(&mut self, primary_key: &[String]) -> Result<Schema> {
        match self {
            TableData::Sqlite(table) => table.set_primary_key(primary_key),
            TableData::Postgres(table) => table.set_primary_key(primary_key),
        }
    }

    /// Adds a column: typed (`definition`) to a typed table, text to an untyped one. Existing rows
    /// take the column's default (empty when it has none).
    pub fn add_column(&mut self, column: &str, definition: Option<&ColumnType>) -> Result<Schema> {
        match self {
            TableData::Sqlite(table) => table.add_column(column, definition),
            TableData::Postgres(table) => table.add_column(column, definition),
        }
    }

    /// Removes the primary key.
    pub fn remove_primary_key(&mut self) -> Result<Schema> {
        match self {
            TableData::Sqlite(table) => table.remove_primary_key(),
            TableData::Postgres(table) => table.remove_primary_key(),
        }
    }
}

/// The marker an import leaves with its rows (`last_job`).
fn marker(job: i64, stats: &ImportStats) -> String {
    serde_json::json!({
        "job": job, "rowsInFile": stats.rows_in_file, "newColumns": stats.new_columns, "columns": stats.columns,
    })
    .to_string()
}

/// Reads a marker back.
fn read_marker(text: &str) -> Result<Option<(i64, ImportStats)>> {
    let marker: serde_json::Value = serde_json::from_str(text).map_err(Error::internal)?;
    let strings = |key: &str| -> Vec<String> {
        marker[key].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_string)).collect()
    };
    let stats = ImportStats {
        rows_in_file: marker["rowsInFile"].as_i64().unwrap_or_default(),
        new_columns: strings("newColumns"),
        columns: strings("columns"),
    };
    Ok(marker["job"].as_i64().map(|job| (job, stats)))
}

/// How a file's header meets a table's columns: the header in the table's spelling (a file may
/// differ in case), the columns it adds, and the table's columns after the import.
struct ColumnPlan {
    header: Vec<String>,
    new_columns: Vec<String>,
    columns: Vec<String>,
}

/// Plans an import's columns; every existing column must be in `header`.
fn plan_columns(schema: &Schema, header: &[String]) -> Result<ColumnPlan> {
    let lower = |c: &String| c.to_lowercase();
    let missing: Vec<&String> =
        schema.columns.iter().filter(|c| !header.iter().map(lower).any(|h| h == lower(c))).collect();
    if !missing.is_empty() {
        return Err(Error::new(
            Code::ColumnsMissing,
            format!(
                "Some columns are missing in the csv file. Missing columns: {}. Expected columns: {}. \
                 Please check if the expected delimiter is used.",
                missing.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(","),
                schema.columns.join(",")
            ),
        ));
    }
    let header: Vec<String> = header
        .iter()
        .map(|h| schema.columns.iter().find(|c| lower(c) == lower(h)).cloned().unwrap_or_else(|| h.clone()))
        .collect();
    let new_columns: Vec<String> = header.iter().filter(|h| !schema.columns.contains(h)).cloned().collect();
    if let (Some(_), Some(column)) = (&schema.types, new_columns.first()) {
        return Err(Error::new(
            Code::TableValidation,
            format!("The column \"{column}\" is not a column of this typed table; add it with its type first."),
        ));
    }
    let columns = schema.columns.iter().chain(&new_columns).cloned().collect();
    Ok(ColumnPlan { header, new_columns, columns })
}

/// A string literal of SQL (both engines).
fn text_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Adds `column` to `schema`: with its type to a typed table; as text to an untyped one (and to a
/// typed table stored before its types were kept). Returns the type the column is stored with.
fn add_to_schema(schema: &mut Schema, column: &str, definition: Option<&ColumnType>) -> Result<Option<ColumnType>> {
    let stored = match (&mut schema.types, definition) {
        (Some(types), Some(definition)) => {
            let stored = ColumnType { name: column.to_string(), ..definition.clone() };
            types.push(stored.clone());
            Some(stored)
        }
        (Some(_), None) => {
            return Err(Error::new(
                Code::TableValidation,
                format!("The column \"{column}\" needs a type: the table is typed."),
            ))
        }
        (None, _) => None,
    };
    schema.columns.push(column.to_string());
    Ok(stored)
}

/// The error of a key over rows that repeat it.
fn key_duplicates() -> Error {
    Error::new(Code::PrimaryKeyDuplicates, "Cannot create new primary key, duplicate values in primary key columns")
}

impl SqliteTable {
    /// Creates the file of a new table.
    fn create(path: &Path, schema: &Schema) -> Result<SqliteTable> {
        SqliteTable::create_in(open_connection(path)?, schema)
    }

    /// Creates the file of a new table and loads it with its journal in memory, then makes it a
    /// shared file and syncs it and its folder (see [`TableStore::create_loaded`]). A load that
    /// fails leaves the file for the caller to remove.
    fn create_loaded(
        path: &Path,
        schema: &Schema,
        header: &[String],
        now: Timestamp,
        rows: &mut (dyn RowSource + Send),
        job: Option<i64>,
    ) -> Result<(SqliteTable, ImportStats)> {
        let conn = Connection::open(path).map_err(db)?;
        conn.execute_batch(PRIVATE_FILE).map_err(db)?;
        let mut table = SqliteTable::create_in(conn, schema)?;
        let stats = table.import(header, ImportMode::Full, now, rows, job)?;
        table.conn.execute_batch(SHARED_FILE).map_err(db)?;
        std::fs::File::open(path).and_then(|file| file.sync_all()).map_err(Error::internal)?;
        if let Some(dir) = path.parent() {
            std::fs::File::open(dir).and_then(|dir| dir.sync_all()).map_err(Error::internal)?;
        }
        Ok((table, stats))
    }

    fn create_in(conn: Connection, schema: &Schema) -> Result<SqliteTable> {
        let columns: Vec<String> =
            schema.columns.iter().map(|c| format!("{} TEXT NOT NULL DEFAULT ''", quote(c))).collect();
        let mut sql = format!(
            "CREATE TABLE data (_timestamp INTEGER NOT NULL{}{});
             CREATE INDEX data_timestamp ON data(_timestamp);
             CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
            if columns.is_empty() { "" } else { ", " },
            columns.join(", ")
        );
        if !schema.primary_key.is_empty() {
            let pk: Vec<String> = schema.primary_key.iter().map(|c| quote(c)).collect();
            sql.push_str(&format!("CREATE UNIQUE INDEX data_pk ON data ({});", pk.join(", ")));
        }
        conn.execute_batch(&sql).map_err(db)?;
        SqliteTable::write_schema_in(&conn, schema)?;
        Ok(SqliteTable { conn })
    }

    fn schema(&self) -> Result<Schema> {
        SqliteTable::schema_of(&self.conn)
    }

    /// (row count, bytes on disk).
    pub fn stats(&self) -> Result<(i64, i64)> {
        let rows: i64 = self.conn.query_row("SELECT COUNT(*) FROM data", [], |row| row.get(0)).map_err(db)?;
        let pages: i64 = self.conn.query_row("PRAGMA page_count", [], |row| row.get(0)).map_err(db)?;
        let page_size: i64 = self.conn.query_row("PRAGMA page_size", [], |row| row.get(0)).map_err(db)?;
        Ok((rows, pages * page_size))
    }

    /// Imports rows whose values follow `header`. Every existing column must be in `header`;
    /// columns new to the table are added. Nothing changes unless every row is valid.
    pub fn import(
        &mut self,
        header: &[String],
        mode: ImportMode,
        now: Timestamp,
        rows: &mut (dyn RowSource + Send),
        job: Option<i64>,
    ) -> Result<ImportStats> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
        let schema = SqliteTable::schema_of(&tx)?;
        let ColumnPlan { header, new_columns, columns } = plan_columns(&schema, header)?;
        for column in &new_columns {
            tx.execute(&format!("ALTER TABLE data ADD COLUMN {} TEXT NOT NULL DEFAULT ''", quote(column)), [])
                .map_err(db)?;
        }

        // Rows go straight into `data`: the transaction makes the import all or nothing, so no
        // staging copy is needed, and each row is written once.
        let target: Vec<String> = header.iter().map(|c| quote(c)).collect();
        let marks = (2..=header.len() + 1).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ");
        let insert = format!("INTO data (_timestamp, {}) VALUES (?1, {marks})", target.join(", "));
        let pk: Vec<String> = schema.primary_key.iter().map(|c| quote(c)).collect();
        let sql = match (mode, pk.is_empty()) {
            // A full load has no index while its rows go in (see below).
            (ImportMode::Full, _) | (ImportMode::Incremental, true) => format!("INSERT {insert}"),
            (ImportMode::Incremental, false) => {
                // The key's columns are equal by the conflict: setting them would only rewrite
                // the key's index entry of every updated row.
                let values: Vec<&String> = target.iter().filter(|c| !pk.contains(c)).collect();
                let updates: Vec<String> = values.iter().map(|c| format!("{c} = excluded.{c}")).collect();
                let differs: Vec<String> = values.iter().map(|c| format!("data.{c} IS NOT excluded.{c}")).collect();
                let conflict = if values.is_empty() {
                    "DO NOTHING".to_string()
                } else {
                    format!(
                        "DO UPDATE SET {}, _timestamp = excluded._timestamp WHERE {}",
                        updates.join(", "),
                        differs.join(" OR ")
                    )
                };
                format!("INSERT {insert} ON CONFLICT ({}) {conflict}", pk.join(", "))
            }
        };
        if mode == ImportMode::Full {
            // The indexes are built again after the rows are in: one sort instead of a B-tree
            // insert per row, several times faster for keys in random order.
            tx.execute_batch("DROP INDEX IF EXISTS data_pk; DROP INDEX IF EXISTS data_timestamp; DELETE FROM data;")
                .map_err(db)?;
        }
        let mut rows_in_file = 0i64;
        {
            let mut statement = tx.prepare(&sql).map_err(db)?;
            // The file is read and parsed on a thread of its own while this one writes.
            std::thread::scope(|scope| -> Result<()> {
                let (batches, receiver) = std::sync::mpsc::sync_channel::<Result<PackedRows>>(4);
                scope.spawn(move || loop {
                    let batch = read_batch(rows);
                    let last = !matches!(&batch, Ok(batch) if batch.len() == BATCH_ROWS);
                    if batches.send(batch).is_err() || last {
                        return;
                    }
                });
                for batch in receiver {
                    for row in batch?.rows() {
                        statement.raw_bind_parameter(1, now).map_err(db)?;
                        for (index, value) in row.enumerate() {
                            statement.raw_bind_parameter(index + 2, value).map_err(db)?;
                        }
                        statement.raw_execute().map_err(db)?;
                        rows_in_file += 1;
                    }
                }
                Ok(())
            })?;
        }
        if mode == ImportMode::Full {
            // Every row has `now` as its time: the index holds only rows changed since (see
            // `TIMESTAMP_FLOOR`), so it starts empty, costs a scan instead of a sort, and later
            // holds just what incremental loads changed, which is what `changedSince` looks for.
            tx.execute_batch(&format!(
                "CREATE INDEX data_timestamp ON data(_timestamp) WHERE _timestamp > {now};
                 INSERT INTO meta (key, value) VALUES ('{TIMESTAMP_FLOOR}', '{now}')
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value;"
            ))
            .map_err(db)?;
            if !pk.is_empty() {
                create_primary_key_keeping_last(&tx, &pk)?;
            }
        }
        let new_schema = Schema { columns: columns.clone(), primary_key: schema.primary_key, types: schema.types };
        SqliteTable::write_schema_in(&tx, &new_schema)?;
        let stats = ImportStats { rows_in_file, new_columns, columns };
        if let Some(job) = job {
            // The commit marker: the rows and the job that wrote them commit together, so after a
            // stop the job's outcome is read here instead of guessed.
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('last_job', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [marker(job, &stats)],
            )
            .map_err(db)?;
        }
        tx.commit().map_err(db)?;
        Ok(stats)
    }

    /// The last job whose import committed into this table, with what it imported.
    pub fn last_job(&self) -> Result<Option<(i64, ImportStats)>> {
        let text: Option<String> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'last_job'", [], |row| row.get(0))
            .optional()
            .map_err(db)?;
        let Some(text) = text else { return Ok(None) };
        read_marker(&text)
    }

    fn schema_of(conn: &Connection) -> Result<Schema> {
        let read = |key: &str| -> Result<Vec<String>> {
            let text: Option<String> = conn
                .query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| row.get(0))
                .optional()
                .map_err(db)?;
            serde_json::from_str(&text.unwrap_or_else(|| "[]".into())).map_err(Error::internal)
        };
        let types: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'types'", [], |row| row.get(0))
            .optional()
            .map_err(db)?;
        let types = match types {
            Some(text) => serde_json::from_str(&text).map_err(Error::internal)?,
            None => None,
        };
        Ok(Schema { columns: read("columns")?, primary_key: read("primary_key")?, types })
    }

    fn write_schema_in(conn: &Connection, schema: &Schema) -> Result<()> {
        let json = |value: &Vec<String>| serde_json::to_string(value).map_err(Error::internal);
        let types = serde_json::to_string(&schema.types).map_err(Error::internal)?;
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('columns', ?1), ('primary_key', ?2), ('types', ?3)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [json(&schema.columns)?, json(&schema.primary_key)?, types],
        )
        .map_err(db)?;
        Ok(())
    }

    /// Adds a text column, filled with the typed column's default, if any.
    fn add_column(&mut self, column: &str, definition: Option<&ColumnType>) -> Result<Schema> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
        let mut schema = SqliteTable::schema_of(&tx)?;
        let default = definition.and_then(|d| d.default.clone()).unwrap_or_default();
        add_to_schema(&mut schema, column, definition)?;
        tx.execute(
            &format!("ALTER TABLE data ADD COLUMN {} TEXT NOT NULL DEFAULT {}", quote(column), text_literal(&default)),
            [],
        )
        .map_err(db)?;
        SqliteTable::write_schema_in(&tx, &schema)?;
        tx.commit().map_err(db)?;
        Ok(schema)
    }

    /// Reads rows; `each` gets the values of the chosen columns, in order.
    pub fn query(&self, query: &RowQuery, each: &mut dyn FnMut(&[&str]) -> Result<()>) -> Result<()> {
        self.each_row(query, &mut |row, columns| {
            let mut values: Vec<&str> = Vec::with_capacity(columns);
            for index in 0..columns {
                values.push(row.get_ref(index).map_err(db)?.as_str().unwrap_or(""));
            }
            each(&values)
        })
    }

    /// Writes the rows a query selects as CSV records (see [`TableData::write_csv`]), straight from
    /// the bytes SQLite holds.
    pub fn write_csv(&self, query: &RowQuery, out: &mut dyn std::io::Write) -> Result<()> {
        let mut record = Vec::with_capacity(4096);
        self.each_row(query, &mut |row, columns| {
            record.clear();
            for index in 0..columns {
                if index > 0 {
                    record.push(b',');
                }
                let value = row.get_ref(index).map_err(db)?;
                write_enclosed(&mut record, value.as_bytes().unwrap_or(b""), b'"');
            }
            record.push(b'\n');
            out.write_all(&record).map_err(|error| Error::internal(format!("writing rows: {error}")))
        })
    }

    /// Runs a query in one read transaction; `each` gets every row and how many columns it has.
    fn each_row(&self, query: &RowQuery, each: &mut dyn FnMut(&rusqlite::Row<'_>, usize) -> Result<()>) -> Result<()> {
        // The schema, the floor and the rows are read from one snapshot.
        let tx = self.conn.unchecked_transaction().map_err(db)?;
        let schema = SqliteTable::schema_of(&tx)?;
        let columns = if query.columns.is_empty() { schema.columns } else { query.columns.clone() };
        if columns.is_empty() {
            return Ok(());
        }
        let selected = columns.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ");
        let floor: Option<Timestamp> = tx
            .query_row("SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?1", [TIMESTAMP_FLOOR], |row| row.get(0))
            .optional()
            .map_err(db)?;
        let mut args: Vec<SqlValue> = Vec::new();
        // Rows come in the order they were added, or, read through the `_timestamp` index, in
        // the order they changed: sorting a hundred thousand rows by rowid took as long as
        // reading them.
        let (mut sql, natural_order) = match (query.changed_since, floor) {
            // Rows changed after the last full load are all in the partial index. The planner
            // uses it only when the query repeats the index's condition word for word, and
            // without statistics it would still scan for the order of rowids: name the index.
            (Some(since), Some(floor)) if since > floor => {
                args.push(since.into());
                let sql = format!(
                    "SELECT {selected} FROM data INDEXED BY data_timestamp WHERE _timestamp >= ? AND _timestamp > {floor}"
                );
                (sql, "_timestamp, rowid")
            }
            (since, _) => {
                args.extend(since.map(SqlValue::from));
                let since = if since.is_some() { " AND _timestamp >= ?" } else { "" };
                (format!("SELECT {selected} FROM data WHERE 1{since}"), "rowid")
            }
        };
        if let Some(until) = query.changed_until {
            sql.push_str(" AND _timestamp < ?");
            args.push(until.into());
        }
        for filter in &query.filters {
            let column = cast_expr(&filter.column, filter.cast);
            let marks = vec!["?"; filter.values.len().max(1)].join(", ");
            let condition = match filter.op {
                FilterOp::Eq => format!("{column} IN ({marks})"),
                FilterOp::Ne => format!("{column} NOT IN ({marks})"),
                FilterOp::Gt => format!("{column} > ?"),
                FilterOp::Ge => format!("{column} >= ?"),
                FilterOp::Lt => format!("{column} < ?"),
                FilterOp::Le => format!("{column} <= ?"),
            };
            sql.push_str(&format!(" AND {condition}"));
            if filter.values.is_empty() {
                args.push(SqlValue::Null);
            }
            let take = if matches!(filter.op, FilterOp::Eq | FilterOp::Ne) { filter.values.len() } else { 1 };
            args.extend(filter.values.iter().take(take).map(|v| cast_value(v, filter.cast)));
        }
        if query.order_by.is_empty() {
            sql.push_str(&format!(" ORDER BY {natural_order}"));
        } else {
            let order: Vec<String> = query
                .order_by
                .iter()
                .map(|(column, desc, cast)| {
                    format!("{} {}", cast_expr(column, *cast), if *desc { "DESC" } else { "ASC" })
                })
                .collect();
            sql.push_str(&format!(" ORDER BY {}, rowid", order.join(", ")));
        }
        if let Some(limit) = query.limit {
            sql.push_str(" LIMIT ?");
            args.push(limit.into());
        }
        let mut stmt = tx.prepare(&sql).map_err(db)?;
        let mut rows = stmt.query(params_from_iter(args)).map_err(db)?;
        while let Some(row) = rows.next().map_err(db)? {
            each(row, columns.len())?;
        }
        Ok(())
    }

    /// Sets the primary key; fails when the rows hold duplicates of it.
    pub fn set_primary_key(&mut self, primary_key: &[String]) -> Result<Schema> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
        let schema = SqliteTable::schema_of(&tx)?;
        let pk: Vec<String> = primary_key.iter().map(|c| quote(c)).collect();
        let duplicates: i64 = tx
            .query_row(
                &format!("SELECT COUNT(*) FROM (SELECT 1 FROM data GROUP BY {} HAVING COUNT(*) > 1)", pk.join(", ")),
                [],
                |row| row.get(0),
            )
            .map_err(db)?;
        if duplicates > 0 {
            return Err(key_duplicates());
        }
        tx.execute_batch("DROP INDEX IF EXISTS data_pk").map_err(db)?;
        tx.execute(&format!("CREATE UNIQUE INDEX data_pk ON data ({})", pk.join(", ")), []).map_err(db)?;
        let schema = Schema { primary_key: primary_key.to_vec(), ..schema };
        SqliteTable::write_schema_in(&tx, &schema)?;
        tx.commit().map_err(db)?;
        Ok(schema)
    }

    /// Removes the primary key.
    pub fn remove_primary_key(&mut self) -> Result<Schema> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
        let schema = SqliteTable::schema_of(&tx)?;
        tx.execute_batch("DROP INDEX IF EXISTS data_pk").map_err(db)?;
        let schema = Schema { primary_key: vec![], ..schema };
        SqliteTable::write_schema_in(&tx, &schema)?;
        tx.commit().map_err(db)?;
        Ok(schema)
    }
}
