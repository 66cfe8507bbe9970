//! `/queue/...` (component jobs, shaped like Keboola's Queue API) and `/sync-actions/actions`.

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use stowage_core::queue;
use stowage_core::records::QueueJobRecord;
use stowage_core::Core;
use stowage_types::auth::WriteComponent;
use stowage_types::time::format;
use stowage_types::Code;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::input::{Body, Query};
use crate::routes::numeric_id;
use crate::{views, AppState, Table};

pub(crate) fn register(t: Table) -> Table {
    t.add(Method::POST, "/queue/jobs", create_job)
        .add(Method::GET, "/queue/jobs", list_jobs)
        .add(Method::GET, "/queue/jobs/{id}", get_job)
        .add(Method::POST, "/queue/jobs/{id}/kill", kill_job)
        .add(Method::POST, "/sync-actions/actions", run_sync_action)
}

fn job_view(core: &Core, job: &QueueJobRecord) -> Value {
    let finished = matches!(job.status.as_str(), "success" | "error" | "terminated");
    json!({
        "id": job.id.to_string(),
        "runId": job.id.to_string(),
        "parentRunId": "",
        "project": { "id": job.project_id.to_string() },
        "token": { "id": job.token_id.to_string(), "description": job.token_description },
        "status": job.status,
        "desiredStatus": if job.status == "terminating" || job.status == "terminated" { "terminating" } else { "processing" },
        "mode": "run",
        "component": job.component_id,
        "config": job.config_id,
        "configRowIds": job.row_ids,
        "type": "standard",
        "result": job.result,
        "createdTime": format(job.created),
        "startTime": job.start.map(format),
        "endTime": job.end.map(format),
        "durationSeconds": match (job.start, job.end) { (Some(start), Some(end)) => json!(end - start), _ => Value::Null },
        "isFinished": finished,
        "url": format!("{}/queue/jobs/{}", core.stack.public_url, job.id),
    })
}

async fn create_job(State(state): State<AppState>, caller: Caller, Body(body): Body) -> ApiResult<Response> {
    let component = body
        .string("component")?
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::new(Code::Validation, "Parameter \"component\" is required."))?;
    let config = body.string("config")?.filter(|c| !c.is_empty()).ok_or_else(|| {
        ApiError::new(Code::Validation, "Parameter \"config\" is required: this stack runs stored configurations.")
    })?;
    if let Some(mode) = body.string("mode")?.filter(|m| m != "run") {
        return Err(ApiError::new(Code::Validation, format!("Parameter \"mode\" must be \"run\", \"{mode}\" given.")));
    }
    let rows = body.list("configRowIds")?.unwrap_or_default().into_iter().filter(|r| !r.is_empty()).collect();
    let grant = caller.token.authorize(WriteComponent(component))?;
    let job = queue::run(&caller.ctx, &grant, &config, rows).await?;
    Ok((StatusCode::CREATED, Json(job_view(&state.core, &job))).into_response())
}

async fn list_jobs(State(state): State<AppState>, caller: Caller, Query(query): Query) -> ApiResult<Json<Value>> {
    let component = query.string("component")?.filter(|c| !c.is_empty());
    let config = query.string("config")?.filter(|c| !c.is_empty());
    let jobs = queue::list(&caller.ctx, &caller.token, component, config, query.paging()?).await?;
    Ok(Json(Value::Array(jobs.iter().map(|job| job_view(&state.core, job)).collect())))
}

async fn get_job(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let (job, events) = queue::get(&caller.ctx, &caller.token, numeric_id(&id)?).await?;
    let mut view = job_view(&state.core, &job);
    view["events"] = Value::Array(events.iter().map(|event| views::event(&state.core, event)).collect());
    Ok(Json(view))
}

async fn kill_job(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let job = queue::terminate(&caller.ctx, &caller.token, numeric_id(&id)?).await?;
    Ok((StatusCode::ACCEPTED, Json(job_view(&state.core, &job))).into_response())
}

async fn run_sync_action(caller: Caller, Body(body): Body) -> ApiResult<Json<Value>> {
    let component = body
        .string("componentId")?
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::new(Code::Validation, "Parameter \"componentId\" is required."))?;
    let action = body
        .string("action")?
        .filter(|a| !a.is_empty())
        .ok_or_else(|| ApiError::new(Code::Validation, "Parameter \"action\" is required."))?;
    let config_data = body.object("configData")?.unwrap_or_else(|| json!({}));
    let grant = caller.token.authorize(WriteComponent(component))?;
    Ok(Json(queue::action(&caller.ctx, &grant, &action, config_data).await?))
}
