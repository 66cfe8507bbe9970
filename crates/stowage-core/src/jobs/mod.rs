//! Jobs: a durable queue of asynchronous work (storage jobs and component runs), run by workers
//! that hold leases.
//!
//! Each kind of job is a type of its own ([`Kind`], all listed in `crate::kinds`); this runner names none.
//! `submit` stores the job as `waiting` with its work (the kind's parameters, as JSON),
//! wakes the worker, and waits a short while before answering, so a small job is already finished
//! when the client first polls (kbcstorage polls at once, then sleeps 4 s, 8 s, ...).
//!
//! The worker loop claims the oldest runnable job in one statement (`Writer::claim_job`): waiting,
//! or running under a lease that expired, and not behind an older unfinished job of the same table,
//! which keeps imports into a table in order. It renews the lease while the job runs; a worker that
//! loses its lease stops, and cannot record an outcome. A job's last catalog transaction records
//! its outcome ([`Claim::succeed`]) with its change and event, so the two cannot disagree; work that
//! lands in a table's own file first records its job there (`TableData::last_job`), and a worker
//! that takes the job over finishes it from that marker instead of loading the rows again.

mod kind;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use stowage_store::{ClaimedJob, Writer};
use stowage_types::auth::{AnyToken, Granted, Permission, SeeJob, Token};
use stowage_types::job::{Job, JobStatus};
use stowage_types::{time, Code, Error, Paging, Result};
use tokio::sync::{broadcast, Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use kind::Kind;
pub(crate) use kind::{run_as, stored};

/// Runs stored work of whatever kind its tag names (`crate::kinds::run_stored`).
pub(crate) type Dispatch =
    for<'a> fn(&'a Ctx, &'a Arc<Token>, Value, &'a Claim, i64) -> futures::future::BoxFuture<'a, Result<JobDone>>;

use crate::{Core, Ctx, Store};

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

/// The lease a worker holds on a job while it runs it.
#[derive(Debug, Clone)]
pub struct Claim {
    pub id: i64,
    owner: Arc<str>,
}

impl Claim {
    /// Ends the job as succeeded inside the caller's transaction, so the job's change, its event
    /// and its outcome commit together. Fails, rolling the transaction back, when the worker lost
    /// its lease (another worker took the job over).
    pub fn succeed(&self, w: &Writer<'_>, done: &JobDone) -> Result<()> {
        let (results, metrics) = (&done.results, done.metrics.as_ref());
        if w.finish_claimed_job(self.id, &self.owner, time::now(), JobStatus::Success, results, metrics, None)? {
            Ok(())
        } else {
            Err(lease_lost(self.id))
        }
    }
}

fn lease_lost(id: i64) -> Error {
    Error::internal(format!("job {id}: this worker lost its lease; the worker that took the job over finishes it"))
}

/// How long `submit` waits for a job before answering with it unfinished.
const ANSWER_WAIT: Duration = Duration::from_secs(5);
/// Storage jobs, and component runs, one process runs at once. The two have slots of their own:
/// a component run may wait for storage jobs (a writer's import into this same stack).
const SLOTS: usize = 4;
/// How long a claim holds without renewal, and how often a running job renews it.
const LEASE_SECS: i64 = 30;
const RENEW_EVERY: Duration = Duration::from_secs(10);
/// How often a running job looks whether someone asked it to stop.
const TERMINATION_CHECK: Duration = Duration::from_secs(1);
/// How often an idle worker looks for jobs it was not woken for (expired leases, other processes).
const POLL: Duration = Duration::from_secs(1);

