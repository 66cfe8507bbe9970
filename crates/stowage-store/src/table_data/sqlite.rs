//! The embedded backend's table storage: one SQLite file per table.
//!
//! The file holds `data` (a hidden `_timestamp` column, then one TEXT column per table column)
//! and `meta` (the column order and the primary key). Every import runs in one transaction that
//! writes each row straight into `data` (insert, insert-or-replace, or an upsert that fires only
//! when the row differs) and commits at the end, so a failed import leaves the table exactly as it
//! was, and readers keep seeing the last committed state meanwhile (WAL). The file is
//! authoritative for rows and schema; the catalog mirrors the schema and statistics after each
//! commit.

use std::path::Path;

use rusqlite::types::Value as SqlValue;
use rusqlite::{params_from_iter, Connection, OptionalExtension, TransactionBehavior};
use stowage_types::datatype::ColumnType;
use stowage_types::time::Timestamp;
use stowage_types::{Error, Result};

use super::{
    add_to_schema, key_duplicates, marker, plan_columns, quote, read_marker, text_literal, write_enclosed, Cast,
    ColumnPlan, FilterOp, ImportMode, ImportStats, PackedRows, RowQuery, RowSource, Schema,
};
use crate::db;

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

impl SqliteTable {
    /// Opens the file of a table as a shared file.
    pub(super) fn open(path: &Path) -> Result<SqliteTable> {
        Ok(SqliteTable { conn: open_connection(path)? })
    }

    /// Creates the file of a new table.
    pub(super) fn create(path: &Path, schema: &Schema) -> Result<SqliteTable> {
        SqliteTable::create_in(open_connection(path)?, schema)
    }

    /// Creates the file of a new table and loads it with its journal in memory, then makes it a
    /// shared file and syncs it and its folder (see [`TableStore::create_loaded`]). A load that
    /// fails leaves the file for the caller to remove.
    pub(super) fn create_loaded(
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

    pub(super) fn schema(&self) -> Result<Schema> {
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
    pub(super) fn add_column(&mut self, column: &str, definition: Option<&ColumnType>) -> Result<Schema> {
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
