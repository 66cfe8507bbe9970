//! Storage jobs: durable records of asynchronous work, run by tasks inside the server.
//!
//! `submit` stores the job as `waiting`, runs its work on a task, and waits a short while before
//! answering, so a small job is already finished when the client first polls (kbcstorage polls at
//! once, then sleeps 4 s, 8 s, ...). A job that a dying process left unfinished is ended as
//! `error` by [`JobRunner::recover`] at the next start.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use stowage_types::auth::{AnyToken, Granted, Token};
use stowage_types::job::{Job, JobStatus};
use stowage_types::{time, Code, Error, Paging, Result};

use crate::{Ctx, Store};

/// What a finished job reports: its results and, for jobs that move data, byte metrics.
pub struct JobDone {
    pub results: Value,
    /// `{inCompressed, inBytes, inBytesUncompressed, outCompressed, outBytes, outBytesUncompressed}`.
    pub metrics: Option<Value>,
}

impl From<Value> for JobDone {
    fn from(results: Value) -> Self {
        JobDone { results, metrics: None }
    }
}

/// Byte metrics of a job that read and/or wrote data.
pub fn metrics(input: Option<(bool, u64, u64)>, output: Option<(bool, u64, u64)>) -> Value {
    let (in_compressed, in_bytes, in_uncompressed) = input.unwrap_or((false, 0, 0));
    let (out_compressed, out_bytes, out_uncompressed) = output.unwrap_or((false, 0, 0));
    json!({
        "inCompressed": in_compressed, "inBytes": in_bytes, "inBytesUncompressed": in_uncompressed,
        "outCompressed": out_compressed, "outBytes": out_bytes, "outBytesUncompressed": out_uncompressed,
    })
}

/// How long `submit` waits for a job before answering with it unfinished.
const ANSWER_WAIT: Duration = Duration::from_secs(5);

/// Starts and tracks storage jobs.
#[derive(Clone)]
pub struct JobRunner {
    store: Store,
}

/// The error body stored on a failed job.
fn error_value(error: &Error) -> Value {
    json!({
        "code": error.code.wire(),
        "message": error.message,
        "exceptionId": format!("job-{}", uuid::Uuid::now_v7().simple()),
    })
}

impl JobRunner {
    pub(crate) fn new(store: Store) -> Self {
        JobRunner { store }
    }

    /// Stores a job, runs `work` for it (given the job's id, which table commits record), and
    /// returns the job as it stands after a short wait.
    pub async fn submit<W, F, R>(
        &self,
        ctx: &Ctx,
        token: &Arc<Token>,
        operation_name: &str,
        operation_params: Value,
        table_id: Option<String>,
        work: W,
    ) -> Result<Job>
    where
        W: FnOnce(i64) -> F + Send + 'static,
        F: Future<Output = Result<R>> + Send + 'static,
        R: Into<JobDone> + Send + 'static,
    {
        let job = Job {
            id: 0,
            project_id: token.project_id,
            status: JobStatus::Waiting,
            operation_name: operation_name.to_string(),
            operation_params,
            table_id,
            run_id: ctx.run_id.clone(),
            created: time::now(),
            start: None,
            end: None,
            results: Value::Null,
            metrics: metrics(None, None),
            error: None,
            creator_token_id: token.id,
            creator_token_description: token.description.clone(),
        };
        let job = self.store.write(move |w| w.insert_job(&job)).await?;
        let (id, project_id) = (job.id, job.project_id);
        let store = self.store.clone();
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            if let Err(error) = store.write(move |w| w.start_job(id, time::now())).await {
                tracing::error!(job_id = id, %error, "could not start job");
            }
            let outcome = work(id).await;
            let (done, error) = match outcome {
                Ok(done) => (done.into(), None),
                Err(error) => {
                    if error.code == Code::Internal {
                        tracing::error!(job_id = id, %error, "job failed");
                    }
                    (JobDone::from(Value::Null), Some(error_value(&error)))
                }
            };
            let finished = store
                .write(move |w| {
                    if let Some(metrics) = &done.metrics {
                        w.set_job_metrics(id, metrics)?;
                    }
                    w.finish_job(id, time::now(), &done.results, error.as_ref())
                })
                .await;
            if let Err(error) = finished {
                tracing::error!(job_id = id, %error, "could not record job result");
            }
            let _ = done_tx.send(());
        });
        let _ = tokio::time::timeout(ANSWER_WAIT, done_rx).await;
        self.store
            .read(move |r| r.job(project_id, id))
            .await?
            .ok_or_else(|| Error::internal(format!("job {id} vanished")))
    }

    /// Ends jobs left unfinished by a previous process as errors. Returns how many.
    pub async fn recover(&self) -> Result<usize> {
        let error = json!({
            "code": "storage.jobs.interrupted",
            "message": "The job was interrupted because the server stopped while it ran. Run it again.",
            "exceptionId": format!("job-{}", uuid::Uuid::now_v7().simple()),
        });
        self.store.write(move |w| w.fail_unfinished_jobs(time::now(), &error)).await
    }
}