/// Stores jobs (storage jobs and component runs) and runs them. Cheap to clone.
#[derive(Clone)]
pub struct JobRunner {
    store: Store,
    /// This process's worker name, stored as the lease owner of the jobs it runs.
    owner: Arc<str>,
    wake: Arc<Notify>,
    finished: broadcast::Sender<i64>,
    /// Cancelled when the process stops: its workers claim nothing more.
    draining: CancellationToken,
    /// Cancelled when a stop's grace period is over: the jobs still running stop and are handed back.
    handing_back: CancellationToken,
    /// The jobs this process runs.
    running: TaskTracker,
    /// Runs a claimed job's work.
    dispatch: Dispatch,
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
    /// The job runner of the server `server` (stable across its restarts, see [`JobRunner::recover`]).
    pub(crate) fn new(store: Store, server: &str, dispatch: Dispatch) -> Self {
        let owner = format!("{server}/{}-{}", std::process::id(), uuid::Uuid::now_v7().simple());
        JobRunner {
            store,
            owner: owner.into(),
            wake: Arc::default(),
            finished: broadcast::channel(1024).0,
            draining: CancellationToken::new(),
            handing_back: CancellationToken::new(),
            running: TaskTracker::new(),
            dispatch,
        }
    }

    /// Stops this process's workers: they claim nothing more, the jobs they run get `grace` to
    /// finish, and those still running then stop without an outcome and are handed back (their
    /// leases end now), so another server takes them over at once, or this server at its next
    /// start. Storage jobs are then finished exactly once, as after a crash. Returns how many
    /// jobs were handed back.
    pub async fn stop(&self, grace: Duration) -> Result<usize> {
        self.draining.cancel();
        self.running.close();
        if tokio::time::timeout(grace, self.running.wait()).await.is_ok() {
            return Ok(0);
        }
        let left = self.running.len();
        self.handing_back.cancel();
        // A job stops at its next await; one inside a blocking step finishes that step first.
        let _ = tokio::time::timeout(Duration::from_secs(5), self.running.wait()).await;
        let owner = self.owner.to_string();
        self.store.write(move |w| w.expire_job_leases(Some(&owner))).await?;
        Ok(left)
    }

    /// This process's name among the workers of the stack (the owner of its leases).
    pub fn worker_name(&self) -> &str {
        &self.owner
    }

    /// Stores a job of `kind` (its permission checked against `token`), wakes the worker, and
    /// returns the job as it stands after a short wait.
    pub async fn submit<K: Kind>(&self, ctx: &Ctx, token: &Arc<Token>, kind: K) -> Result<Job> {
        let mut finished = self.finished.subscribe();
        let job = self.enqueue(ctx, token, kind).await?;
        let (project_id, id) = (job.project_id, job.id);
        let _ = tokio::time::timeout(ANSWER_WAIT, async {
            // A lagging receiver may have missed the id: answer with the job as it stands.
            while let Ok(done) = finished.recv().await {
                if done == id {
                    break;
                }
            }
        })
        .await;
        let found = self.store.read(move |r| r.job(project_id, id)).await?;
        found.ok_or_else(|| Error::internal(format!("job {id} vanished")))
    }

    /// Stores a job of `kind`, wakes the worker, and returns the job as stored.
    pub async fn enqueue<K: Kind>(&self, ctx: &Ctx, token: &Arc<Token>, kind: K) -> Result<Job> {
        let token = token.clone();
        let job = ctx.write(move |w, ctx| submit(w, ctx, &token, &kind)).await?;
        self.wake_workers();
        Ok(job)
    }

    /// Tells the workers that a job was submitted (by [`submit`], once its transaction committed).
    pub fn wake_workers(&self) {
        self.wake.notify_waiters();
    }

    /// Prepares the queue at a server's start: jobs stored before jobs carried their work end as
    /// interrupted errors, and the leases of jobs a stopped process of this server ran end now, so
    /// the worker takes them over at once. (The server holds its data dir's lock, so that process
    /// is dead.) On a catalog of its own (SQLite) every lease is this server's; on a shared one,
    /// other servers' leases end only when they expire. Returns (failed, taken over).
    pub async fn recover(&self) -> Result<(usize, usize)> {
        let error = json!({
            "code": "storage.jobs.interrupted",
            "message": "The job was interrupted because the server stopped while it ran. Run it again.",
            "exceptionId": format!("job-{}", uuid::Uuid::now_v7().simple()),
        });
        let server = match self.owner.split_once('/') {
            Some((server, _)) if self.store.is_shared() => Some(format!("{server}/")),
            _ => None,
        };
        self.store
            .write(move |w| Ok((w.fail_unrunnable_jobs(time::now(), &error)?, w.expire_job_leases(server.as_deref())?)))
            .await
    }

