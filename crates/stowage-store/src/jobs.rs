//! The job queue: storage jobs and component runs as durable rows, inserted, claimed under a lease,
//! renewed, finished by their lease holder, terminated on request; and named leases for work one
//! process does at a time.

use serde_json::Value;
use stowage_types::job::{Job, JobStatus};
use stowage_types::time::Timestamp;
use stowage_types::Result;

use crate::sql::{params, Row};
use crate::{json, json_text, Reader, Writer};

pub(crate) const COLUMNS: &str = "id, project_id, status, operation_name, operation_params, table_id, run_id, created,
    start, \"end\", results, metrics, error, creator_token_id, creator_token_description, component_id, config_id,
    terminate_requested";

/// Storage API listings show storage jobs only; the Queue API shows component runs.
const STORAGE_JOB: &str = "component_id IS NULL";

/// A job row with its JSON columns still as text: (job, [params, results, metrics, error]).
pub(crate) type RawJob = (Job, [Option<String>; 4]);

pub(crate) fn job(row: &Row<'_>) -> Result<RawJob> {
    let raw = [row.get(4)?, row.get(10)?, row.get(11)?, row.get(12)?];
    let job = Job {
        id: row.get(0)?,
        project_id: row.get(1)?,
        status: JobStatus::parse(&row.get::<String>(2)?),
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
        component: match (row.get(15)?, row.get(16)?) {
            (Some(component), Some(config)) => Some((component, config)),
            _ => None,
        },
    };
    Ok((job, raw))
}

pub(crate) fn finish((mut job, [params, results, metrics, error]): RawJob) -> Result<Job> {
    let parse = |text: Option<String>| text.map(|text| json(&text)).transpose();
    job.operation_params = parse(params)?.unwrap_or(Value::Null);
    job.results = parse(results)?.unwrap_or(Value::Null);
    job.metrics = parse(metrics)?.unwrap_or(Value::Null);
    job.error = parse(error)?;
    Ok(job)
}

impl Reader<'_> {
    /// True when someone asked the job to stop.
    pub fn termination_requested(&self, id: i64) -> Result<bool> {
        let flag =
            self.conn.row("SELECT terminate_requested FROM jobs WHERE id = ?1", params![id], |row| row.get(0))?;
        Ok(flag.unwrap_or(false))
    }

    /// True when a job (of any project) is waiting or running.
    pub fn job_unfinished(&self, id: i64) -> Result<bool> {
        let found = self.conn.row(
            "SELECT 1 FROM jobs WHERE id = ?1 AND status IN ('waiting', 'processing')",
            params![id],
            |_| Ok(()),
        )?;
        Ok(found.is_some())
    }

    /// Unfinished jobs of every project by kind and status: `(component run, status, count)` for
    /// `waiting` and `processing` (the queue's depth and what runs).
    pub fn unfinished_job_counts(&self) -> Result<Vec<(bool, String, i64)>> {
        self.conn.rows(
            "SELECT component_id IS NOT NULL, status, COUNT(*) FROM jobs
                 WHERE status IN ('waiting', 'processing') GROUP BY component_id IS NOT NULL, status",
            params![],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
    }

    /// Every job a stopped process left unfinished, oldest first.
    pub fn unfinished_jobs(&self) -> Result<Vec<Job>> {
        let rows = self.conn.rows(
            &format!("SELECT {COLUMNS} FROM jobs WHERE status IN ('waiting', 'processing') ORDER BY id"),
            params![],
            job,
        )?;
        rows.into_iter().map(finish).collect()
    }

    /// One storage job of a project.
    pub fn job(&self, project_id: i64, id: i64) -> Result<Option<Job>> {
        self.conn
            .row(
                &format!("SELECT {COLUMNS} FROM jobs WHERE project_id = ?1 AND id = ?2 AND {STORAGE_JOB}"),
                params![project_id, id],
                job,
            )?
            .map(finish)
            .transpose()
    }

    /// Storage jobs of a project, newest first.
    pub fn jobs(&self, project_id: i64, limit: i64, offset: i64) -> Result<Vec<Job>> {
        let rows = self.conn.rows(
            &format!(
                "SELECT {COLUMNS} FROM jobs WHERE project_id = ?1 AND {STORAGE_JOB} ORDER BY id DESC LIMIT ?2 OFFSET ?3"
            ),
            params![project_id, limit, offset],
            job,
        )?;
        rows.into_iter().map(finish).collect()
    }
}

/// A job a worker claimed: the job, what to run, where the request came from, and which attempt
/// this is (more than 1 after a takeover).
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub job: Job,
    pub work: Value,
    pub context: Value,
    pub attempt: i64,
}

