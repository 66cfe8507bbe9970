//! Schedules: a configuration run, as a token, whenever a cron expression matches.

use stowage_types::auth::TokenRef;
use stowage_types::time::Timestamp;
use stowage_types::{Error, Result};

use crate::records::ScheduleRecord;
use crate::sql::{params, Row};
use crate::{Reader, Writer};

const COLUMNS: &str = "id, project_id, configuration_id, configuration_version, run_with_token_id, cron_tab,
    timezone, enabled, target_component_id, target_configuration_id, target_row_ids, next_run, last_run,
    last_job_id, creator_token_id, creator_token_description, created";

fn schedule(row: &Row<'_>) -> Result<ScheduleRecord> {
    let rows: String = row.get(10)?;
    Ok(ScheduleRecord {
        id: row.get(0)?,
        project_id: row.get(1)?,
        configuration_id: row.get(2)?,
        configuration_version: row.get(3)?,
        run_with_token_id: row.get(4)?,
        cron_tab: row.get(5)?,
        timezone: row.get(6)?,
        enabled: row.get(7)?,
        target_component_id: row.get(8)?,
        target_configuration_id: row.get(9)?,
        target_row_ids: serde_json::from_str(&rows).map_err(Error::internal)?,
        next_run: row.get(11)?,
        last_run: row.get(12)?,
        last_job_id: row.get(13)?,
        creator: TokenRef { id: row.get(14)?, description: row.get(15)? },
        created: row.get(16)?,
    })
}

impl Reader<'_> {
    /// The schedules of a project, oldest first.
    pub fn schedules(&self, project_id: i64) -> Result<Vec<ScheduleRecord>> {
        self.conn.rows(
            &format!("SELECT {COLUMNS} FROM schedules WHERE project_id = ?1 ORDER BY id"),
            params![project_id],
            schedule,
        )
    }

    /// One schedule of a project.
    pub fn schedule(&self, project_id: i64, id: i64) -> Result<Option<ScheduleRecord>> {
        self.conn.row(
            &format!("SELECT {COLUMNS} FROM schedules WHERE project_id = ?1 AND id = ?2"),
            params![project_id, id],
            schedule,
        )
    }

    /// The schedule made from a scheduler configuration, if it was activated.
    pub fn schedule_of(&self, project_id: i64, configuration_id: &str) -> Result<Option<ScheduleRecord>> {
        self.conn.row(
            &format!("SELECT {COLUMNS} FROM schedules WHERE project_id = ?1 AND configuration_id = ?2"),
            params![project_id, configuration_id],
            schedule,
        )
    }

    /// Enabled schedules of every project whose next run has come at `now`.
    pub fn due_schedules(&self, now: Timestamp) -> Result<Vec<ScheduleRecord>> {
        self.conn.rows(
            &format!("SELECT {COLUMNS} FROM schedules WHERE enabled = 1 AND next_run <= ?1 ORDER BY next_run, id"),
            params![now],
            schedule,
        )
    }

    /// Schedules that run as the token `token_id`.
    pub fn schedules_run_with(&self, token_id: i64) -> Result<Vec<ScheduleRecord>> {
        self.conn.rows(
            &format!("SELECT {COLUMNS} FROM schedules WHERE run_with_token_id = ?1 ORDER BY id"),
            params![token_id],
            schedule,
        )
    }
}

impl Writer<'_> {
    /// Stores a schedule, replacing the one of the same scheduler configuration; returns its id
    /// (a replaced schedule keeps its id, its last run and last job).
    pub fn put_schedule(&self, s: &ScheduleRecord) -> Result<i64> {
        let rows = serde_json::to_string(&s.target_row_ids).map_err(Error::internal)?;
        self.conn().one(
            "INSERT INTO schedules (project_id, configuration_id, configuration_version, run_with_token_id, cron_tab,
                timezone, enabled, target_component_id, target_configuration_id, target_row_ids, next_run,
                creator_token_id, creator_token_description, created)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
             ON CONFLICT (project_id, configuration_id) DO UPDATE SET
                configuration_version = excluded.configuration_version,
                run_with_token_id = excluded.run_with_token_id, cron_tab = excluded.cron_tab,
                timezone = excluded.timezone, enabled = excluded.enabled,
                target_component_id = excluded.target_component_id,
                target_configuration_id = excluded.target_configuration_id,
                target_row_ids = excluded.target_row_ids, next_run = excluded.next_run,
                creator_token_id = excluded.creator_token_id,
                creator_token_description = excluded.creator_token_description
             RETURNING id",
            params![
                s.project_id,
                s.configuration_id,
                s.configuration_version,
                s.run_with_token_id,
                s.cron_tab,
                s.timezone,
                s.enabled,
                s.target_component_id,
                s.target_configuration_id,
                rows,
                s.next_run,
                s.creator.id,
                s.creator.description,
                s.created,
            ],
            |row| row.get(0),
        )
    }

    /// Records a look at a due schedule: its next run, and the job it started, if any.
    pub fn mark_schedule_run(&self, id: i64, next_run: Timestamp, started: Option<(Timestamp, i64)>) -> Result<()> {
        let (last_run, last_job) = started.unzip();
        self.conn().execute(
            "UPDATE schedules SET next_run = ?2, last_run = COALESCE(?3, last_run), last_job_id = COALESCE(?4, last_job_id)
             WHERE id = ?1",
            params![id, next_run, last_run, last_job],
        )?;
        Ok(())
    }

    /// Deletes a schedule; false when it did not exist.
    pub fn delete_schedule(&self, project_id: i64, id: i64) -> Result<bool> {
        Ok(self.conn().execute("DELETE FROM schedules WHERE project_id = ?1 AND id = ?2", params![project_id, id])? > 0)
    }
}
