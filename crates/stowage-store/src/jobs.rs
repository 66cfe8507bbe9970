//! Storage jobs: durable records of asynchronous operations.

use rusqlite::{params, OptionalExtension, Row};
use serde_json::Value;
use stowage_types::job::{Job, JobStatus};
use stowage_types::time::Timestamp;
use stowage_types::{Error, Result};

use crate::{db, json, Reader, Writer};

const COLUMNS: &str = "id, project_id, status, operation_name, operation_params, table_id, run_id, created, start,
    \"end\", results, metrics, error, creator_token_id, creator_token_description";

fn job(row: &Row<'_>) -> rusqlite::Result<(Job, [Option<String>; 4])> {
    let raw = [row.get(4)?, row.get(10)?, row.get(11)?, row.get(12)?];
    let job = Job {
        id: row.get(0)?,
        project_id: row.get(1)?,
        status: JobStatus::parse(&row.get::<_, String>(2)?),
        operation_name: row.get(3)?,
        operation_params: Value::Null,
        table_id: row.get(5)?,
        run_id: row.get(6)?,
        created: row.get(7)?,
        start: row.get(8)?,
        end: row.get(9)?,
        results: Value::Null,
        metrics: Value::Null,
        error: None,
        creator_token_id: row.get(13)?,
        creator_token_description: row.get(14)?,
    };
    Ok((job, raw))
}

fn finish((mut job, [params, results, metrics, error]): (Job, [Option<String>; 4])) -> Result<Job> {
    let parse = |text: Option<String>| text.map(|text| json(&text)).transpose();
    job.operation_params = parse(params)?.unwrap_or(Value::Null);
    job.results = parse(results)?.unwrap_or(Value::Null);
    job.metrics = parse(metrics)?.unwrap_or(Value::Null);
    job.error = parse(error)?;
    Ok(job)
}

fn text(value: &Value) -> Result<String> {
    serde_json::to_string(value).map_err(Error::internal)
}

impl Reader<'_> {
    /// Every storage job a stopped process left unfinished, oldest first.
    pub fn unfinished_jobs(&self) -> Result<Vec<Job>> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {COLUMNS} FROM jobs WHERE status IN ('waiting', 'processing') ORDER BY id"))
            .map_err(db)?;
        let rows = stmt.query_map([], job).map_err(db)?;
        rows.map(|row| finish(row.map_err(db)?)).collect()
    }

    /// One job of a project.
    pub fn job(&self, project_id: i64, id: i64) -> Result<Option<Job>> {
        self.conn
            .query_row(&format!("SELECT {COLUMNS} FROM jobs WHERE project_id = ?1 AND id = ?2"), [project_id, id], job)
            .optional()
            .map_err(db)?
            .map(finish)
            .transpose()
    }

    /// Jobs of a project, newest first.
    pub fn jobs(&self, project_id: i64, limit: i64, offset: i64) -> Result<Vec<Job>> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {COLUMNS} FROM jobs WHERE project_id = ?1 ORDER BY id DESC LIMIT ?2 OFFSET ?3"))
            .map_err(db)?;
        let rows = stmt.query_map([project_id, limit, offset], job).map_err(db)?;
        rows.map(|row| finish(row.map_err(db)?)).collect()
    }
}

impl Writer<'_> {
    /// Stores a new waiting job and returns it.
    pub fn insert_job(&self, job: &Job) -> Result<Job> {
        self.conn()
            .execute(
                "INSERT INTO jobs (project_id, status, operation_name, operation_params, table_id, run_id, created,
                    results, metrics, creator_token_id, creator_token_description)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    job.project_id,
                    job.status.as_str(),
                    job.operation_name,
                    text(&job.operation_params)?,
                    job.table_id,
                    job.run_id,
                    job.created,
                    text(&job.results)?,
                    text(&job.metrics)?,
                    job.creator_token_id,
                    job.creator_token_description,
                ],
            )
            .map_err(db)?;
        Ok(Job { id: self.conn().last_insert_rowid(), ..job.clone() })
    }

    /// Marks a job as started.
    pub fn start_job(&self, id: i64, at: Timestamp) -> Result<()> {
        self.conn().execute("UPDATE jobs SET status = 'processing', start = ?2 WHERE id = ?1", [id, at]).map_err(db)?;
        Ok(())
    }

    /// Records a job's byte metrics.
    pub fn set_job_metrics(&self, id: i64, metrics: &Value) -> Result<()> {
        self.conn().execute("UPDATE jobs SET metrics = ?2 WHERE id = ?1", params![id, text(metrics)?]).map_err(db)?;
        Ok(())
    }

    /// Marks a job as finished, successfully or with `error`.
    pub fn finish_job(&self, id: i64, at: Timestamp, results: &Value, error: Option<&Value>) -> Result<()> {
        let status = if error.is_some() { JobStatus::Error } else { JobStatus::Success };
        self.conn()
            .execute(
                "UPDATE jobs SET status = ?2, \"end\" = ?3, start = COALESCE(start, ?3), results = ?4, error = ?5
                 WHERE id = ?1",
                params![id, status.as_str(), at, text(results)?, error.map(text).transpose()?],
            )
            .map_err(db)?;
        Ok(())
    }

    /// Ends every job left `waiting` or `processing` (by a process that died) as an error.
    pub fn fail_unfinished_jobs(&self, at: Timestamp, error: &Value) -> Result<usize> {
        self.conn()
            .execute(
                "UPDATE jobs SET status = 'error', \"end\" = ?1, start = COALESCE(start, ?1), error = ?2
                 WHERE status IN ('waiting', 'processing')",
                params![at, text(error)?],
            )
            .map_err(db)
    }
}
