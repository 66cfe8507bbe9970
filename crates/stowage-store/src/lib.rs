//! The catalog store. All SQL of Stowage lives in this crate.
//!
//! Layout, in reading order:
//! - [`Store`]: opens the catalog (SQLite, or PostgreSQL in a schema), runs migrations, hands out
//!   [`Reader`]s and [`Writer`]s. Each `write` is one transaction, committed only when the closure
//!   succeeds, so a failed operation leaves nothing behind and its event is recorded with it or not
//!   at all.
//! - `pool`: a few connections of either engine, used from blocking threads.
//! - `sql`: the one way statements run on either engine (placeholders, values, rows).
//! - `migrate` (SQLite, `PRAGMA user_version`) and `postgres_catalog` (PostgreSQL: connections,
//!   migrations, write transactions under the schema's advisory lock).
//! - [`records`]: the rows as plain structs.
//! - [`table_data`]: the rows of one table, in a SQLite file of its own or a PostgreSQL table.
//! - one module per resource (`projects`, `tokens`, `buckets`, `metadata`, `events`, `jobs`,
//!   `files`, `tables`, `configs`) with its queries as methods of [`Reader`] and [`Writer`].

mod buckets;
mod configs;
mod events;
mod files;
mod jobs;
pub use buckets::NewSharing;
pub use jobs::ClaimedJob;
mod metadata;
mod migrate;
mod organizations;
mod pg_client;
mod pool;
mod postgres_catalog;
mod projects;
mod queue;
pub mod records;
mod schedules;
mod sql;
pub mod table_data;
mod tables;
mod tokens;
mod triggers;

use std::cell::RefCell;
use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;

use rusqlite::{Connection, TransactionBehavior};
use stowage_types::{Error, Result};

use pool::Pool;
use sql::{Conn, PgConn};

/// A handle to the catalog. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    /// Write transactions of this process take turns here, in order, before they begin. SQLite
    /// admits one writer at a time, and a writer that finds the lock taken sleeps in its busy
    /// handler (1 ms, then longer, up to 100 ms a try), which put 100 ms tails on short requests
    /// under concurrent writes; a queue wakes the next writer the moment the last one commits.
    /// On PostgreSQL it keeps this process's writers from holding connections while they wait
    /// for the catalog's write lock.
    writes: Arc<tokio::sync::Mutex<()>>,
    /// How many write transactions this process has run (see [`Store::generation`]).
    written: Arc<std::sync::atomic::AtomicU64>,
}

#[derive(Clone)]
enum Backend {
    Sqlite(Arc<Pool<Connection>>),
    Postgres(Arc<Pool<RefCell<PgConn>>>, Arc<postgres_catalog::Settings>),
}

impl Store {
    /// Opens (creating if needed) the SQLite catalog at `path` and brings its schema up to date.
    pub fn open_sqlite(path: &Path) -> Result<Self> {
        let owned = path.to_path_buf();
        let pool = Pool::new(8, Box::new(move || pool::open_sqlite(&owned)), |_| true);
        let mut conn = pool.open_connection()?;
        migrate::run(&mut conn).map_err(Error::internal)?;
        pool.put_back(conn);
        let pool = Arc::new(pool);
        pool::checkpoint_in_background(&pool)?;
        Ok(Store { backend: Backend::Sqlite(pool), writes: Arc::default(), written: Arc::default() })
    }

    /// Connects to the PostgreSQL catalog at `url`, in `schema` (created if needed), and brings
    /// its schema up to date. Blocking: call it from a blocking thread.
    pub fn open_postgres(url: &str, schema: &str) -> Result<Self> {
        let settings = Arc::new(postgres_catalog::Settings::new(url, schema)?);
        let opener = Arc::clone(&settings);
        let pool = Pool::new(8, Box::new(move || opener.connect().map(RefCell::new)), |conn: &RefCell<PgConn>| {
            !conn.borrow().client.is_closed()
        });
        let conn = pool.open_connection()?;
        postgres_catalog::migrate(&mut conn.borrow_mut(), &settings)?;
        pool.put_back(conn);
        Ok(Store {
            backend: Backend::Postgres(Arc::new(pool), settings),
            writes: Arc::default(),
            written: Arc::default(),
        })
    }

    /// True when the catalog is shared by every server of the stack (PostgreSQL), false when one
    /// server owns it (SQLite, under the data dir's lock).
    pub fn is_shared(&self) -> bool {
        matches!(self.backend, Backend::Postgres(..))
    }

    /// The catalog's generation where this process is its only writer (SQLite, under the data
    /// dir's lock): it moves after every write transaction, so a value read from the catalog at
    /// one generation is still true while the generation stays. Read it before reading the value.
    /// `None` on a shared catalog, whose other servers' writes this process does not see.
    pub fn generation(&self) -> Option<u64> {
        (!self.is_shared()).then(|| self.written.load(std::sync::atomic::Ordering::Acquire))
    }

