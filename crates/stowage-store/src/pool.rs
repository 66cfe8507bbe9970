//! A small pool of SQLite connections used from tokio's blocking threads.

use std::path::PathBuf;
use std::sync::Mutex;

use rusqlite::Connection;
use stowage_types::{Error, Result};
use tokio::sync::Semaphore;

pub(crate) struct Pool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
}

impl Pool {
    pub(crate) fn new(path: PathBuf, size: usize) -> Self {
        Pool { path, idle: Mutex::new(Vec::new()), permits: Semaphore::new(size) }
    }

    /// Opens a connection configured for concurrent use: WAL, foreign keys, a busy timeout so
    /// writers queue instead of failing. Commits never checkpoint: [`checkpoint_in_background`]
    /// does, so that no request waits for a checkpoint's copying and syncing (it put 150 ms tails
    /// on reads that recorded an event).
    pub(crate) fn open_connection(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open(&self.path)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA foreign_keys = ON;
             PRAGMA busy_timeout = 30000;
             PRAGMA wal_autocheckpoint = 0;",
        )?;
        Ok(conn)
    }

    /// Copies committed pages from the write-ahead log into the catalog twice a second, on a
    /// thread and connection of its own, without blocking readers or writers (a passive
    /// checkpoint), until the pool is dropped.
    pub(crate) fn checkpoint_in_background(pool: &std::sync::Arc<Pool>) -> Result<()> {
        let conn = pool.open_connection().map_err(Error::internal)?;
        let pool = std::sync::Arc::downgrade(pool);
        let spawned = std::thread::Builder::new().name("catalog-checkpoint".into()).spawn(move || loop {
            std::thread::sleep(std::time::Duration::from_millis(500));
            if pool.upgrade().is_none() {
                return;
            }
            if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::warn!(%error, "catalog checkpoint failed; the next one tries again");
            }
        });
        spawned.map(|_| ()).map_err(Error::internal)
    }

    pub(crate) fn put_back(&self, conn: Connection) {
        self.idle.lock().unwrap_or_else(|poison| poison.into_inner()).push(conn);
    }

    fn take(&self) -> Result<Connection> {
        let idle = self.idle.lock().unwrap_or_else(|poison| poison.into_inner()).pop();
        match idle {
            Some(conn) => Ok(conn),
            None => self.open_connection().map_err(|error| Error::internal(format!("catalog open: {error}"))),
        }
    }

    /// Runs `f` with an idle connection on the calling thread (see `Store::lookup`).
    pub(crate) fn run_here<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let mut conn = self.take()?;
        let result = f(&mut conn);
        self.put_back(conn);
        result
    }

    /// Runs `f` with a connection on a blocking thread. A connection whose closure panicked is
    /// dropped rather than reused.
    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let _permit = self.permits.acquire().await.map_err(Error::internal)?;
        let mut conn = self.take()?;
        let (conn, result) = tokio::task::spawn_blocking(move || {
            let result = f(&mut conn);
            (conn, result)
        })
        .await
        .map_err(|error| Error::internal(format!("catalog task: {error}")))?;
        self.put_back(conn);
        result
    }
}