/// Waits until a job has ended and returns it.
pub async fn wait(core: &crate::Core, job: Job) -> Result<Job> {
    let mut job = job;
    let mut delay = Duration::from_millis(20);
    while !job.status.is_finished() {
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(1));
        let (project_id, id) = (job.project_id, job.id);
        job = core
            .store
            .read(move |r| r.job(project_id, id))
            .await?
            .ok_or_else(|| Error::internal(format!("job {id} vanished")))?;
    }
    Ok(job)
}

/// Can this token see this job: its own jobs, or any job for master tokens.
fn visible(token: &Token, job: &Job) -> bool {
    token.is_master() || job.creator_token_id == token.id
}

/// One job.
pub async fn get(ctx: &Ctx, grant: &Granted<AnyToken>, id: i64) -> Result<Job> {
    let project_id = grant.project_id();
    let job = ctx.core.store.read(move |r| r.job(project_id, id)).await?;
    job.filter(|job| visible(grant.token(), job))
        .ok_or_else(|| Error::new(Code::JobNotFound, format!("Job {id} not found")))
}

/// Jobs the token can see, newest first.
pub async fn list(ctx: &Ctx, grant: &Granted<AnyToken>, paging: Paging) -> Result<Vec<Job>> {
    let (limit, offset) = paging.bounds(100, 1000)?;
    let project_id = grant.project_id();
    let jobs = ctx.core.store.read(move |r| r.jobs(project_id, limit, offset)).await?;
    Ok(jobs.into_iter().filter(|job| visible(grant.token(), job)).collect())
}

#[cfg(test)]
mod tests {
    use stowage_types::job::JobStatus;

    use super::*;

    #[tokio::test]
    async fn a_job_left_running_by_a_dead_process_ends_as_an_error_at_the_next_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.sqlite");
        let store = Store::open_sqlite(&path).unwrap();
        let job = store
            .write(|w| {
                let project = w.insert_project("p", 0)?;
                let job = Job {
                    id: 0,
                    project_id: project.id,
                    status: JobStatus::Waiting,
                    operation_name: "bucketDelete".into(),
                    operation_params: json!({}),
                    table_id: None,
                    run_id: None,
                    created: 0,
                    start: None,
                    end: None,
                    results: Value::Null,
                    metrics: json!({}),
                    error: None,
                    creator_token_id: 1,
                    creator_token_description: "t".into(),
                };
                let job = w.insert_job(&job)?;
                w.start_job(job.id, 1)?;
                Ok(job)
            })
            .await
            .unwrap();
        drop(store);

        let reopened = Store::open_sqlite(&path).unwrap();
        let runner = JobRunner::new(reopened.clone());
        assert_eq!(runner.recover().await.unwrap(), 1);
        let after = reopened.read(move |r| r.job(job.project_id, job.id)).await.unwrap().unwrap();
        assert_eq!(after.status, JobStatus::Error);
        let error = after.error.unwrap();
        assert_eq!(error["code"], "storage.jobs.interrupted");
        assert!(error["message"].as_str().unwrap().contains("interrupted"));
        assert!(after.end.is_some());
        assert_eq!(runner.recover().await.unwrap(), 0, "finished jobs are left alone");
    }
}