    /// Runs `f` with read access on a blocking thread.
    pub async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Reader<'_>) -> Result<T> + Send + 'static,
    {
        match &self.backend {
            Backend::Sqlite(pool) => pool.run(move |conn| f(&Reader { conn: Conn::Sqlite(conn) })).await,
            Backend::Postgres(pool, _) => pool.run(move |conn| f(&Reader { conn: Conn::Postgres(conn) })).await,
        }
    }

    /// Runs `f` with read access on the calling thread, for reads through an index whose size a
    /// project bounds (the token of every request, a project's buckets). A hop to the blocking
    /// pool costs two thread wake-ups, more than such a read; WAL readers never wait for writers,
    /// and checkpoints here are passive, so the call does not block. Reads that scan, or that
    /// grow with data (events, rows, files), use [`Store::read`]. On PostgreSQL the read is a
    /// network round trip through a blocking client, so it goes to the blocking pool like a read.
    pub async fn lookup<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Reader<'_>) -> Result<T> + Send + 'static,
    {
        match &self.backend {
            Backend::Sqlite(pool) => pool.run_here(|conn| f(&Reader { conn: Conn::Sqlite(conn) })),
            Backend::Postgres(..) => self.read(f).await,
        }
    }

    /// Runs `f` in one write transaction on a blocking thread; commits only if `f` succeeds.
    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Writer<'_>) -> Result<T> + Send + 'static,
    {
        let _turn = self.writes.lock().await;
        let written = match &self.backend {
            Backend::Sqlite(pool) => pool.run(move |conn| in_transaction(conn, f)).await,
            Backend::Postgres(pool, settings) => {
                let settings = Arc::clone(settings);
                pool.run(move |conn| postgres_catalog::in_transaction(conn, &settings, f)).await
            }
        };
        // After the commit (or the rollback, which changed nothing, but costs nothing to count).
        self.written.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        written
    }

    /// A writer for a thread of its own that does nothing but write (the group commit of read
    /// events): it keeps one connection and takes its turn with the other writers, without a hop
    /// to the blocking pool for each transaction.
    pub fn dedicated_writer(&self) -> Result<DedicatedWriter> {
        let conn = match &self.backend {
            Backend::Sqlite(pool) => DedicatedConn::Sqlite(pool.open_connection()?),
            Backend::Postgres(pool, settings) => {
                let conn = postgres_catalog::blocking(|| pool.open_connection())?;
                DedicatedConn::Postgres(Box::new(conn), Arc::clone(settings))
            }
        };
        Ok(DedicatedWriter { conn, writes: self.writes.clone(), written: self.written.clone() })
    }
}

/// See [`Store::dedicated_writer`]. Blocking: not for async tasks.
pub struct DedicatedWriter {
    conn: DedicatedConn,
    writes: Arc<tokio::sync::Mutex<()>>,
    written: Arc<std::sync::atomic::AtomicU64>,
}

enum DedicatedConn {
    Sqlite(Connection),
    Postgres(Box<RefCell<PgConn>>, Arc<postgres_catalog::Settings>),
}

impl DedicatedWriter {
    /// Runs `f` in one write transaction on the calling thread; commits only if `f` succeeds.
    pub fn write<T>(&mut self, f: impl FnOnce(&Writer<'_>) -> Result<T>) -> Result<T> {
        let _turn = self.writes.blocking_lock();
        let written = match &mut self.conn {
            DedicatedConn::Sqlite(conn) => in_transaction(conn, f),
            DedicatedConn::Postgres(conn, settings) => postgres_catalog::in_transaction(conn, settings, f),
        };
        self.written.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        written
    }
}

fn in_transaction<T>(conn: &mut Connection, f: impl FnOnce(&Writer<'_>) -> Result<T>) -> Result<T> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
    let value = f(&Writer { reader: Reader { conn: Conn::Sqlite(&tx) } })?;
    tx.commit().map_err(db)?;
    Ok(value)
}

/// Read queries, inside whatever transaction the caller holds.
pub struct Reader<'c> {
    conn: sql::Conn<'c>,
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
    fn conn(&self) -> sql::Conn<'_> {
        self.reader.conn
    }
}

/// Maps an SQLite error outside a catalog statement (a transaction's begin or commit, table
/// storage) to an internal error.
fn db(error: rusqlite::Error) -> Error {
    Error::internal(format!("catalog: {error}"))
}

/// Reads a JSON column, treating unreadable JSON as a server fault.
fn json(text: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|error| Error::internal(format!("catalog JSON: {error}")))
}

/// How deep [`json`] reads: `serde_json`'s recursion limit.
const JSON_READ_DEPTH: usize = 128;

/// Writes a JSON column. A value [`json`] could not read back is refused before it is stored, so
/// no write can make a record unreadable (clients' values are held to
/// [`stowage_types::nesting::MAX_NESTING`] before they get here).
fn json_text(value: &serde_json::Value) -> Result<String> {
    if stowage_types::nesting::depth(value) >= JSON_READ_DEPTH {
        return Err(Error::new(
            stowage_types::Code::MalformedRequest,
            format!("Malformed request: a value nests {JSON_READ_DEPTH} levels or deeper and cannot be stored."),
        ));
    }
    serde_json::to_string(value).map_err(Error::internal)
}