    /// Starts the worker loops of this process, one for storage jobs and one for component runs:
    /// each claims jobs while it has free slots, and sleeps until a job is submitted or finished,
    /// or a second passes.
    pub fn start(core: &Core) {
        for components in [false, true] {
            let core = core.clone();
            tokio::spawn(async move {
                let runner = core.jobs.clone();
                let slots = Arc::new(Semaphore::new(SLOTS));
                loop {
                    let slot = tokio::select! {
                        biased;
                        () = runner.draining.cancelled() => return,
                        slot = slots.clone().acquire_owned() => match slot {
                            Ok(slot) => slot,
                            Err(_) => return,
                        },
                    };
                    let woken = runner.wake.notified();
                    let (owner, now) = (runner.owner.clone(), time::now());
                    let claimed = runner.store.write(move |w| w.claim_job(&owner, now, now + LEASE_SECS, components));
                    match claimed.await {
                        Ok(Some(claimed)) => {
                            let core = core.clone();
                            // Every log line of the job carries its id.
                            let span = tracing::info_span!("job", id = claimed.job.id);
                            let run = async move {
                                core.jobs.run_claimed(&core, claimed).await;
                                drop(slot);
                            };
                            runner.running.spawn(tracing::Instrument::instrument(run, span));
                            continue;
                        }
                        Ok(None) => {}
                        Err(error) => tracing::error!(%error, "could not claim a job"),
                    }
                    drop(slot);
                    tokio::select! {
                        () = runner.draining.cancelled() => return,
                        () = woken => {}
                        () = tokio::time::sleep(POLL) => {}
                    }
                }
            });
        }
    }

    /// Runs a claimed job under its lease and records the outcome, unless the lease was lost.
    async fn run_claimed(&self, core: &Core, claimed: ClaimedJob) {
        let id = claimed.job.id;
        let claim = Claim { id, owner: self.owner.clone() };
        let (operation, attempt) = (claimed.job.operation_name.as_str(), claimed.attempt);
        if attempt > 1 {
            tracing::warn!(operation, attempt, "taking over a job whose worker stopped");
        } else {
            tracing::debug!(operation, "job claimed");
        }
        let (started, component) = (std::time::Instant::now(), claimed.job.component.is_some());
        let (lost, stop) = (CancellationToken::new(), CancellationToken::new());
        let watcher = tokio::spawn(watch(self.store.clone(), claim.clone(), lost.clone(), stop.clone()));
        let outcome = tokio::select! {
            outcome = execute(core, self.dispatch, &claimed, &claim) => outcome,
            () = lost.cancelled() => Err(lease_lost(id)),
            () = stop.cancelled() => Err(Error::new(Code::ComponentUserError, "Job terminated")),
            () = self.handing_back.cancelled() => Err(lease_lost(id)),
        };
        watcher.abort();
        let (status, done, error) = match outcome {
            Ok(done) => (JobStatus::Success, done, None),
            Err(_) if lost.is_cancelled() => {
                tracing::warn!(job_id = id, "stopped a job whose lease was lost");
                return;
            }
            Err(_) if self.handing_back.is_cancelled() => {
                tracing::warn!(job_id = id, "handed a job back as the server stops");
                return;
            }
            Err(_) if stop.is_cancelled() => {
                (JobStatus::Terminated, JobDone::from(json!({ "message": "Job terminated" })), None)
            }
            Err(error) => {
                if error.code == Code::Internal {
                    tracing::error!(job_id = id, %error, "job failed");
                }
                (JobStatus::Error, JobDone::from(Value::Null), Some(error_value(&error)))
            }
        };
        core.metrics.job(component, status.as_str(), started.elapsed());
        // Work that succeeded has usually recorded its outcome with its change already; then
        // this finds the job finished and changes nothing.
        let owner = self.owner.clone();
        let finished = self
            .store
            .write(move |w| {
                let (results, metrics) = (&done.results, done.metrics.as_ref());
                w.finish_claimed_job(id, &owner, time::now(), status, results, metrics, error.as_ref())
            })
            .await;
        match finished {
            Ok(_) => tracing::debug!(status = status.as_str(), "job ended"),
            Err(error) => tracing::error!(%error, "could not record a job's outcome"),
        }
        let _ = self.finished.send(id);
        self.wake.notify_waiters();
    }
}

