//! Component jobs, shaped like Keboola's Queue API: run a configuration (its enabled rows in
//! `rowsSortOrder`) or chosen rows, list, detail with the job's log events, terminate. Jobs are
//! durable records run by tasks in the server; a job cut off by a stop ends as `error` at the
//! next start ([`QueueRunner::recover`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use stowage_types::auth::{Granted, ReadComponent, Token, WriteComponent};
use stowage_types::event::{Event, EventFilter, NewEvent};
use stowage_types::time::{self, Timestamp};
use stowage_types::{Code, Error, Paging, Result};
use tokio_util::sync::CancellationToken;

use crate::components::{self, ConfigView};
use crate::engines;
use crate::records::{QueueJobRecord, RowRecord};
use crate::{Core, Ctx};

/// Running jobs, so they can be terminated.
#[derive(Clone, Default)]
pub struct QueueRunner {
    running: Arc<Mutex<HashMap<i64, CancellationToken>>>,
}

impl QueueRunner {
    /// Ends jobs left unfinished by a previous process as errors. Returns how many.
    pub async fn recover(core: &Core) -> Result<usize> {
        let result =
            json!({ "message": "The job was interrupted because the server stopped while it ran. Run it again." });
        core.store.write(move |w| w.fail_unfinished_queue_jobs(time::now(), &result)).await
    }

    fn register(&self, id: i64) -> CancellationToken {
        let token = CancellationToken::new();
        self.running.lock().unwrap_or_else(|p| p.into_inner()).insert(id, token.clone());
        token
    }

    fn forget(&self, id: i64) {
        self.running.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
    }

    fn cancel(&self, id: i64) -> bool {
        match self.running.lock().unwrap_or_else(|p| p.into_inner()).get(&id) {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }
}

/// One row being run: its merged, unsealed configuration and a way to log.
pub struct RowRun<'a> {
    pub ctx: &'a Ctx,
    pub token: &'a Arc<Token>,
    pub component_id: &'a str,
    pub config_id: &'a str,
    /// Root merged with the row, `#` values opened.
    pub config: Value,
    /// The row's state (for the writer's adaptive `changed_since`).
    pub state: Value,
    /// When the job started.
    pub started: Timestamp,
}

impl RowRun<'_> {
    /// Writes a line to the job's log (an event with the job's run id). Never log a secret.
    pub async fn log(&self, message: String) -> Result<()> {
        log(self.ctx, self.token, self.component_id, self.config_id, "info", message).await
    }
}

async fn log(ctx: &Ctx, token: &Token, component_id: &str, config_id: &str, kind: &str, message: String) -> Result<()> {
    let event = NewEvent {
        project_id: token.project_id,
        event: format!("ext.{component_id}.{config_id}"),
        component: component_id.to_string(),
        message,
        kind: kind.to_string(),
        run_id: ctx.run_id.clone(),
        configuration_id: Some(config_id.to_string()),
        params: json!({}),
        results: json!({}),
        performance: json!({}),
        context: json!({}),
        token_id: Some(token.id),
        token_name: Some(token.description.clone()),
        ..NewEvent::default()
    };
    ctx.core
        .store
        .write(move |w| {
            let mut event = event;
            event.branch_id = w.default_branch(event.project_id)?.id;
            w.insert_event(&event, &uuid::Uuid::now_v7().to_string(), time::now()).map(|_| ())
        })
        .await
}

fn not_found(id: i64) -> Error {
    Error::new(Code::QueueJobNotFound, format!("Job \"{id}\" not found"))
}

/// Starts a job for a configuration, or for chosen rows of it.
pub async fn run(
    ctx: &Ctx,
    grant: &Granted<WriteComponent>,
    config_id: &str,
    row_ids: Vec<String>,
) -> Result<QueueJobRecord> {
    let component_id = grant.scope().0.clone();
    if !components::component(&ctx.core, &component_id)?.runnable {
        return Err(Error::new(
            Code::ConfigurationValidation,
            format!("Component \"{component_id}\" is registered on this stack, but this stack does not run it."),
        ));
    }
    let read = grant.token().authorize(ReadComponent(component_id.clone()))?;
    let view = components::get(ctx, &read, config_id).await?;
    for row_id in &row_ids {
        if !view.rows.iter().any(|row| &row.id == row_id) {
            return Err(Error::new(Code::RowNotFound, format!("Row {row_id} not found")));
        }
    }
    if row_ids.is_empty() && view.config.is_disabled {
        return Err(Error::new(Code::ConfigurationValidation, format!("Configuration {config_id} is disabled.")));
    }
    let token = grant.token().clone();
    let record = QueueJobRecord {
        project_id: token.project_id,
        component_id: component_id.clone(),
        config_id: config_id.to_string(),
        row_ids,
        status: "created".into(),
        token_id: token.id,
        token_description: token.description.clone(),
        created: time::now(),
        ..QueueJobRecord::default()
    };
    let id = ctx
        .core
        .store
        .write({
            let record = record.clone();
            move |w| w.insert_queue_job(&record)
        })
        .await?;
    let record = QueueJobRecord { id, ..record };
    let cancel = ctx.core.queue.register(id);
    let job_ctx = Ctx { run_id: Some(id.to_string()), ..ctx.clone() };
    let job = record.clone();
    tokio::spawn(async move {
        let outcome = tokio::select! {
            outcome = execute(&job_ctx, &token, &job, view) => outcome,
            () = cancel.cancelled() => Err(Error::new(Code::ComponentUserError, "Job terminated")),
        };
        let (status, result) = match outcome {
            Ok(result) => ("success", result),
            Err(error) if cancel.is_cancelled() => ("terminated", json!({ "message": error.message })),
            Err(error) => {
                if error.code == Code::Internal {
                    tracing::error!(job_id = id, %error, "component job failed");
                }
                let _ = log(&job_ctx, &token, &job.component_id, &job.config_id, "error", error.message.clone()).await;
                ("error", json!({ "message": error.message }))
            }
        };
        let finished = job_ctx
            .core
            .store
            .write(move |w| w.set_queue_job_status(id, status, None, Some(time::now()), Some(&result)))
            .await;
        if let Err(error) = finished {
            tracing::error!(job_id = id, %error, "could not record the end of a component job");
        }
        job_ctx.core.queue.forget(id);
    });
    Ok(record)
}

