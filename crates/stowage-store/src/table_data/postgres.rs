//! Table storage in PostgreSQL: each table is a PostgreSQL table `<schema>."<key>"` with an
//! ordinal `_row` (insertion order, which reads without an ordering follow), the hidden
//! `_timestamp` (indexed, for `changedSince`) and one column per table column (TEXT, or the native
//! type of a typed column); its schema, next `_row` and commit marker are a row of `<schema>.meta`. Loads stream into
//! `COPY ... FROM STDIN`, the file's own CSV records when its dialect allows, each behind its
//! `_timestamp` and `_row`; an incremental load with a key copies into a staging table and
//! upserts in one statement that changes only rows that differ. The synchronous client runs a
//! runtime of its own: blocking threads only.

use std::cell::{RefCell, RefMut};
use std::collections::HashSet;
use std::io::Write;
use std::sync::{Arc, Mutex};

use postgres::types::ToSql;
use postgres::{Client, Transaction};

use crate::pg_client::PgClient;
use stowage_types::datatype::{BaseType, ColumnType};
use stowage_types::time::Timestamp;
use stowage_types::{Error, Result};

use super::{
    add_to_schema, key_duplicates, marker, plan_columns, quote, read_marker, text_literal, write_enclosed, Cast,
    ColumnPlan, FilterOp, ImportMode, ImportStats, RowQuery, RowSource, Schema,
};

/// Bytes of `COPY` data sent at a time.
const COPY_CHUNK: usize = 256 * 1024;

fn pg(error: postgres::Error) -> Error {
    Error::internal(format!("table storage: {}", crate::pg_client::describe(&error)))
}

fn io(error: std::io::Error) -> Error {
    Error::internal(format!("table storage: {error}"))
}

/// Connections to the database that holds the tables, reused.
pub struct PgTables {
    url: String,
    /// The schema that holds the tables and their `meta`, quoted.
    schema: Arc<str>,
    idle: Arc<Mutex<Vec<PgClient>>>,
}

impl std::fmt::Debug for PgTables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PgTables")
    }
}

impl Clone for PgTables {
    fn clone(&self) -> Self {
        PgTables { url: self.url.clone(), schema: Arc::clone(&self.schema), idle: Arc::clone(&self.idle) }
    }
}

/// One table, with a connection that goes back to the pool when it is dropped.
pub struct PgTable {
    client: RefCell<Option<PgClient>>,
    idle: Arc<Mutex<Vec<PgClient>>>,
    schema: Arc<str>,
    key: String,
    /// The schema of a table created but not yet stored (see [`PgTables::create`]).
    pending: RefCell<Option<Schema>>,
}

impl Drop for PgTable {
    fn drop(&mut self) {
        if let Some(client) = self.client.get_mut().take() {
            if !client.is_closed() {
                self.idle.lock().unwrap_or_else(|poison| poison.into_inner()).push(client);
            }
        }
    }
}

impl PgTables {
    /// Connects and makes sure `schema` and its meta table exist.
    pub fn connect(url: &str, schema: &str) -> Result<Self> {
        let tables = PgTables { url: url.to_string(), schema: quote(schema).into(), idle: Arc::default() };
        let mut client = tables.client()?;
        let schema = &tables.schema;
        client
            .batch_execute(&format!(
                "CREATE SCHEMA IF NOT EXISTS {schema};
                 CREATE TABLE IF NOT EXISTS {schema}.meta (
                     key TEXT PRIMARY KEY, columns TEXT NOT NULL, primary_key TEXT NOT NULL, last_job TEXT,
                     next_row BIGINT NOT NULL DEFAULT 1, row_count BIGINT);
                 ALTER TABLE {schema}.meta ADD COLUMN IF NOT EXISTS next_row BIGINT NOT NULL DEFAULT 1;
                 ALTER TABLE {schema}.meta ADD COLUMN IF NOT EXISTS row_count BIGINT;
                 ALTER TABLE {schema}.meta ADD COLUMN IF NOT EXISTS types TEXT"
            ))
            .map_err(pg)?;
        tables.idle.lock().unwrap_or_else(|poison| poison.into_inner()).push(client);
        Ok(tables)
    }

    fn name(&self, key: &str) -> String {
        format!("{}.{}", self.schema, quote(key))
    }