/// Watches a running job: renews its claim every [`RENEW_EVERY`] (cancelling `lost` when the lease
/// is gone), and cancels `stop` when someone asked the job to stop. Runs until aborted.
async fn watch(store: Store, claim: Claim, lost: CancellationToken, stop: CancellationToken) {
    let mut renewed = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(TERMINATION_CHECK).await;
        let id = claim.id;
        match store.lookup(move |r| r.termination_requested(id)).await {
            Ok(true) => stop.cancel(),
            Ok(false) => {}
            Err(error) => tracing::warn!(job_id = claim.id, %error, "could not read a job's termination flag"),
        }
        if renewed.elapsed() < RENEW_EVERY {
            continue;
        }
        let (id, owner) = (claim.id, claim.owner.clone());
        match store.write(move |w| w.renew_job_lease(id, &owner, time::now() + LEASE_SECS)).await {
            Ok(true) => renewed = tokio::time::Instant::now(),
            Ok(false) => {
                lost.cancel();
                return;
            }
            // The lease still holds for a while; the next renewal tries again.
            Err(error) => tracing::warn!(job_id = claim.id, %error, "could not renew a job's lease"),
        }
    }
}

/// Runs a job's work as the token that submitted it, checked again now.
async fn execute(core: &Core, dispatch: Dispatch, claimed: &ClaimedJob, claim: &Claim) -> Result<JobDone> {
    let job = &claimed.job;
    let token_id = job.creator_token_id;
    let found = core.store.read(move |r| r.token_with_hash(token_id)).await?;
    let token = match found {
        Some((token, _)) if token.project_id == job.project_id && !token.is_expired(time::now()) => Arc::new(token),
        _ => {
            return Err(Error::new(
                Code::TokenInvalid,
                format!("The token that started job {} was deleted or has expired, so the job cannot run.", job.id),
            ))
        }
    };
    let text = |key: &str| claimed.context[key].as_str().map(str::to_string);
    // A component run's log events carry its own id as their run id.
    let run_id = if job.component.is_some() { Some(job.id.to_string()) } else { job.run_id.clone() };
    let ctx = Ctx { core: core.clone(), run_id, remote_addr: text("remoteAddr"), user_agent: text("userAgent") };
    dispatch(&ctx, &token, claimed.work.clone(), claim, claimed.attempt).await
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

/// Can this token see this job ([`SeeJob`]).
fn visible(token: &Token, job: &Job) -> bool {
    SeeJob { creator_token_id: job.creator_token_id }.allows(token)
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

/// Stores a new waiting job of `kind` inside the caller's transaction, once `token` passes the
/// kind's permission; the caller wakes the workers ([`JobRunner::wake_workers`]) after the commit.
pub fn submit<K: Kind>(w: &Writer<'_>, ctx: &Ctx, token: &Token, kind: &K) -> Result<Job> {
    if !kind.permission().allows(token) {
        return Err(Error::access_denied());
    }
    let job = Job {
        id: 0,
        project_id: token.project_id,
        status: JobStatus::Waiting,
        operation_name: kind.operation_name().to_string(),
        operation_params: kind.operation_params(),
        table_id: kind.table_id(),
        run_id: ctx.run_id.clone(),
        created: time::now(),
        start: None,
        end: None,
        results: Value::Null,
        metrics: metrics(None, None),
        error: None,
        creator_token_id: token.id,
        creator_token_description: token.description.clone(),
        component: kind.component(),
    };
    let work = stored(kind)?;
    let context = json!({ "remoteAddr": ctx.remote_addr, "userAgent": ctx.user_agent });
    w.insert_job(&job, &work, &context)
}