/// Runs the rows of a job one after another; the first error stops the job.
async fn execute(ctx: &Ctx, token: &Arc<Token>, job: &QueueJobRecord, view: ConfigView) -> Result<Value> {
    let started = time::now();
    let id = job.id;
    ctx.core.store.write(move |w| w.set_queue_job_status(id, "processing", Some(started), None, None)).await?;
    let rows: Vec<RowRecord> = if job.row_ids.is_empty() {
        view.rows.iter().filter(|row| !row.is_disabled).cloned().collect()
    } else {
        job.row_ids.iter().filter_map(|id| view.rows.iter().find(|row| &row.id == id).cloned()).collect()
    };
    let root = components::unseal(&ctx.core, token.project_id, &job.component_id, view.config.configuration.clone())?;
    let mut done = Vec::new();
    if rows.is_empty() {
        log(
            ctx,
            token,
            &job.component_id,
            &job.config_id,
            "warn",
            "The configuration has no enabled rows to run.".into(),
        )
        .await?;
    }
    for row in rows {
        let row_config = components::unseal(&ctx.core, token.project_id, &job.component_id, row.configuration.clone())?;
        let run = RowRun {
            ctx,
            token,
            component_id: &job.component_id,
            config_id: &job.config_id,
            config: engines::merge(&root, &row_config),
            state: row.state.clone(),
            started,
        };
        let state = match job.component_id.as_str() {
            "keboola.wr-storage" => engines::writer::run_row(&run).await?,
            "keboola.ex-storage" => engines::extractor::run_row(&run).await?,
            other => {
                return Err(Error::new(Code::ComponentUserError, format!("Component \"{other}\" cannot be run here.")))
            }
        };
        if !state.is_null() {
            let write = token.authorize(WriteComponent(job.component_id.clone()))?;
            components::set_row_state(ctx, &write, &job.config_id, &row.id, state).await?;
        }
        done.push(json!({ "id": row.id, "name": row.name }));
    }
    Ok(json!({ "message": "Job finished", "rows": done }))
}

/// One job with its log events.
pub async fn get(ctx: &Ctx, token: &Arc<Token>, id: i64) -> Result<(QueueJobRecord, Vec<Event>)> {
    let project_id = token.project_id;
    let job = ctx.core.store.read(move |r| r.queue_job(project_id, id)).await?.ok_or_else(|| not_found(id))?;
    token.authorize(ReadComponent(job.component_id.clone())).map_err(|_| not_found(id))?;
    let filter = EventFilter {
        project_id,
        run_id: Some(id.to_string()),
        limit: 1000,
        ascending: true,
        ..EventFilter::default()
    };
    let events = ctx.core.store.read(move |r| r.events(&filter)).await?;
    Ok((job, events))
}

/// Jobs of the components the token can read, newest first.
pub async fn list(
    ctx: &Ctx,
    token: &Arc<Token>,
    component: Option<String>,
    config: Option<String>,
    paging: Paging,
) -> Result<Vec<QueueJobRecord>> {
    let (limit, offset) = paging.bounds(100, 500)?;
    let project_id = token.project_id;
    let jobs = ctx
        .core
        .store
        .read(move |r| r.queue_jobs(project_id, component.as_deref(), config.as_deref(), limit, offset))
        .await?;
    Ok(jobs.into_iter().filter(|job| token.authorize(ReadComponent(job.component_id.clone())).is_ok()).collect())
}

/// Asks a running job to stop.
pub async fn terminate(ctx: &Ctx, token: &Arc<Token>, id: i64) -> Result<QueueJobRecord> {
    let (job, _) = get(ctx, token, id).await?;
    token.authorize(WriteComponent(job.component_id.clone()))?;
    if !matches!(job.status.as_str(), "created" | "processing") || !ctx.core.queue.cancel(id) {
        return Err(Error::new(
            Code::ConfigurationValidation,
            format!("Job {id} is not running (it is {}).", job.status),
        ));
    }
    ctx.core.store.write(move |w| w.set_queue_job_status(id, "terminating", None, None, None)).await?;
    let project_id = token.project_id;
    ctx.core.store.read(move |r| r.queue_job(project_id, id)).await?.ok_or_else(|| not_found(id))
}

/// A sync action of a built-in component, with `configData` as the UI sends it.
pub async fn action(ctx: &Ctx, grant: &Granted<WriteComponent>, action: &str, config_data: Value) -> Result<Value> {
    let component_id = grant.scope().0.clone();
    let config = components::unseal(&ctx.core, grant.project_id(), &component_id, config_data)?;
    let policy = &ctx.core.stack.outbound;
    match (component_id.as_str(), action) {
        ("keboola.wr-storage", "info") => engines::writer::info(&config, policy).await,
        ("keboola.ex-storage", "list") => engines::extractor::list(&config, policy).await,
        ("keboola.ex-storage", "info") => engines::extractor::info(&config, policy).await,
        ("keboola.ex-storage", "sourceInfo") => engines::extractor::source_info(&config, policy).await,
        _ => Err(Error::new(
            Code::ComponentUserError,
            format!("Unknown sync action \"{action}\" of component \"{component_id}\"."),
        )),
    }
}