    fn client(&self) -> Result<PgClient> {
        let idle = self.idle.lock().unwrap_or_else(|poison| poison.into_inner()).pop();
        match idle {
            Some(client) => Ok(client),
            None => {
                let mut client = PgClient::connect(&self.url, "table storage")?;
                // Typed values are read back as text (`text_expr`); these settings make that text
                // the canonical one whatever the server's defaults are.
                // Literals in `COPY` queries rely on standard strings (a backslash is a character).
                // An incremental load's staging table stays in memory up to 32 MB (about 200k rows
                // of ten short columns) instead of the default 8 MB: past that, its pages are written
                // to a file as the rows are copied in, and read back and written again when the upsert
                // reads them (setting their hint bits). The memory is taken only as staging needs it,
                // and only before a connection's first temporary table can this be set.
                client
                    .batch_execute(
                        "SET datestyle TO ISO; SET extra_float_digits TO 1; SET standard_conforming_strings TO on;
                         SET temp_buffers TO '32MB'",
                    )
                    .map_err(pg)?;
                Ok(client)
            }
        }
    }

    fn table(&self, key: &str) -> Result<PgTable> {
        Ok(PgTable {
            client: RefCell::new(Some(self.client()?)),
            idle: Arc::clone(&self.idle),
            schema: Arc::clone(&self.schema),
            key: key.to_string(),
            pending: RefCell::new(None),
        })
    }

    /// A new table under `key`. It comes into being in the transaction of its first import (or
    /// of the first other use), so a create cut off before its rows committed leaves nothing.
    pub(super) fn create(&self, key: &str, schema: &Schema) -> Result<PgTable> {
        let data = self.table(key)?;
        *data.pending.borrow_mut() = Some(schema.clone());
        Ok(data)
    }

    pub(super) fn open(&self, key: &str) -> Result<PgTable> {
        let data = self.table(key)?;
        let sql = format!("SELECT 1 FROM {}.meta WHERE key = $1", self.schema);
        let found = data.client().query_opt(&sql, &[&key]).map_err(pg)?;
        match found {
            Some(_) => Ok(data),
            None => Err(Error::internal(format!("the rows of table storage {key} are missing"))),
        }
    }

    pub(super) fn remove(&self, key: &str) -> Result<()> {
        let mut client = self.client()?;
        let mut tx = client.transaction().map_err(pg)?;
        tx.batch_execute(&format!("DROP TABLE IF EXISTS {}", self.name(key))).map_err(pg)?;
        tx.execute(&format!("DELETE FROM {}.meta WHERE key = $1", self.schema), &[&key]).map_err(pg)?;
        tx.commit().map_err(pg)?;
        self.idle.lock().unwrap_or_else(|poison| poison.into_inner()).push(client);
        Ok(())
    }

    /// Every table's key. A table and its meta row are created and dropped in one transaction.
    pub(super) fn keys(&self) -> Result<HashSet<String>> {
        let mut client = self.client()?;
        let rows = client.query(&format!("SELECT key FROM {}.meta", self.schema), &[]).map_err(pg)?;
        self.idle.lock().unwrap_or_else(|poison| poison.into_inner()).push(client);
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }
}

fn json(value: &[String]) -> Result<String> {
    serde_json::to_string(value).map_err(Error::internal)
}

/// A typed table's column types as kept in `meta.types` (null for an untyped table).
fn types_json(schema: &Schema) -> Result<Option<String>> {
    schema.types.as_ref().map(|types| serde_json::to_string(types).map_err(Error::internal)).transpose()
}

/// Creates the index `changedSince` reads: a block range index (BRIN). Rows are mostly written
/// in the order they change (a load appends them; an update writes the new version where there is
/// room, at the end of a freshly loaded table), so the block ranges holding changed rows are few.
/// Where updates land in old blocks, their ranges widen and are read too: slower, never wrong.
/// Keeping it costs next to nothing per row, where a B-tree took 30-60 of the 530-560 ms of an
/// upsert of 100k rows into 1.1M, and its build after a full load is one pass instead of a sort.
fn time_index(schema_name: &str, key: &str) -> String {
    format!("CREATE INDEX {} ON {schema_name}.{} USING brin (_timestamp)", time_index_name(key), quote(key))
}

/// The quoted name of a table's `_timestamp` index.
fn time_index_name(key: &str) -> String {
    quote(&format!("{key}_ts"))
}

