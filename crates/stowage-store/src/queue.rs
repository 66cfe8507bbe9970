//! Component runs as the Queue API shows them: rows of the one job table with a component.

use stowage_types::job::{Job, JobStatus};
use stowage_types::Result;

use crate::jobs::{finish, job, RawJob, COLUMNS};
use crate::records::QueueJobRecord;
use crate::sql::{params, Row};
use crate::Reader;

/// The Queue API's view of a job: `created` while it waits, `terminating` while a running job
/// was asked to stop, and the result (a failed job's error message when it has none).
fn queue_record(job: Job, terminate_requested: bool) -> QueueJobRecord {
    let (component_id, config_id) = job.component.unwrap_or_default();
    let status = match job.status {
        JobStatus::Waiting => "created",
        JobStatus::Processing if terminate_requested => "terminating",
        other => other.as_str(),
    };
    let result = match (&job.results, &job.error) {
        (serde_json::Value::Null, Some(error)) => serde_json::json!({ "message": error["message"] }),
        (serde_json::Value::Null, None) => serde_json::json!({}),
        (results, _) => results.clone(),
    };
    QueueJobRecord {
        id: job.id,
        project_id: job.project_id,
        component_id,
        config_id,
        row_ids: job.operation_params["rowIds"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|id| id.as_str().map(str::to_string))
            .collect(),
        status: status.to_string(),
        token_id: job.creator_token_id,
        token_description: job.creator_token_description,
        created: job.created,
        start: job.start,
        end: job.end,
        result,
    }
}

fn row(row: &Row<'_>) -> Result<(RawJob, bool)> {
    Ok((job(row)?, row.get(17)?))
}

impl Reader<'_> {
    /// One component run of a project.
    pub fn queue_job(&self, project_id: i64, id: i64) -> Result<Option<QueueJobRecord>> {
        let found = self.conn.row(
            &format!("SELECT {COLUMNS} FROM jobs WHERE project_id = ?1 AND id = ?2 AND component_id IS NOT NULL"),
            params![project_id, id],
            row,
        )?;
        found.map(|(raw, terminate)| Ok(queue_record(finish(raw)?, terminate))).transpose()
    }

    /// Component runs of a project, newest first, optionally of one component and configuration.
    pub fn queue_jobs(
        &self,
        project_id: i64,
        component_id: Option<&str>,
        config_id: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<QueueJobRecord>> {
        let rows = self.conn.rows(
            &format!(
                "SELECT {COLUMNS} FROM jobs WHERE project_id = ?1 AND component_id IS NOT NULL
                 AND (CAST(?2 AS TEXT) IS NULL OR component_id = ?2) AND (CAST(?3 AS TEXT) IS NULL OR config_id = ?3)
                 ORDER BY id DESC LIMIT ?4 OFFSET ?5"
            ),
            params![project_id, component_id, config_id, limit, offset],
            row,
        )?;
        rows.into_iter().map(|(raw, terminate)| Ok(queue_record(finish(raw)?, terminate))).collect()
    }
}
