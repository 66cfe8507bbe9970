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
    include_str!("../migrations/sqlite/0009_one_job_table.sql"),
    include_str!("../migrations/sqlite/0010_sign_in_failures.sql"),
    include_str!("../migrations/sqlite/0011_leases.sql"),
    include_str!("../migrations/sqlite/0012_configuration_versions.sql"),
    include_str!("../migrations/sqlite/0013_triggers.sql"),
    include_str!("../migrations/sqlite/0014_schedules.sql"),
    include_str!("../migrations/sqlite/0015_typed_tables.sql"),
    include_str!("../migrations/sqlite/0016_password_links.sql"),
    include_str!("../migrations/sqlite/0017_file_blocks.sql"),
    include_str!("../migrations/sqlite/0018_staged_bytes.sql"),
    include_str!("../migrations/sqlite/0019_organizations.sql"),
    include_str!("../migrations/sqlite/0020_bucket_sharing.sql"),
];

pub(crate) fn run(conn: &mut Connection) -> rusqlite::Result<()> {
    run_to(conn, MIGRATIONS.len())
}

/// Applies the migrations up to version `last`.
fn run_to(conn: &mut Connection, last: usize) -> rusqlite::Result<()> {
    let current: usize = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    for (index, sql) in MIGRATIONS.iter().enumerate().take(last).skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index + 1)?;
        tx.commit()?;
        tracing::info!(version = index + 1, "applied catalog migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;
    use serde_json::json;
    use stowage_types::job::JobStatus;

    use crate::Store;

    #[tokio::test]
    async fn an_existing_catalog_puts_its_projects_and_first_user_into_one_organization() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.sqlite");
        let mut conn = Connection::open(&path).unwrap();
        super::run_to(&mut conn, 18).unwrap();
        conn.execute_batch(
            "INSERT INTO projects (id, name, created) VALUES (1, 'Main', 0), (2, 'Other', 0);
             INSERT INTO users (id, email, name, created) VALUES (1, 'admin@example.com', 'admin', 0),
                (2, 'second@example.com', 'second', 0);",
        )
        .unwrap();
        drop(conn);

        let store = Store::open_sqlite(&path).unwrap();
        store
            .read(|r| {
                let organizations = r.organizations(None)?;
                assert_eq!(organizations.len(), 1);
                let organization = organizations[0].id;
                let held: Vec<i64> = r.organization_projects(organization)?.iter().map(|p| p.id).collect();
                assert_eq!(held, vec![1, 2], "every project moves into the one organization");
                let members: Vec<i64> = r.organization_members(organization)?.iter().map(|u| u.id).collect();
                assert_eq!(members, vec![1], "the stack's first user, the admin its first start made, is its member");
                Ok(())
            })
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn component_runs_move_into_the_job_table_with_new_ids_and_their_log_events_follow() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.sqlite");
        let mut conn = Connection::open(&path).unwrap();
        super::run_to(&mut conn, 8).unwrap();
        conn.execute_batch(
            "INSERT INTO projects (id, name, created) VALUES (1, 'p', 0);
             INSERT INTO branches (project_id, name, is_default, created) VALUES (1, 'main', 1, 0);
             INSERT INTO jobs (project_id, status, operation_name, operation_params, created, creator_token_id,
                creator_token_description, work) VALUES (1, 'success', 'tableImport', '{}', 0, 1, 't', '{}');
             INSERT INTO queue_jobs (id, project_id, component_id, config_id, row_ids, status, token_id,
                token_description, created, start, \"end\", result)
             VALUES (1, 1, 'keboola.wr-storage', '7', '[\"r1\"]', 'success', 1, 't', 10, 11, 12, '{\"message\":\"Job finished\"}'),
                    (2, 1, 'keboola.ex-storage', '8', '[]', 'processing', 1, 't', 20, 21, NULL, '{}');",
        )
        .unwrap();
        let branch: i64 = conn.query_row("SELECT id FROM branches", [], |row| row.get(0)).unwrap();
        conn.execute(
            "INSERT INTO events (uuid, project_id, branch_id, event, component, message, description, type, run_id,
                configuration_id, params, results, performance, context, created)
             VALUES ('u1', 1, ?1, 'ext.keboola.wr-storage.7', 'keboola.wr-storage', 'Wrote', '', 'info', '1', '7',
                '{}', '{}', '{}', '{}', 0),
                    ('u2', 1, ?1, 'storage.tableImportDone', 'storage', 'Imported', '', 'info', '1', NULL,
                '{}', '{}', '{}', '{}', 0)",
            [branch],
        )
        .unwrap();
        drop(conn);

        let store = Store::open_sqlite(&path).unwrap();
        let (runs, storage) =
            store.read(|r| Ok((r.queue_jobs(1, None, None, 10, 0)?, r.jobs(1, 10, 0)?))).await.unwrap();
        assert_eq!(storage.len(), 1, "the storage API still lists only its own job");
        let ids: Vec<i64> = runs.iter().map(|run| run.id).collect();
        assert_eq!(ids, vec![3, 2], "new ids after the storage job's, in the old order");
        let (finished, cut_off) = (&runs[1], &runs[0]);
        assert_eq!(
            (finished.component_id.as_str(), finished.config_id.as_str(), finished.status.as_str()),
            ("keboola.wr-storage", "7", "success")
        );
        assert_eq!(finished.row_ids, vec!["r1".to_string()]);
        assert_eq!((finished.start, finished.end), (Some(11), Some(12)));
        assert_eq!(finished.result, json!({ "message": "Job finished" }));
        assert_eq!(cut_off.status, JobStatus::Error.as_str(), "a run a stop cut off ends as the start used to end it");
        assert!(cut_off.result["message"].as_str().unwrap().contains("interrupted"));
        let check = Connection::open(&path).unwrap();
        let run_ids: Vec<(String, String)> = check
            .prepare("SELECT uuid, run_id FROM events ORDER BY uuid")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            run_ids,
            vec![("u1".into(), "2".into()), ("u2".into(), "1".into())],
            "the run's log follows it; a storage event with a client's run id is left alone"
        );
    }
}
