//! Component jobs, shaped like Keboola's Queue API: run a configuration (its enabled rows in
//! `rowsSortOrder`) or chosen rows, list, detail with the job's log events, terminate. A run is a
//! job of the one job queue ([`ComponentRun`]): a worker claims it under a lease, and a
//! request to terminate it is a flag in its row that the worker watches, so any process may ask.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use stowage_types::auth::{Granted, ReadComponent, Token, WriteComponent};
use stowage_types::event::{Event, EventFilter, NewEvent};
use stowage_types::job::JobStatus;
use stowage_types::time::{self, Timestamp};
use stowage_types::{Code, Error, Paging, Result};

use crate::components::{self, ConfigView};
use crate::engines;
use crate::jobs::{Claim, JobDone, Kind};
use crate::records::{QueueJobRecord, RowRecord};
use crate::Ctx;

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
        let runs: Vec<&str> = ctx.core.stack.components.iter().filter(|c| c.runnable).map(|c| c.id.as_str()).collect();
        return Err(Error::new(
            Code::ConfigurationValidation,
            format!(
                "This stack does not run component \"{component_id}\": it keeps its configurations only. It runs {}.",
                runs.join(", ")
            ),
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
    let kind = ComponentRun { component_id, config_id: config_id.to_string(), row_ids, origin: None };
    let job = ctx.core.jobs.enqueue(ctx, grant.token(), kind).await?;
    let (project_id, id) = (job.project_id, job.id);
    ctx.core.store.read(move |r| r.queue_job(project_id, id)).await?.ok_or_else(|| not_found(id))
}

/// A run of a component's configuration: the asked rows, or every enabled row when empty.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentRun {
    pub(crate) component_id: String,
    pub(crate) config_id: String,
    pub(crate) row_ids: Vec<String>,
    /// What started an automated run, shown in its parameters: (`triggerId`, id), ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) origin: Option<(String, i64)>,
}

impl Kind for ComponentRun {
    const TAG: &'static str = "componentRun";
    type Permission = WriteComponent;

    fn permission(&self) -> WriteComponent {
        WriteComponent(self.component_id.clone())
    }

    fn operation_params(&self) -> Value {
        let mut params = json!({ "rowIds": self.row_ids });
        if let Some((origin, id)) = &self.origin {
            params[origin.as_str()] = json!(id);
        }
        params
    }

    fn component(&self) -> Option<(String, String)> {
        Some((self.component_id.clone(), self.config_id.clone()))
    }

    /// A run's effect on the far side is not known after a stop, so a takeover does not run it
    /// again: it ends as an error that says so.
    fn before_takeover(&self) -> Result<()> {
        Err(Error::new(
            Code::ComponentUserError,
            "The job was interrupted because the server stopped while it ran; the target may hold part of its \
             work. Run it again.",
        ))
    }

    /// Runs the configuration as it is now, its rows one after another; the first error stops the
    /// job, and is written to its log.
    async fn run(self, ctx: &Ctx, grant: Granted<WriteComponent>, _claim: &Claim) -> Result<JobDone> {
        let token = grant.token();
        let ComponentRun { component_id, config_id, row_ids, .. } = &self;
        let outcome = async {
            let read = token.authorize(ReadComponent(component_id.clone()))?;
            let view = components::get(ctx, &read, config_id).await?;
            run_rows(ctx, token, component_id, config_id, row_ids, view).await
        }
        .await;
        if let Err(error) = &outcome {
            let _ = log(ctx, token, component_id, config_id, "error", error.message.clone()).await;
        }
        outcome.map(JobDone::from)
    }
}

/// Runs the rows of a job one after another; the first error stops the job.
async fn run_rows(
    ctx: &Ctx,
    token: &Arc<Token>,
    component_id: &str,
    config_id: &str,
    row_ids: &[String],
    view: ConfigView,
) -> Result<Value> {
    let started = time::now();
    let rows: Vec<RowRecord> = if row_ids.is_empty() {
        view.rows.iter().filter(|row| !row.is_disabled).cloned().collect()
    } else {
        row_ids
            .iter()
            .map(|id| {
                let found = view.rows.iter().find(|row| &row.id == id).cloned();
                found.ok_or_else(|| Error::new(Code::RowNotFound, format!("Row {id} not found")))
            })
            .collect::<Result<_>>()?
    };
    let scope = components::Scope::new(token.project_id, component_id, config_id);
    let mut done = Vec::new();
    if rows.is_empty() {
        log(ctx, token, component_id, config_id, "warn", "The configuration has no enabled rows to run.".into())
            .await?;
    }
    for row in rows {
        // Opened after the merge, so a secret is used only beside the `url` it was sealed with: a
        // row's own `url` does not receive the root's token.
        let merged = engines::merge(&view.config.configuration, &row.configuration);
        let config = components::unseal(&ctx.core, &scope, merged, components::Origin::Stored)?;
        let run = RowRun { ctx, token, component_id, config_id, config, state: row.state.clone(), started };
        let state = match component_id {
            "keboola.wr-storage" => engines::writer::run_row(&run).await?,
            "keboola.ex-storage" => engines::extractor::run_row(&run).await?,
            other => {
                return Err(Error::new(Code::ComponentUserError, format!("Component \"{other}\" cannot be run here.")))
            }
        };
        if !state.is_null() {
            let write = token.authorize(WriteComponent(component_id.to_string()))?;
            components::set_row_state(ctx, &write, config_id, &row.id, state).await?;
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

/// Asks a job to stop: a waiting one ends at once, a running one at its worker's next look.
pub async fn terminate(ctx: &Ctx, token: &Arc<Token>, id: i64) -> Result<QueueJobRecord> {
    let (job, _) = get(ctx, token, id).await?;
    token.authorize(WriteComponent(job.component_id.clone()))?;
    let project_id = token.project_id;
    let before = ctx.core.store.write(move |w| w.request_termination(project_id, id, time::now())).await?;
    if !matches!(before, Some(JobStatus::Waiting | JobStatus::Processing)) {
        return Err(Error::new(
            Code::ConfigurationValidation,
            format!("Job {id} is not running (it is {}).", job.status),
        ));
    }
    ctx.core.store.read(move |r| r.queue_job(project_id, id)).await?.ok_or_else(|| not_found(id))
}

/// A sync action of a built-in component, with `configData` as the UI sends it.
///
/// Sealed values open only for `config_id` (the configuration they were saved in) and beside the
/// `url` they were saved with: a client cannot aim another configuration's secret at an address of
/// its choosing. `origin` says whether `config_data` is that configuration as stored (the console's
/// check) or as a client sent it.
pub async fn action(
    ctx: &Ctx,
    grant: &Granted<WriteComponent>,
    action: &str,
    config_data: Value,
    (config_id, origin): (Option<&str>, components::Origin),
) -> Result<Value> {
    let component_id = grant.scope().0.clone();
    let scope = components::Scope::new(grant.project_id(), &component_id, config_id.unwrap_or_default());
    let config = components::unseal(&ctx.core, &scope, config_data, origin)?;
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