/// The unique index of a key, named after the table.
fn create_key(tx: &mut Transaction<'_>, schema: &str, key: &str, columns: &[String]) -> Result<()> {
    let pk: Vec<String> = columns.iter().map(|c| quote(c)).collect();
    tx.batch_execute(&format!(
        "CREATE UNIQUE INDEX {} ON {schema}.{} ({})",
        quote(&format!("{key}_pk")),
        quote(key),
        pk.join(", ")
    ))
    .map_err(pg)
}

fn drop_key(tx: &mut Transaction<'_>, schema: &str, key: &str) -> Result<()> {
    tx.batch_execute(&format!("DROP INDEX IF EXISTS {schema}.{}", quote(&format!("{key}_pk")))).map_err(pg)
}

/// The rows this transaction has inserted into `table` and updated in it so far, as the server's
/// statistics count them (zero where `track_counts` is off). An incremental load reads them before
/// and after its upsert: they cost nothing, where `RETURNING` a row for each row the upsert changed
/// took about 5% of its time.
fn counters(tx: &mut Transaction<'_>, table: &str) -> Result<(i64, i64)> {
    let row = tx
        .query_one(
            "SELECT pg_stat_get_xact_tuples_inserted($1::text::regclass),
                    pg_stat_get_xact_tuples_updated($1::text::regclass)",
            &[&table],
        )
        .map_err(pg)?;
    Ok((row.get(0), row.get(1)))
}

/// A comparison of a column (or value) as a number: text that is not one compares as NULL.
fn cast_expr(expr: &str, cast: Option<Cast>) -> String {
    match cast {
        None => expr.to_string(),
        Some(Cast::Integer) => {
            format!("(CASE WHEN {expr} ~ '^\\s*[-+]?[0-9]{{1,18}}\\s*$' THEN CAST({expr} AS BIGINT) END)")
        }
        Some(Cast::Real) => format!(
            "(CASE WHEN {expr} ~ '^\\s*[-+]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?\\s*$' \
             THEN CAST({expr} AS DOUBLE PRECISION) END)"
        ),
    }
}

/// The native type of a typed column. A `STRING` longer than PostgreSQL's `VARCHAR` takes is
/// `TEXT` (core checks the length).
fn native_type(column: &ColumnType) -> String {
    match column.basetype {
        BaseType::String => match column.length.as_deref().and_then(|l| l.parse::<u64>().ok()) {
            Some(length) if length <= 10_485_760 => format!("VARCHAR({length})"),
            _ => "TEXT".into(),
        },
        BaseType::Integer => "NUMERIC(38,0)".into(),
        BaseType::Numeric => format!("NUMERIC({})", column.length.as_deref().unwrap_or("38,0")),
        BaseType::Float => "DOUBLE PRECISION".into(),
        BaseType::Boolean => "BOOLEAN".into(),
        BaseType::Date => "DATE".into(),
        BaseType::Timestamp => "TIMESTAMP".into(),
    }
}

/// A column's definition in `CREATE TABLE` or `ADD COLUMN`: text that is never null for an
/// untyped column, its native type for a typed one.
fn column_sql(column: &str, definition: Option<&ColumnType>) -> String {
    let quoted = quote(column);
    match definition {
        None => format!("{quoted} TEXT NOT NULL DEFAULT ''"),
        Some(definition) => {
            let mut sql = format!("{quoted} {}", native_type(definition));
            if let Some(default) = &definition.default {
                sql.push_str(&format!(" DEFAULT {}", text_literal(default)));
            }
            if !definition.nullable {
                sql.push_str(" NOT NULL");
            }
            sql
        }
    }
}

/// Whether a column holds text: an empty value is an empty text, never null. A typed column of
/// another type takes an empty value as null (core has checked that it may be empty).
fn holds_text(schema: &Schema, column: &str) -> bool {
    schema.type_of(column).is_none_or(|t| t.basetype == BaseType::String)
}

/// A column as the text a reader gets: a typed value in its canonical text (with the session's
/// ISO dates and shortest floats), a null as an empty value.
fn text_expr(schema: &Schema, column: &str) -> String {
    let quoted = quote(column);
    match schema.type_of(column) {
        None => quoted,
        Some(t) if t.basetype == BaseType::String => format!("COALESCE({quoted}, '')"),
        Some(_) => format!("COALESCE({quoted}::text, '')"),
    }
}

