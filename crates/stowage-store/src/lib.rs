//! The catalog store. All SQL of Stowage lives in this crate.
//!
//! Layout, in reading order:
//! - [`Store`]: opens the catalog, runs migrations, hands out [`Reader`]s and [`Writer`]s. Each
//!   `write` is one `BEGIN IMMEDIATE` transaction, committed only when the closure succeeds, so a
//!   failed operation leaves nothing behind and its event is recorded with it or not at all.
//! - `pool`: a few SQLite connections, used from blocking threads.
//! - `migrate`: schema versions, applied in order at open (`PRAGMA user_version`).
//! - [`records`]: the rows as plain structs.
//! - [`table_data`]: the rows of one table, in a SQLite file of its own.
//! - one module per resource (`projects`, `tokens`, `buckets`, `metadata`, `events`, `jobs`,
//!   `files`, `tables`, `configs`) with
//!   its queries as methods of [`Reader`] and [`Writer`].
//!
//! The embedded engine is SQLite. A PostgreSQL backend goes beside it as a second `Backend`
//! variant with its own migrations under `migrations/postgres/`.

mod buckets;
mod configs;
mod events;
mod files;
mod jobs;
pub use jobs::ClaimedJob;
mod metadata;
mod migrate;
mod pool;
mod projects;
mod queue;
pub mod records;
pub mod table_data;
mod tables;
mod tokens;

use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;

use rusqlite::{Connection, TransactionBehavior};
use stowage_types::{Error, Result};

use pool::Pool;

/// A handle to the catalog. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: Arc<Pool>,
    /// Write transactions of this process take turns here, in order, before they begin. SQLite
    /// admits one writer at a time, and a writer that finds the lock taken sleeps in its busy
    /// handler (1 ms, then longer, up to 100 ms a try), which put 100 ms tails on short requests
    /// under concurrent writes; a queue wakes the next writer the moment the last one commits.
    writes: Arc<tokio::sync::Mutex<()>>,
}

impl Store {
    /// Opens (creating if needed) the SQLite catalog at `path` and brings its schema up to date.
    pub fn open_sqlite(path: &Path) -> Result<Self> {
        let pool = Pool::new(path.to_path_buf(), 8);
        let mut conn = pool.open_connection().map_err(Error::internal)?;
        migrate::run(&mut conn).map_err(Error::internal)?;
        pool.put_back(conn);
        let pool = Arc::new(pool);
        Pool::checkpoint_in_background(&pool)?;
        Ok(Store { pool, writes: Arc::default() })
    }

    /// Runs `f` with read access on a blocking thread.
    pub async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Reader<'_>) -> Result<T> + Send + 'static,
    {
        self.pool.run(move |conn| f(&Reader { conn })).await
    }

    /// Runs `f` with read access on the calling thread, for reads through an index whose size a
    /// project bounds (the token of every request, a project's buckets). A hop to the blocking
    /// pool costs two thread wake-ups, more than such a read; WAL readers never wait for writers,
    /// and checkpoints here are passive, so the call does not block. Reads that scan, or that
    /// grow with data (events, rows, files), use [`Store::read`].
    pub fn lookup<T>(&self, f: impl FnOnce(&Reader<'_>) -> Result<T>) -> Result<T> {
        self.pool.run_here(|conn| f(&Reader { conn }))
    }

    /// Runs `f` in one write transaction on a blocking thread; commits only if `f` succeeds.
    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Writer<'_>) -> Result<T> + Send + 'static,
    {
        let _turn = self.writes.lock().await;
        self.pool.run(move |conn| in_transaction(conn, f)).await
    }

    /// A writer for a thread of its own that does nothing but write (the group commit of read
    /// events): it keeps one connection and takes its turn with the other writers, without a hop
    /// to the blocking pool for each transaction.
    pub fn dedicated_writer(&self) -> Result<DedicatedWriter> {
        let conn = self.pool.open_connection().map_err(Error::internal)?;
        Ok(DedicatedWriter { conn, writes: self.writes.clone() })
    }
}

/// See [`Store::dedicated_writer`]. Blocking: not for async tasks.
pub struct DedicatedWriter {
    conn: Connection,
    writes: Arc<tokio::sync::Mutex<()>>,
}

impl DedicatedWriter {
    /// Runs `f` in one write transaction on the calling thread; commits only if `f` succeeds.
    pub fn write<T>(&mut self, f: impl FnOnce(&Writer<'_>) -> Result<T>) -> Result<T> {
        let _turn = self.writes.blocking_lock();
        in_transaction(&mut self.conn, f)
    }
}

fn in_transaction<T>(conn: &mut Connection, f: impl FnOnce(&Writer<'_>) -> Result<T>) -> Result<T> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
    let value = f(&Writer { reader: Reader { conn: &tx } })?;
    tx.commit().map_err(db)?;
    Ok(value)
}

/// Read queries, inside whatever transaction the caller holds.
pub struct Reader<'c> {
    conn: &'c Connection,
}

/// Write queries; also reads, which see the transaction's own writes.
pub struct Writer<'c> {
    reader: Reader<'c>,
}

impl<'c> Deref for Writer<'c> {
    type Target = Reader<'c>;
    fn deref(&self) -> &Reader<'c> {
        &self.reader
    }
}

impl Writer<'_> {
    fn conn(&self) -> &Connection {
        self.reader.conn
    }
}

/// Maps a database error to an internal error; SQL failures are never the caller's fault here,
/// because every input is validated before it reaches the store.
fn db(error: rusqlite::Error) -> Error {
    Error::internal(format!("catalog: {error}"))
}

/// Maps the error of an insert: a row that breaks a uniqueness rule is the caller's `duplicate`
/// error (two requests that raced to create the same bucket, say: the loser gets the
/// `alreadyExists` code, never a 500), anything else a server fault.
fn inserted(error: rusqlite::Error, duplicate: impl FnOnce() -> Error) -> Error {
    match &error {
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
        {
            duplicate()
        }
        _ => db(error),
    }
}

/// Reads a JSON column, treating unreadable JSON as a server fault.
fn json(text: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|error| Error::internal(format!("catalog JSON: {error}")))
}
