//! `jobs/...`: storage jobs.

use axum::extract::{Path, State};
use axum::http::Method;
use axum::Json;
use stowage_core::jobs;
use stowage_types::auth::AnyToken;

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::input::{Page, Params};
use crate::openapi::Op;
use crate::routes::numeric_id;
use crate::views::JobView;
use crate::{views, AppState, Table};

pub(crate) fn register(t: Table) -> Table {
    t.add(Method::GET, "/v2/storage/jobs", list_jobs, Op::list::<JobView>("List storage jobs")).add(
        Method::GET,
        "/v2/storage/jobs/{id}",
        get_job,
        Op::ok::<JobView>("Storage job detail"),
    )
}

async fn list_jobs(
    State(state): State<AppState>,
    caller: Caller,
    Params(page): Params<Page>,
) -> ApiResult<Json<Vec<JobView>>> {
    let grant = caller.token.authorize(AnyToken)?;
    let jobs = jobs::list(&caller.ctx, &grant, page.paging()).await?;
    Ok(Json(jobs.iter().map(|job| views::job(&state.core, job)).collect()))
}

async fn get_job(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<JobView>> {
    let id = numeric_id(&id)?;
    let grant = caller.token.authorize(AnyToken)?;
    let job = jobs::get(&caller.ctx, &grant, id).await?;
    Ok(Json(views::job(&state.core, &job)))
}
