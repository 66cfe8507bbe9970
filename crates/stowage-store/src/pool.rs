//! A small pool of catalog connections (SQLite or PostgreSQL) used from tokio's blocking threads.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use stowage_types::{Error, Result};
use tokio::sync::Semaphore;

type Opener<C> = Box<dyn Fn() -> Result<C> + Send + Sync>;

pub(crate) struct Pool<C> {
    open: Opener<C>,
    /// False for a connection that can no longer be used (a PostgreSQL server that went away).
    usable: fn(&C) -> bool,
    idle: Mutex<Vec<C>>,
    permits: Semaphore,
}

impl<C: Send + 'static> Pool<C> {
    pub(crate) fn new(size: usize, open: Opener<C>, usable: fn(&C) -> bool) -> Self {
        Pool { open, usable, idle: Mutex::new(Vec::new()), permits: Semaphore::new(size) }
    }

    pub(crate) fn open_connection(&self) -> Result<C> {
        (self.open)()
    }

    pub(crate) fn put_back(&self, conn: C) {
        if (self.usable)(&conn) {
            self.idle.lock().unwrap_or_else(|poison| poison.into_inner()).push(conn);
        }
    }

    fn take(&self) -> Result<C> {
        let idle = self.idle.lock().unwrap_or_else(|poison| poison.into_inner()).pop();
        match idle {
            Some(conn) => Ok(conn),
            None => self.open_connection(),
        }
    }

    /// Runs `f` with an idle connection on the calling thread (see `Store::lookup`).
    pub(crate) fn run_here<T>(&self, f: impl FnOnce(&mut C) -> Result<T>) -> Result<T> {
        let mut conn = self.take()?;
        let result = f(&mut conn);
        self.put_back(conn);
        result
    }

    /// Runs `f` with a connection on a blocking thread, which also opens the connection when
    /// none is idle and drops one that can no longer be used. A connection whose closure
    /// panicked is dropped rather than reused.
    pub(crate) async fn run<T, F>(self: &Arc<Self>, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut C) -> Result<T> + Send + 'static,
    {
        let _permit = self.permits.acquire().await.map_err(Error::internal)?;
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || pool.run_here(f))
            .await
            .map_err(|error| Error::internal(format!("catalog task: {error}")))?
    }
}

/// Opens an SQLite connection configured for concurrent use: WAL, foreign keys, a busy timeout so
/// writers queue instead of failing. Commits never checkpoint: [`checkpoint_in_background`] does,
/// so that no request waits for a checkpoint's copying and syncing (it put 150 ms tails on reads
/// that recorded an event).
pub(crate) fn open_sqlite(path: &Path) -> Result<Connection> {
    let open = || -> rusqlite::Result<Connection> {
        let conn = Connection::open(path)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA foreign_keys = ON;
             PRAGMA busy_timeout = 30000;
             PRAGMA wal_autocheckpoint = 0;",
        )?;
        conn.set_prepared_statement_cache_capacity(128);
        Ok(conn)
    };
    open().map_err(|error| Error::internal(format!("catalog open: {error}")))
}

/// Copies committed pages from the write-ahead log into the catalog twice a second, on a thread
/// and connection of its own, without blocking readers or writers (a passive checkpoint), until
/// the pool is dropped.
pub(crate) fn checkpoint_in_background(pool: &Arc<Pool<Connection>>) -> Result<()> {
    let conn = pool.open_connection()?;
    let pool = Arc::downgrade(pool);
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
