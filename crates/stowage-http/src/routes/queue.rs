//! `/queue/...` (component jobs, shaped like Keboola's Queue API) and `/sync-actions/actions`.

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use stowage_core::records::QueueJobRecord;
use stowage_core::Core;
use stowage_core::{components, queue};
use stowage_types::auth::WriteComponent;
use stowage_types::time::format;
use stowage_types::Code;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::input::{lenient, Input, Page, Params};
use crate::openapi::Op;
use crate::routes::numeric_id;
use crate::views::{EventView, TokenRefView};
use crate::{views, AppState, Table};

pub(crate) fn register(t: Table) -> Table {
    t.add(Method::POST, "/queue/jobs", create_job, Op::created::<QueueJob>("Run a configuration"))
        .add(Method::GET, "/queue/jobs", list_jobs, Op::list::<QueueJob>("List component jobs"))
        .add(Method::GET, "/queue/jobs/{id}", get_job, Op::ok::<QueueJob>("Component job detail, with its events"))
        .add(Method::POST, "/queue/jobs/{id}/kill", kill_job, Op::accepted::<QueueJob>("Terminate a component job"))
        .add(
            Method::POST,
            "/sync-actions/actions",
            run_sync_action,
            Op::ok::<Value>("Run a component's synchronous action (answers what the action answers)"),
        )
}

/// The project a component job belongs to.
#[derive(Serialize, ToSchema)]
pub(crate) struct ProjectRef {
    /// The project's id, as a string.
    id: String,
}

/// A component job, in the shape of Keboola's Queue API.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct QueueJob {
    /// The job's id, as a string.
    id: String,
    run_id: String,
    parent_run_id: &'static str,
    project: ProjectRef,
    token: TokenRefView,
    /// `created`, `waiting`, `processing`, `success`, `error`, `terminating` or `terminated`.
    status: String,
    /// `processing` or `terminating`.
    desired_status: &'static str,
    /// Always `run`.
    mode: &'static str,
    component: String,
    config: String,
    config_row_ids: Vec<String>,
    /// Always `standard`.
    #[serde(rename = "type")]
    kind: &'static str,
    result: Value,
    created_time: String,
    start_time: Option<String>,
    end_time: Option<String>,
    duration_seconds: Option<i64>,
    is_finished: bool,
    url: String,
    /// Only in a job's detail: what the run logged.
    #[serde(skip_serializing_if = "Option::is_none")]
    events: Option<Vec<EventView>>,
}

fn job_view(core: &Core, job: &QueueJobRecord) -> QueueJob {
    let terminating = job.status == "terminating" || job.status == "terminated";
    QueueJob {
        id: job.id.to_string(),
        run_id: job.id.to_string(),
        parent_run_id: "",
        project: ProjectRef { id: job.project_id.to_string() },
        token: TokenRefView { id: job.token_id.to_string(), description: job.token_description.clone() },
        status: job.status.clone(),
        desired_status: if terminating { "terminating" } else { "processing" },
        mode: "run",
        component: job.component_id.clone(),
        config: job.config_id.clone(),
        config_row_ids: job.row_ids.clone(),
        kind: "standard",
        result: job.result.clone(),
        created_time: format(job.created),
        start_time: job.start.map(format),
        end_time: job.end.map(format),
        duration_seconds: job.start.zip(job.end).map(|(start, end)| end - start),
        is_finished: matches!(job.status.as_str(), "success" | "error" | "terminated"),
        url: format!("{}/queue/jobs/{}", core.stack.public_url, job.id),
        events: None,
    }
}

/// A run of a stored configuration.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JobInput {
    #[serde(default, deserialize_with = "lenient::text")]
    component: Option<String>,
    /// The configuration's id.
    #[serde(default, deserialize_with = "lenient::text")]
    config: Option<String>,
    /// Only `run`.
    #[serde(default, deserialize_with = "lenient::text")]
    mode: Option<String>,
    /// Run only these rows.
    #[serde(default, deserialize_with = "lenient::list")]
    config_row_ids: Option<Vec<String>>,
}

/// Which component jobs to list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct JobQuery {
    #[serde(default, deserialize_with = "lenient::text")]
    component: Option<String>,
    /// A configuration's id.
    #[serde(default, deserialize_with = "lenient::text")]
    config: Option<String>,
}

/// A component's synchronous action.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ActionInput {
    #[serde(default, deserialize_with = "lenient::text")]
    component_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    action: Option<String>,
    /// The configuration the action works with.
    #[serde(default, deserialize_with = "lenient::object")]
    config_data: Option<Value>,
    /// The saved configuration whose sealed `#` values `configData` carries: they open only for it,
    /// each beside the `url` it was saved with.
    #[serde(default, deserialize_with = "lenient::text")]
    config_id: Option<String>,
}

async fn create_job(
    State(state): State<AppState>,
    caller: Caller,
    Input(body): Input<JobInput>,
) -> ApiResult<Response> {
    let component = body
        .component
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::new(Code::Validation, "Parameter \"component\" is required."))?;
    let config = body.config.filter(|c| !c.is_empty()).ok_or_else(|| {
        ApiError::new(Code::Validation, "Parameter \"config\" is required: this stack runs stored configurations.")
    })?;
    if let Some(mode) = body.mode.filter(|m| m != "run") {
        return Err(ApiError::new(Code::Validation, format!("Parameter \"mode\" must be \"run\", \"{mode}\" given.")));
    }
    let rows = body.config_row_ids.unwrap_or_default().into_iter().filter(|r| !r.is_empty()).collect();
    let grant = caller.token.authorize(WriteComponent(component))?;
    let job = queue::run(&caller.ctx, &grant, &config, rows).await?;
    Ok((StatusCode::CREATED, Json(job_view(&state.core, &job))).into_response())
}

async fn list_jobs(
    State(state): State<AppState>,
    caller: Caller,
    Params(query): Params<JobQuery>,
    Params(page): Params<Page>,
) -> ApiResult<Json<Vec<QueueJob>>> {
    let component = query.component.filter(|c| !c.is_empty());
    let config = query.config.filter(|c| !c.is_empty());
    let jobs = queue::list(&caller.ctx, &caller.token, component, config, page.paging()).await?;
    Ok(Json(jobs.iter().map(|job| job_view(&state.core, job)).collect()))
}

async fn get_job(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<QueueJob>> {
    let (job, events) = queue::get(&caller.ctx, &caller.token, numeric_id(&id)?).await?;
    let events = events.iter().map(|event| views::event(&state.core, event)).collect();
    Ok(Json(QueueJob { events: Some(events), ..job_view(&state.core, &job) }))
}

async fn kill_job(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let job = queue::terminate(&caller.ctx, &caller.token, numeric_id(&id)?).await?;
    Ok((StatusCode::ACCEPTED, Json(job_view(&state.core, &job))).into_response())
}

async fn run_sync_action(caller: Caller, Input(body): Input<ActionInput>) -> ApiResult<Json<Value>> {
    let component = body
        .component_id
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::new(Code::Validation, "Parameter \"componentId\" is required."))?;
    let action = body
        .action
        .filter(|a| !a.is_empty())
        .ok_or_else(|| ApiError::new(Code::Validation, "Parameter \"action\" is required."))?;
    let config_data = body.config_data.unwrap_or_else(|| json!({}));
    let grant = caller.token.authorize(WriteComponent(component))?;
    let sealed_for = (body.config_id.as_deref().filter(|id| !id.is_empty()), components::Origin::Client);
    Ok(Json(queue::action(&caller.ctx, &grant, &action, config_data, sealed_for).await?))
}
