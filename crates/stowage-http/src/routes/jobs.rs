//! `jobs/...`: storage jobs.

use axum::extract::{Path, State};
use axum::http::Method;
use axum::Json;
use serde_json::Value;
use stowage_core::jobs;
use stowage_types::auth::AnyToken;

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::input::Query;
use crate::routes::numeric_id;
use crate::{views, AppState, Table};

pub(crate) fn register(t: Table) -> Table {
    t.add(Method::GET, "/v2/storage/jobs", list_jobs).add(Method::GET, "/v2/storage/jobs/{id}", get_job)
}

async fn list_jobs(State(state): State<AppState>, caller: Caller, Query(query): Query) -> ApiResult<Json<Value>> {
    let grant = caller.token.authorize(AnyToken)?;
    let jobs = jobs::list(&caller.ctx, &grant, query.paging()?).await?;
    Ok(Json(Value::Array(jobs.iter().map(|job| views::job(&state.core, job)).collect())))
}

async fn get_job(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = numeric_id(&id)?;
    let grant = caller.token.authorize(AnyToken)?;
    let job = jobs::get(&caller.ctx, &grant, id).await?;
    Ok(Json(views::job(&state.core, &job)))
}
