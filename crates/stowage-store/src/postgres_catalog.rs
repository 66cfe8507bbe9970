//! The catalog on PostgreSQL: connections set to the stack's schema, migrations, and write
//! transactions that take turns across every server of the stack.
//!
//! Write transactions hold a transaction-scoped advisory lock of the schema for their whole
//! length, so the catalog's writers take turns across processes exactly as they do within one
//! SQLite file: a check and the change it guards (a name still free, a job still waiting) never
//! interleave with another server's. Reads run without it, each statement on the latest commit.

use std::cell::RefCell;

use crate::pg_client::PgClient;
use stowage_types::{Error, Result};

use crate::sql::{Conn, PgConn};
use crate::{Reader, Writer};

/// Every migration, oldest first. Never edit one that has shipped; add the next.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/postgres/0001_catalog.sql"),
    include_str!("../migrations/postgres/0002_configuration_versions.sql"),
    include_str!("../migrations/postgres/0003_triggers.sql"),
    include_str!("../migrations/postgres/0004_schedules.sql"),
    include_str!("../migrations/postgres/0005_typed_tables.sql"),
    include_str!("../migrations/postgres/0006_password_links.sql"),
    include_str!("../migrations/postgres/0007_file_blocks.sql"),
    include_str!("../migrations/postgres/0008_staged_bytes.sql"),
    include_str!("../migrations/postgres/0009_organizations.sql"),
    include_str!("../migrations/postgres/0010_bucket_sharing.sql"),
];

fn pg(error: postgres::Error) -> Error {
    Error::internal(format!("catalog: {}", crate::pg_client::describe(&error)))
}

/// Where the catalog lives and the statements that depend on it.
pub(crate) struct Settings {
    url: String,
    schema: String,
    /// `BEGIN` with the schema's write lock.
    begin: String,
}

impl Settings {
    pub(crate) fn new(url: &str, schema: &str) -> Result<Self> {
        if schema.is_empty() || schema.len() > 63 {
            return Err(Error::internal("the catalog schema name must have 1 to 63 characters"));
        }
        url.parse::<postgres::Config>().map_err(|error| Error::internal(format!("database URL: {error}")))?;
        let begin = format!("BEGIN; SELECT pg_advisory_xact_lock({})", lock_key(schema));
        Ok(Settings { url: url.to_string(), schema: schema.to_string(), begin })
    }

    /// A new connection whose search path is the catalog's schema.
    pub(crate) fn connect(&self) -> Result<PgConn> {
        let mut client = PgClient::connect(&self.url, "catalog")?;
        client
            .batch_execute(&format!("SET search_path TO {}; SET application_name TO 'stowage'", quote(&self.schema)))
            .map_err(pg)?;
        Ok(PgConn::new(client))
    }
}

/// The advisory lock of a schema's catalog writes: a stable 64-bit hash (FNV-1a) of its name.
fn lock_key(schema: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in "stowage catalog ".bytes().chain(schema.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash as i64
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Creates the schema when missing and applies the migrations it lacks, under the write lock, so
/// servers that start together migrate once.
pub(crate) fn migrate(conn: &mut PgConn, settings: &Settings) -> Result<()> {
    let client = &mut conn.client;
    let mut tx = client.transaction().map_err(pg)?;
    tx.batch_execute(&format!(
        "SELECT pg_advisory_xact_lock({key});
         CREATE SCHEMA IF NOT EXISTS {schema};
         CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (version BIGINT PRIMARY KEY, applied BIGINT NOT NULL)",
        key = lock_key(&settings.schema),
        schema = quote(&settings.schema),
    ))
    .map_err(pg)?;
    let current: i64 = tx.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[]).map_err(pg)?.get(0);
    let now = stowage_types::time::now();
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = index as i64 + 1;
        tx.batch_execute(sql).map_err(pg)?;
        tx.execute("INSERT INTO schema_migrations (version, applied) VALUES ($1, $2)", &[&version, &now])
            .map_err(pg)?;
        tracing::info!(version, "applied catalog migration (PostgreSQL)");
    }
    tx.commit().map_err(pg)
}

/// Runs `f` in one write transaction that holds the catalog's write lock; commits only if `f`
/// succeeds. A statement that failed aborts the transaction even if `f` went on: the commit then
/// fails too, rather than PostgreSQL's quiet rollback.
pub(crate) fn in_transaction<T>(
    conn: &mut RefCell<PgConn>,
    settings: &Settings,
    f: impl FnOnce(&Writer<'_>) -> Result<T>,
) -> Result<T> {
    conn.get_mut().client.batch_execute(&settings.begin).map_err(pg)?;
    let result = f(&Writer { reader: Reader { conn: Conn::Postgres(conn) } });
    let client = &mut conn.get_mut().client;
    let finished = match result {
        Ok(value) => client.batch_execute("SELECT 1; COMMIT").map_err(pg).map(|()| value),
        Err(error) => Err(error),
    };
    if finished.is_err() && !client.is_closed() {
        if let Err(error) = client.batch_execute("ROLLBACK") {
            tracing::warn!(%error, "catalog rollback failed");
        }
    }
    finished
}

/// Runs blocking catalog IO from wherever the caller is: in place of the task on a multi-thread
/// runtime, on a thread of its own on a current-thread runtime (tests), directly elsewhere. The
/// synchronous client runs a runtime of its own, which cannot start inside a runtime's thread.
pub(crate) fn blocking<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        Ok(_) => std::thread::scope(|scope| match scope.spawn(f).join() {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        }),
        Err(_) => f(),
    }
}
