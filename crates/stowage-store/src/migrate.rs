//! Schema migrations: numbered SQL files applied in order, tracked in `PRAGMA user_version`.

use rusqlite::Connection;

/// Every migration, oldest first. Never edit one that has shipped; add the next.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/sqlite/0001_catalog.sql"),
    include_str!("../migrations/sqlite/0002_token_lifecycle.sql"),
    include_str!("../migrations/sqlite/0003_files_and_tables.sql"),
    include_str!("../migrations/sqlite/0004_configurations.sql"),
    include_str!("../migrations/sqlite/0005_queue_jobs.sql"),
    include_str!("../migrations/sqlite/0006_console_sessions.sql"),
    include_str!("../migrations/sqlite/0007_session_credentials.sql"),
    include_str!("../migrations/sqlite/0008_job_leases.sql"),
];

pub(crate) fn run(conn: &mut Connection) -> rusqlite::Result<()> {
    let current: usize = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index + 1)?;
        tx.commit()?;
        tracing::info!(version = index + 1, "applied catalog migration");
    }
    Ok(())
}