/// A value a query compares with.
enum Bound {
    Number(i64),
    Text(String),
}

/// A byte as a string literal of PostgreSQL.
fn byte_literal(byte: u8) -> String {
    format!("E'\\x{byte:02x}'")
}

/// Writes `number` as a field of a record whose dialect is `(delimiter, enclosure)`.
fn write_number(out: &mut Vec<u8>, number: i64, (delimiter, enclosure): (u8, u8)) {
    let text = number.to_string();
    if [delimiter, enclosure].iter().any(|byte| byte.is_ascii_digit() || *byte == b'-') {
        write_enclosed(out, text.as_bytes(), enclosure);
    } else {
        out.extend_from_slice(text.as_bytes());
    }
}

impl PgTable {
    fn name(&self) -> String {
        format!("{}.{}", self.schema, quote(&self.key))
    }

    fn client(&self) -> RefMut<'_, Client> {
        RefMut::map(self.client.borrow_mut(), |client| {
            &mut **client.as_mut().expect("a table keeps its connection until dropped")
        })
    }

    /// Stores a created table inside `tx`, if it is still pending.
    fn create_pending(&self, tx: &mut Transaction<'_>) -> Result<()> {
        let Some(schema) = self.pending.borrow_mut().take() else { return Ok(()) };
        let (name, schema_name, key) = (self.name(), &self.schema, &self.key);
        let columns: String =
            schema.columns.iter().map(|c| format!(", {}", column_sql(c, schema.type_of(c)))).collect();
        tx.batch_execute(&format!(
            "CREATE TABLE {name} (_row BIGINT NOT NULL, _timestamp BIGINT NOT NULL{columns}); {}",
            time_index(schema_name, key)
        ))
        .map_err(pg)?;
        if !schema.primary_key.is_empty() {
            create_key(tx, schema_name, key, &schema.primary_key)?;
        }
        tx.execute(
            &format!(
                "INSERT INTO {schema_name}.meta (key, columns, primary_key, types, row_count) VALUES ($1, $2, $3, $4, 0)"
            ),
            &[key, &json(&schema.columns)?, &json(&schema.primary_key)?, &types_json(&schema)?],
        )
        .map_err(pg)?;
        Ok(())
    }

    /// Stores a created table now, if it is still pending (a use other than an import).
    fn ensure_stored(&self) -> Result<()> {
        if self.pending.borrow().is_none() {
            return Ok(());
        }
        let mut client = self.client();
        let mut tx = client.transaction().map_err(pg)?;
        self.create_pending(&mut tx)?;
        tx.commit().map_err(pg)
    }

    fn schema_in(&self, tx: &mut Transaction<'_>, lock: bool) -> Result<Schema> {
        Ok(self.meta_in(tx, lock)?.0)
    }

    /// The schema, the `_row` of the next row in and the number of rows (when known).
    fn meta_in(&self, tx: &mut Transaction<'_>, lock: bool) -> Result<(Schema, i64, Option<i64>)> {
        let sql = format!(
            "SELECT columns, primary_key, next_row, row_count, types FROM {}.meta WHERE key = $1{}",
            self.schema,
            if lock { " FOR UPDATE" } else { "" }
        );
        let row = tx.query_one(&sql, &[&self.key]).map_err(pg)?;
        let read = |text: String| serde_json::from_str::<Vec<String>>(&text).map_err(Error::internal);
        let types = match row.get::<_, Option<String>>(4) {
            Some(text) => Some(serde_json::from_str(&text).map_err(Error::internal)?),
            None => None,
        };
        let schema = Schema { columns: read(row.get(0))?, primary_key: read(row.get(1))?, types };
        Ok((schema, row.get(2), row.get(3)))
    }

    fn write_schema(&self, tx: &mut Transaction<'_>, schema: &Schema) -> Result<()> {
        tx.execute(
            &format!("UPDATE {}.meta SET columns = $2, primary_key = $3, types = $4 WHERE key = $1", self.schema),
            &[&self.key, &json(&schema.columns)?, &json(&schema.primary_key)?, &types_json(schema)?],
        )
        .map_err(pg)?;
        Ok(())
    }

    pub(super) fn schema(&self) -> Result<Schema> {
        self.ensure_stored()?;
        let mut client = self.client();
        let mut tx = client.transaction().map_err(pg)?;
        let schema = self.schema_in(&mut tx, false)?;
        tx.commit().map_err(pg)?;
        Ok(schema)
    }

    pub(super) fn stats(&self) -> Result<(i64, i64)> {
        self.ensure_stored()?;
        let name = self.name();
        let mut client = self.client();
        let sql =
            format!("SELECT row_count, pg_total_relation_size('{name}') FROM {}.meta WHERE key = $1", self.schema);
        let row = client.query_one(&sql, &[&self.key]).map_err(pg)?;
        let rows = match row.get::<_, Option<i64>>(0) {
            Some(rows) => rows,
            // A table stored before counts were kept is counted here until its next full load.
            None => client.query_one(&format!("SELECT COUNT(*) FROM {name}"), &[]).map_err(pg)?.get(0),
        };
        Ok((rows, row.get(1)))
    }

    pub(super) fn import(
        &mut self,
        header: &[String],
        mode: ImportMode,
        now: Timestamp,
        rows: &mut (dyn RowSource + Send),
        job: Option<i64>,
    ) -> Result<ImportStats> {
        let (key, name, schema_name) = (self.key.clone(), self.name(), self.schema.clone());
        let mut client = self.client();
        let mut tx = client.transaction().map_err(pg)?;
        self.create_pending(&mut tx)?;
        // The meta row's lock makes imports into one table take turns.
        let (schema, mut next_row, mut row_count) = self.meta_in(&mut tx, true)?;
        let ColumnPlan { header, new_columns, columns } = plan_columns(&schema, header)?;
        for column in &new_columns {
            tx.batch_execute(&format!("ALTER TABLE {name} ADD COLUMN {} TEXT NOT NULL DEFAULT ''", quote(column)))
                .map_err(pg)?;
        }
        let target: Vec<String> = header.iter().map(|c| quote(c)).collect();
        let pk: Vec<String> = schema.primary_key.iter().map(|c| quote(c)).collect();
        let staged = mode == ImportMode::Incremental && !pk.is_empty();
        let into = if staged {
            tx.batch_execute(&format!("CREATE TEMP TABLE staging (LIKE {name} INCLUDING DEFAULTS) ON COMMIT DROP"))
                .map_err(pg)?;
            "staging".to_string()
        } else {
            name.clone()
        };
        if mode == ImportMode::Full {
            // The rows go in without indexes, which are built once after (a pass or a sort each,
            // instead of an index insert per row).
            drop_key(&mut tx, &schema_name, &key)?;
            let time_index = time_index_name(&key);
            tx.batch_execute(&format!("DROP INDEX IF EXISTS {schema_name}.{time_index}; TRUNCATE {name}"))
                .map_err(pg)?;
            next_row = 1;
            row_count = Some(0);
        }
        let mut rows_in_file = 0i64;
        {
            // Each record goes in as the source gives it, behind the row's `_timestamp` and `_row`.
            // An empty value that is not enclosed is an empty text, as everywhere else, not NULL;
            // in a typed column of another type, any empty value is null.
            let dialect @ (delimiter, enclosure) = rows.dialect();
            let (text, other): (Vec<&String>, Vec<&String>) = header.iter().partition(|c| holds_text(&schema, c));
            let mut force = String::new();
            for (option, columns) in [("FORCE_NOT_NULL", text), ("FORCE_NULL", other)] {
                if !columns.is_empty() {
                    let quoted: Vec<String> = columns.iter().map(|c| quote(c)).collect();
                    force.push_str(&format!(", {option} ({})", quoted.join(", ")));
                }
            }
            // A full load writes its rows frozen and visible to all: they need no visibility
            // check, and no page is written again when it is first read. (The table is locked
            // by the truncation until commit, so no one sees them sooner.)
            let copy = format!(
                "COPY {into} (_timestamp, _row, {columns}) FROM STDIN
                 WITH (FORMAT csv, DELIMITER {}, QUOTE {}{force}{})",
                byte_literal(delimiter),
                byte_literal(enclosure),
                if mode == ImportMode::Full { ", FREEZE" } else { "" },
                columns = target.join(", "),
            );
            let mut writer = tx.copy_in(&copy).map_err(pg)?;
            let mut records = Vec::with_capacity(COPY_CHUNK + 64 * 1024);
            loop {
                let from = records.len();
                write_number(&mut records, now, dialect);
                records.push(delimiter);
                write_number(&mut records, next_row + rows_in_file, dialect);
                records.push(delimiter);
                // An error drops the writer unfinished, which aborts the COPY and the transaction.
                if !rows.next_record(&mut records)? {
                    records.truncate(from);
                    break;
                }
                records.push(b'\n');
                rows_in_file += 1;
                if records.len() >= COPY_CHUNK {
                    writer.write_all(&records).map_err(io)?;
                    records.clear();
                }
            }
            writer.write_all(&records).map_err(io)?;
            writer.finish().map_err(pg)?;
        }
        // Every row copied is a row of the table, unless a key drops some below.
        let mut added = rows_in_file;
        if mode == ImportMode::Full {
            tx.batch_execute(&time_index(&schema_name, &key)).map_err(pg)?;
        }
        if mode == ImportMode::Full && !pk.is_empty() {
            // A file that repeats a key keeps the last of those rows. Most files do not, so the key
            // is built first, and only when that finds a repeat are the earlier rows deleted.
            tx.batch_execute("SAVEPOINT key").map_err(pg)?;
            match create_key(&mut tx, &schema_name, &key, &schema.primary_key) {
                Ok(()) => tx.batch_execute("RELEASE SAVEPOINT key").map_err(pg)?,
                Err(_) => {
                    tx.batch_execute("ROLLBACK TO SAVEPOINT key").map_err(pg)?;
                    let same: Vec<String> = pk.iter().map(|c| format!("a.{c} = b.{c}")).collect();
                    let deleted = tx
                        .execute(
                            &format!(
                                "DELETE FROM {name} a USING {name} b WHERE {} AND a._row < b._row",
                                same.join(" AND ")
                            ),
                            &[],
                        )
                        .map_err(pg)?;
                    added -= deleted as i64;
                    create_key(&mut tx, &schema_name, &key, &schema.primary_key)?;
                }
            }
        }
        if staged {
            let updates: Vec<String> = target.iter().map(|c| format!("{c} = excluded.{c}")).collect();
            let old: Vec<String> = target.iter().map(|c| format!("t.{c}")).collect();
            let new: Vec<String> = target.iter().map(|c| format!("excluded.{c}")).collect();
            let upsert = |source: &str| {
                format!(
                    "INSERT INTO {name} AS t (_row, _timestamp, {cols})
                     SELECT _row, _timestamp, {cols} FROM {source}
                     ON CONFLICT ({pk}) DO UPDATE SET {updates}, _timestamp = excluded._timestamp
                     WHERE ({old}) IS DISTINCT FROM ({new})",
                    cols = target.join(", "),
                    pk = pk.join(", "),
                    updates = updates.join(", "),
                    old = old.join(", "),
                    new = new.join(", "),
                )
            };
            // Most files name each key once; one that repeats a key makes the upsert touch a row
            // twice, which PostgreSQL refuses, and then only the last of those rows goes in.
            tx.batch_execute("SAVEPOINT upsert").map_err(pg)?;
            let mut before = counters(&mut tx, &name)?;
            let changed = match tx.execute(&upsert("staging"), &[]) {
                Ok(changed) => {
                    tx.batch_execute("RELEASE SAVEPOINT upsert").map_err(pg)?;
                    changed
                }
                Err(error) if error.code() == Some(&postgres::error::SqlState::CARDINALITY_VIOLATION) => {
                    tx.batch_execute("ROLLBACK TO SAVEPOINT upsert").map_err(pg)?;
                    let last = format!(
                        "(SELECT DISTINCT ON ({pk}) * FROM staging ORDER BY {pk}, _row DESC) last",
                        pk = pk.join(", ")
                    );
                    // The refused attempt stays in the counters, so they are read again.
                    before = counters(&mut tx, &name)?;
                    tx.execute(&upsert(&last), &[]).map_err(pg)?
                }
                Err(error) => return Err(pg(error)),
            };
            // The statement's own count (rows inserted or updated) checks the counters; where they
            // do not add up (`track_counts` off, say), the table's rows are counted instead.
            let (inserted, updated) = counters(&mut tx, &name)?;
            let (inserted, updated) = (inserted - before.0, updated - before.1);
            if inserted >= 0 && updated >= 0 && u64::try_from(inserted + updated) == Ok(changed) {
                added = inserted;
            } else {
                row_count = Some(tx.query_one(&format!("SELECT COUNT(*) FROM {name}"), &[]).map_err(pg)?.get(0));
                added = 0;
            }
        }
        let stats = ImportStats { rows_in_file, new_columns, columns: columns.clone() };
        self.write_schema(&mut tx, &Schema { columns, primary_key: schema.primary_key, types: schema.types })?;
        let last_job = job.map(|job| marker(job, &stats));
        let sql = format!(
            "UPDATE {schema_name}.meta SET next_row = $2, row_count = $3, last_job = COALESCE($4, last_job)
             WHERE key = $1"
        );
        let row_count = row_count.map(|count| count + added);
        tx.execute(&sql, &[&key, &(next_row + rows_in_file), &row_count, &last_job]).map_err(pg)?;
        tx.commit().map_err(pg)?;
        Ok(stats)
    }

    pub(super) fn last_job(&self) -> Result<Option<(i64, ImportStats)>> {
        self.ensure_stored()?;
        let sql = format!("SELECT last_job FROM {}.meta WHERE key = $1", self.schema);
        let row = self.client().query_one(&sql, &[&self.key]).map_err(pg)?;
        match row.get::<_, Option<String>>(0) {
            Some(text) => read_marker(&text),
            None => Ok(None),
        }
    }

    /// The `SELECT` of a query, its columns, and how many columns it reads; `bind` turns each value
    /// into SQL (a placeholder, or a literal where no parameters can be bound). `None` when the
    /// query reads no column. Rows come in the order the query asks for, then in the order they
    /// were added; with `any_order`, a query that asks for none and takes every row reads them
    /// as they lie (see [`TableData::write_csv`](super::TableData::write_csv)).
    fn select(
        &self,
        schema: &Schema,
        query: &RowQuery,
        any_order: bool,
        bind: &mut dyn FnMut(Bound) -> String,
    ) -> Option<(String, usize)> {
        let columns = if query.columns.is_empty() { &schema.columns } else { &query.columns };
        if columns.is_empty() {
            return None;
        }
        let mut sql = format!(
            "SELECT {} FROM {} WHERE true",
            columns.iter().map(|c| text_expr(schema, c)).collect::<Vec<_>>().join(", "),
            self.name()
        );
        if let Some(since) = query.changed_since {
            sql.push_str(&format!(" AND _timestamp >= {}", bind(Bound::Number(since))));
        }
        if let Some(until) = query.changed_until {
            sql.push_str(&format!(" AND _timestamp < {}", bind(Bound::Number(until))));
        }
        for filter in &query.filters {
            let column = cast_expr(&text_expr(schema, &filter.column), filter.cast);
            let mut value = |v: &str| cast_expr(&format!("{}::text", bind(Bound::Text(v.to_string()))), filter.cast);
            let condition = match filter.op {
                FilterOp::Eq | FilterOp::Ne if filter.values.is_empty() => "false".to_string(),
                FilterOp::Eq | FilterOp::Ne => {
                    let list: Vec<String> = filter.values.iter().map(|v| value(v)).collect();
                    let not = if filter.op == FilterOp::Ne { "NOT " } else { "" };
                    format!("{column} {not}IN ({})", list.join(", "))
                }
                op => {
                    let symbol = match op {
                        FilterOp::Gt => ">",
                        FilterOp::Ge => ">=",
                        FilterOp::Lt => "<",
                        _ => "<=",
                    };
                    let first = filter.values.first().map(String::as_str).unwrap_or("");
                    format!("{column} {symbol} {}", value(first))
                }
            };
            sql.push_str(&format!(" AND {condition}"));
        }
        let mut order: Vec<String> = query
            .order_by
            .iter()
            .map(|(column, desc, cast)| {
                format!("{} {}", cast_expr(&text_expr(schema, column), *cast), if *desc { "DESC" } else { "ASC" })
            })
            .collect();
        if !(any_order && order.is_empty() && query.limit.is_none()) {
            order.push("_row".into());
            sql.push_str(&format!(" ORDER BY {}", order.join(", ")));
        }
        if let Some(limit) = query.limit {
            sql.push_str(&format!(" LIMIT {}", bind(Bound::Number(limit))));
        }
        Some((sql, columns.len()))
    }

    pub(super) fn query(&self, query: &RowQuery, each: &mut dyn FnMut(&[&str]) -> Result<()>) -> Result<()> {
        self.ensure_stored()?;
        let schema = self.schema()?;
        let mut args: Vec<Box<dyn ToSql + Sync>> = Vec::new();
        let mut bind = |value: Bound| {
            args.push(match value {
                Bound::Number(number) => Box::new(number),
                Bound::Text(text) => Box::new(text),
            });
            format!("${}", args.len())
        };
        let Some((sql, width)) = self.select(&schema, query, false, &mut bind) else { return Ok(()) };
        let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|arg| arg.as_ref()).collect();
        let mut client = self.client();
        let mut rows = client.query_raw(&sql, params).map_err(pg)?;
        use postgres::fallible_iterator::FallibleIterator;
        while let Some(row) = rows.next().map_err(pg)? {
            let values: Vec<&str> = (0..width).map(|index| row.get::<_, &str>(index)).collect();
            each(&values)?;
        }
        Ok(())
    }

    /// [`TableData::write_csv`](super::TableData::write_csv): the server writes the records
    /// (`COPY (SELECT ...) TO STDOUT`, which takes no parameters, so the values are literals).
    pub(super) fn write_csv(&self, query: &RowQuery, out: &mut dyn Write) -> Result<()> {
        self.ensure_stored()?;
        let schema = self.schema()?;
        let mut bind = |value: Bound| match value {
            Bound::Number(number) => number.to_string(),
            Bound::Text(text) => text_literal(&text),
        };
        // Sorting a million rows by `_row` took 0.5 s of a 0.7 s read (an external merge), and
        // the Storage API promises exports no order.
        let Some((sql, _)) = self.select(&schema, query, true, &mut bind) else { return Ok(()) };
        let copy = format!("COPY ({sql}) TO STDOUT WITH (FORMAT csv, FORCE_QUOTE *)");
        let mut client = self.client();
        let mut reader = client.copy_out(&copy).map_err(pg)?;
        std::io::copy(&mut reader, out).map_err(io)?;
        Ok(())
    }

    pub(super) fn set_primary_key(&mut self, primary_key: &[String]) -> Result<Schema> {
        self.ensure_stored()?;
        let (key, name, schema_name) = (self.key.clone(), self.name(), self.schema.clone());
        let mut client = self.client();
        let mut tx = client.transaction().map_err(pg)?;
        let schema = self.schema_in(&mut tx, true)?;
        let pk: Vec<String> = primary_key.iter().map(|c| quote(c)).collect();
        let duplicated = tx
            .query_opt(&format!("SELECT 1 FROM {name} GROUP BY {} HAVING COUNT(*) > 1 LIMIT 1", pk.join(", ")), &[])
            .map_err(pg)?;
        if duplicated.is_some() {
            return Err(key_duplicates());
        }
        drop_key(&mut tx, &schema_name, &key)?;
        create_key(&mut tx, &schema_name, &key, primary_key)?;
        let schema = Schema { primary_key: primary_key.to_vec(), ..schema };
        self.write_schema(&mut tx, &schema)?;
        tx.commit().map_err(pg)?;
        Ok(schema)
    }

    pub(super) fn add_column(&mut self, column: &str, definition: Option<&ColumnType>) -> Result<Schema> {
        self.ensure_stored()?;
        let name = self.name();
        let mut client = self.client();
        let mut tx = client.transaction().map_err(pg)?;
        let mut schema = self.schema_in(&mut tx, true)?;
        let stored = add_to_schema(&mut schema, column, definition)?;
        let sql = format!("ALTER TABLE {name} ADD COLUMN {}", column_sql(column, stored.as_ref()));
        tx.batch_execute(&sql).map_err(pg)?;
        self.write_schema(&mut tx, &schema)?;
        tx.commit().map_err(pg)?;
        Ok(schema)
    }

    pub(super) fn remove_primary_key(&mut self) -> Result<Schema> {
        self.ensure_stored()?;
        let (key, schema_name) = (self.key.clone(), self.schema.clone());
        let mut client = self.client();
        let mut tx = client.transaction().map_err(pg)?;
        let schema = self.schema_in(&mut tx, true)?;
        drop_key(&mut tx, &schema_name, &key)?;
        let schema = Schema { primary_key: vec![], ..schema };
        self.write_schema(&mut tx, &schema)?;
        tx.commit().map_err(pg)?;
        Ok(schema)
    }
}