impl Writer<'_> {
    /// Stores a new waiting job with its work and request context, and returns it.
    pub fn insert_job(&self, job: &Job, work: &Value, context: &Value) -> Result<Job> {
        let id = self.conn().one(
                "INSERT INTO jobs (project_id, status, operation_name, operation_params, table_id, run_id, created,
                    results, metrics, creator_token_id, creator_token_description, work, context, component_id, config_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) RETURNING id",
                params![
                    job.project_id,
                    job.status.as_str(),
                    job.operation_name,
                    json_text(&job.operation_params)?,
                    job.table_id,
                    job.run_id,
                    job.created,
                    json_text(&job.results)?,
                    json_text(&job.metrics)?,
                    job.creator_token_id,
                    job.creator_token_description,
                    json_text(work)?,
                    json_text(context)?,
                    job.component.as_ref().map(|(component, _)| component),
                    job.component.as_ref().map(|(_, config)| config),
                ],
                |row| row.get(0),
        )?;
        Ok(Job { id, ..job.clone() })
    }

    /// Claims the oldest storage job (or component run, with `components`) that is waiting, or
    /// whose worker's lease expired before `now`, for `owner` until `lease_until`; one statement,
    /// so two workers never claim the same job. A job of a table waits while an older job of that
    /// table is unfinished.
    pub fn claim_job(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        components: bool,
    ) -> Result<Option<ClaimedJob>> {
        let claimed = self.conn().row(
            &format!(
                "UPDATE jobs SET status = 'processing', start = COALESCE(start, ?1), lease_owner = ?2,
                    lease_expires = ?3, attempts = attempts + 1
                 WHERE id = (
                    SELECT j.id FROM jobs j
                    WHERE j.work IS NOT NULL AND (j.component_id IS NOT NULL) = ?4
                      AND (j.status = 'waiting' OR (j.status = 'processing' AND j.lease_expires < ?1))
                      AND (j.table_id IS NULL OR NOT EXISTS (
                        SELECT 1 FROM jobs o WHERE o.project_id = j.project_id AND o.table_id = j.table_id
                          AND o.id < j.id AND o.status IN ('waiting', 'processing')))
                    ORDER BY j.id LIMIT 1)
                 RETURNING {COLUMNS}, work, context, attempts"
            ),
            params![now, owner, lease_until, components],
            |row| Ok((job(row)?, row.get::<String>(18)?, row.get::<String>(19)?, row.get::<i64>(20)?)),
        )?;
        let Some((raw, work, context, attempt)) = claimed else { return Ok(None) };
        Ok(Some(ClaimedJob { job: finish(raw)?, work: json(&work)?, context: json(&context)?, attempt }))
    }

    /// Extends `owner`'s lease on a running job; false when the lease was lost (expired and taken
    /// over) or the job ended.
    pub fn renew_job_lease(&self, id: i64, owner: &str, until: Timestamp) -> Result<bool> {
        let changed = self.conn().execute(
            "UPDATE jobs SET lease_expires = ?3 WHERE id = ?1 AND lease_owner = ?2 AND status = 'processing'",
            params![id, owner, until],
        )?;
        Ok(changed == 1)
    }

    /// Ends a job `owner` holds with `status`; false (and nothing changed) when `owner` no longer
    /// holds it, so a worker that lost its lease cannot overwrite the outcome.
    #[allow(clippy::too_many_arguments)]
    pub fn finish_claimed_job(
        &self,
        id: i64,
        owner: &str,
        at: Timestamp,
        status: JobStatus,
        results: &Value,
        metrics: Option<&Value>,
        error: Option<&Value>,
    ) -> Result<bool> {
        let changed = self.conn().execute(
            "UPDATE jobs SET status = ?3, \"end\" = ?4, results = ?5, metrics = COALESCE(?6, metrics), error = ?7,
                    lease_expires = NULL
                 WHERE id = ?1 AND lease_owner = ?2 AND status = 'processing'",
            params![
                id,
                owner,
                status.as_str(),
                at,
                json_text(results)?,
                metrics.map(json_text).transpose()?,
                error.map(json_text).transpose()?
            ],
        )?;
        Ok(changed == 1)
    }

    /// Asks a job of a project to stop: a waiting one ends as `terminated` at once, a running one
    /// gets the flag its worker watches. Returns the job's status before, or `None` when there is
    /// no such job; a finished job is left as it is.
    pub fn request_termination(&self, project_id: i64, id: i64, at: Timestamp) -> Result<Option<JobStatus>> {
        let status: Option<String> = self.conn().row(
            "SELECT status FROM jobs WHERE project_id = ?1 AND id = ?2",
            params![project_id, id],
            |row| row.get(0),
        )?;
        let Some(status) = status.map(|status| JobStatus::parse(&status)) else { return Ok(None) };
        let changed = match status {
            JobStatus::Waiting => self.conn().execute(
                "UPDATE jobs SET status = 'terminated', terminate_requested = 1, start = ?2, \"end\" = ?2,
                    results = '{\"message\":\"Job terminated\"}' WHERE id = ?1",
                params![id, at],
            ),
            JobStatus::Processing => {
                self.conn().execute("UPDATE jobs SET terminate_requested = 1 WHERE id = ?1", params![id])
            }
            _ => return Ok(Some(status)),
        };
        changed?;
        Ok(Some(status))
    }

    /// Takes or renews the lease `name` for `owner` until `until`, when it is free, expired at
    /// `now`, or already `owner`'s; true when `owner` holds it afterwards. One statement, so two
    /// processes never both hold it.
    pub fn take_lease(&self, name: &str, owner: &str, now: Timestamp, until: Timestamp) -> Result<bool> {
        let changed = self.conn().execute(
            "INSERT INTO leases (name, owner, expires) VALUES (?1, ?2, ?4)
                 ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires = excluded.expires
                 WHERE leases.expires <= ?3 OR leases.owner = excluded.owner",
            params![name, owner, now, until],
        )?;
        Ok(changed == 1)
    }

    /// Ends the lease of every running job, or of those whose owner's name starts with
    /// `owner_prefix`, now, so the next claim takes them over. Only for a process that knows those
    /// workers are dead (a server at start, holding its data dir's lock).
    pub fn expire_job_leases(&self, owner_prefix: Option<&str>) -> Result<usize> {
        let pattern = owner_prefix
            .map(|prefix| format!("{}%", prefix.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")));
        self.conn().execute(
            "UPDATE jobs SET lease_expires = 0 WHERE status = 'processing' AND work IS NOT NULL
                AND (CAST(?1 AS TEXT) IS NULL OR lease_owner LIKE ?1 ESCAPE '\\')",
            params![pattern],
        )
    }

    /// Ends as an error every unfinished job stored before jobs carried their work (nothing can
    /// run those again).
    pub fn fail_unrunnable_jobs(&self, at: Timestamp, error: &Value) -> Result<usize> {
        self.conn().execute(
            "UPDATE jobs SET status = 'error', \"end\" = ?1, start = COALESCE(start, ?1), error = ?2
                 WHERE status IN ('waiting', 'processing') AND work IS NULL",
            params![at, json_text(error)?],
        )
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use stowage_types::job::{Job, JobStatus};

    use crate::Store;

    fn open() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(&dir.path().join("catalog.sqlite")).unwrap();
        (dir, store)
    }

    /// Stores a waiting job on `table` and returns its id.
    async fn submit(store: &Store, table: Option<&str>) -> i64 {
        let table = table.map(str::to_string);
        store
            .write(move |w| {
                let project = match w.project(1)? {
                    Some(project) => project,
                    None => w.insert_project("p", 1, 0)?,
                };
                let job = Job {
                    id: 0,
                    project_id: project.id,
                    status: JobStatus::Waiting,
                    operation_name: "tableImport".into(),
                    operation_params: json!({}),
                    table_id: table,
                    run_id: None,
                    created: 0,
                    start: None,
                    end: None,
                    results: json!(null),
                    metrics: json!({}),
                    error: None,
                    creator_token_id: 1,
                    creator_token_description: "t".into(),
                    component: None,
                };
                Ok(w.insert_job(&job, &json!({ "kind": "test" }), &json!({}))?.id)
            })
            .await
            .unwrap()
    }

    async fn claim(store: &Store, owner: &'static str, now: i64) -> Option<i64> {
        store.write(move |w| w.claim_job(owner, now, now + 30, false)).await.unwrap().map(|claimed| claimed.job.id)
    }

    #[tokio::test]
    async fn at_start_the_leases_of_a_dead_process_end_and_jobs_without_work_fail() {
        let (_dir, store) = open();
        let id = submit(&store, None).await;
        assert_eq!(claim(&store, "dead", 100).await, Some(id));
        let legacy = submit(&store, None).await;
        store
            .write(move |w| {
                w.conn().execute("UPDATE jobs SET work = NULL WHERE id = ?1", crate::sql::params![legacy])?;
                Ok(())
            })
            .await
            .unwrap();
        let error = json!({ "code": "storage.jobs.interrupted" });
        let (failed, expired) =
            store.write(move |w| Ok((w.fail_unrunnable_jobs(101, &error)?, w.expire_job_leases(None)?))).await.unwrap();
        assert_eq!((failed, expired), (1, 1));
        assert_eq!(claim(&store, "alive", 101).await, Some(id), "taken over at once");
        let job = store.read(move |r| r.job(1, legacy)).await.unwrap().unwrap();
        assert_eq!(job.status, JobStatus::Error);
    }
}
