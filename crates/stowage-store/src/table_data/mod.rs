//! Table storage: [`TableStore`] keeps every table's rows, each under an opaque storage key that
//! the catalog's table record holds: a SQLite file of its own under the tables folder in the
//! embedded backend (`sqlite.rs`), a table of its own in PostgreSQL (`postgres.rs`). [`TableData`]
//! is one table's rows, opened from it; [`TableStore::begin_load`] runs a load, including the new
//! storage a full load may build to replace the old.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use stowage_types::datatype::ColumnType;
use stowage_types::time::Timestamp;
use stowage_types::{Code, Error, Result};

mod postgres;
mod sqlite;

pub use sqlite::SqliteTable;

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
    /// once at the end. When this fails, what it created under `key` is removed. Blocking.
    pub fn create_loaded(
        &self,
        key: &str,
        schema: &Schema,
        header: &[String],
        now: Timestamp,
        rows: &mut (dyn RowSource + Send),
        job: Option<i64>,
    ) -> Result<(TableData, ImportStats)> {
        let loaded = match self {
            TableStore::Files { dir } => SqliteTable::create_loaded(&dir.join(key), schema, header, now, rows, job)
                .map(|(table, stats)| (TableData::Sqlite(table), stats)),
            TableStore::Postgres(_) => self.create(key, schema).and_then(|mut data| {
                let stats = data.import(header, ImportMode::Full, now, rows, job)?;
                Ok((data, stats))
            }),
        };
        if loaded.is_err() {
            self.remove(key);
        }
        loaded
    }

    /// Begins job `job`'s load into the table stored under `key`: [`Begun::Committed`] when the
    /// job's rows had committed already (a worker that took the job over finds its marker and
    /// loads nothing again), else a [`Load`] to run. Blocking.
    pub fn begin_load(&self, key: &str, mode: ImportMode, job: i64) -> Result<Begun> {
        let data = self.open(key)?;
        if let Some((_, imported)) = data.last_job()?.filter(|(last, _)| *last == job) {
            return Ok(Begun::Committed(Loaded { data, imported, swap: None }));
        }
        let replacement = (mode == ImportMode::Full && self.full_load_replaces()).then(|| self.new_key());
        Ok(Begun::Ready(Load { store: self.clone(), key: key.to_string(), data, mode, job, replacement }))
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
                SqliteTable::open(&path).map(|table| Some(TableData::Sqlite(table)))
            }
            TableStore::Postgres(tables) => tables.open(key).map(|table| Some(TableData::Postgres(Box::new(table)))),
        }
    }

    /// Whether a full load of an existing table builds new storage ([`TableStore::create_loaded`])
    /// for the catalog to swap in ([`Swap`]), instead of loading in place. For SQLite files: a new file is
    /// written once (no WAL), and a reader that opened the old one keeps reading it after it is
    /// removed. PostgreSQL loads in place (`TRUNCATE` and `COPY` in one transaction), since a
    /// dropped table is gone even for a reader that looked it up.
    fn full_load_replaces(&self) -> bool {
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

/// How a load begins: see [`TableStore::begin_load`].
pub enum Begun {
    Committed(Loaded),
    Ready(Load),
}

/// A load into one table's storage, all or nothing, with its job as the commit marker.
pub struct Load {
    store: TableStore,
    key: String,
    data: TableData,
    mode: ImportMode,
    job: i64,
    /// The key of the storage a full load builds to replace the old, where the store does so.
    replacement: Option<String>,
}

/// What a load left: the table's storage as loaded, what the load imported, and the storage to
/// swap in for the old one when it built new storage.
pub struct Loaded {
    pub data: TableData,
    pub imported: ImportStats,
    pub swap: Option<Swap>,
}

/// New storage a full load built to replace the table's old storage. The catalog names `new`
/// instead of `old` in the transaction that ends the job; then [`Swap::leftover`] is the one no
/// table names, to remove.
#[derive(Debug, Clone)]
pub struct Swap {
    pub old: String,
    pub new: String,
}

impl Swap {
    /// The storage no table names once the catalog committed the swap (`committed`) or did not.
    pub fn leftover(self, committed: bool) -> String {
        if committed {
            self.old
        } else {
            self.new
        }
    }
}

impl Load {
    /// The table's columns and primary key before the load.
    pub fn schema(&self) -> Result<Schema> {
        self.data.schema()
    }

    /// Loads rows whose values follow `header` (see [`TableData::import`]). A failed load leaves
    /// the table as it was, and no new storage behind. Blocking.
    pub fn run(self, header: &[String], now: Timestamp, rows: &mut (dyn RowSource + Send)) -> Result<Loaded> {
        let Load { store, key, mut data, mode, job, replacement } = self;
        match replacement {
            Some(new) => {
                let current = data.schema()?;
                let (data, imported) = store.create_loaded(&new, &current, header, now, rows, Some(job))?;
                Ok(Loaded { data, imported, swap: Some(Swap { old: key, new }) })
            }
            None => {
                let imported = data.import(header, mode, now, rows, Some(job))?;
                Ok(Loaded { data, imported, swap: None })
            }
        }
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
