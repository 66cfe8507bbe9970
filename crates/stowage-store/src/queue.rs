//! Component jobs (the queue).

use rusqlite::{params, OptionalExtension, Row};
use serde_json::Value;
use stowage_types::time::Timestamp;
use stowage_types::{Error, Result};

use crate::records::QueueJobRecord;
use crate::{db, json, Reader, Writer};

const COLUMNS: &str = "id, project_id, component_id, config_id, row_ids, status, token_id, token_description, created, start, \"end\", result";

fn job(row: &Row<'_>) -> rusqlite::Result<(QueueJobRecord, [String; 2])> {
    let record = QueueJobRecord {
        id: row.get(0)?,
        project_id: row.get(1)?,
        component_id: row.get(2)?,
        config_id: row.get(3)?,
        status: row.get(5)?,
        token_id: row.get(6)?,
        token_description: row.get(7)?,
        created: row.get(8)?,
        start: row.get(9)?,
        end: row.get(10)?,
        ..QueueJobRecord::default()
    };
    Ok((record, [row.get(4)?, row.get(11)?]))
}

fn finish((mut record, [row_ids, result]): (QueueJobRecord, [String; 2])) -> Result<QueueJobRecord> {
    record.row_ids = serde_json::from_str(&row_ids).map_err(Error::internal)?;
    record.result = json(&result)?;
    Ok(record)
}

impl Reader<'_> {
    /// One component job of a project.
    pub fn queue_job(&self, project_id: i64, id: i64) -> Result<Option<QueueJobRecord>> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM queue_jobs WHERE project_id = ?1 AND id = ?2"),
                [project_id, id],
                job,
            )
            .optional()
            .map_err(db)?
            .map(finish)
            .transpose()
    }

    /// Component jobs of a project, newest first, optionally of one component and configuration.
    pub fn queue_jobs(
        &self,
        project_id: i64,
        component_id: Option<&str>,
        config_id: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<QueueJobRecord>> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM queue_jobs WHERE project_id = ?1 AND (?2 IS NULL OR component_id = ?2)
                 AND (?3 IS NULL OR config_id = ?3) ORDER BY id DESC LIMIT ?4 OFFSET ?5"
            ))
            .map_err(db)?;
        let rows = stmt.query_map(params![project_id, component_id, config_id, limit, offset], job).map_err(db)?;
        rows.map(|row| finish(row.map_err(db)?)).collect()
    }
}

impl Writer<'_> {
    /// Stores a new job; returns its id.
    pub fn insert_queue_job(&self, record: &QueueJobRecord) -> Result<i64> {
        self.conn()
            .execute(
                "INSERT INTO queue_jobs (project_id, component_id, config_id, row_ids, status, token_id, token_description, created, result)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, '{}')",
                params![
                    record.project_id,
                    record.component_id,
                    record.config_id,
                    serde_json::to_string(&record.row_ids).map_err(Error::internal)?,
                    record.status,
                    record.token_id,
                    record.token_description,
                    record.created,
                ],
            )
            .map_err(db)?;
        Ok(self.conn().last_insert_rowid())
    }

    /// Sets a job's status, with its start or end time and result when given. A finished job (one with an
    /// end time) is left as it is, so a late `terminating` cannot overwrite the end a racing runner recorded.
    pub fn set_queue_job_status(
        &self,
        id: i64,
        status: &str,
        start: Option<Timestamp>,
        end: Option<Timestamp>,
        result: Option<&Value>,
    ) -> Result<()> {
        let result = result.map(serde_json::to_string).transpose().map_err(Error::internal)?;
        self.conn()
            .execute(
                "UPDATE queue_jobs SET status = ?2, start = COALESCE(?3, start), \"end\" = COALESCE(?4, \"end\"),
                    result = COALESCE(?5, result) WHERE id = ?1 AND \"end\" IS NULL",
                params![id, status, start, end, result],
            )
            .map_err(db)?;
        Ok(())
    }

    /// Ends every job a previous process left unfinished as an error; returns how many.
    pub fn fail_unfinished_queue_jobs(&self, at: Timestamp, result: &Value) -> Result<usize> {
        self.conn()
            .execute(
                "UPDATE queue_jobs SET status = 'error', \"end\" = ?1, result = ?2
                 WHERE status IN ('created', 'processing', 'terminating')",
                params![at, serde_json::to_string(result).map_err(Error::internal)?],
            )
            .map_err(db)
    }
}
