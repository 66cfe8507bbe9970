//! `/scheduler/schedules`, in the shape of Keboola's Scheduler API: activate the schedule of a
//! `keboola.scheduler` configuration, list, detail, delete.

use axum::extract::Path;
use axum::http::{Method, StatusCode};
use axum::Json;
use stowage_core::schedules;
use stowage_types::auth::AnyToken;
use stowage_types::Code;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::input::Body;
use crate::openapi::Op;
use crate::routes::numeric_id;
use crate::views::ScheduleView;
use crate::{views, Table};

pub(crate) fn register(t: Table) -> Table {
    t.add(Method::GET, "/scheduler/schedules", list_schedules, Op::list::<ScheduleView>("List schedules"))
        .add(
            Method::POST,
            "/scheduler/schedules",
            activate_schedule,
            Op::created::<ScheduleView>("Activate a schedule configuration"),
        )
        .add(Method::GET, "/scheduler/schedules/{id}", get_schedule, Op::ok::<ScheduleView>("Schedule detail"))
        .add(Method::DELETE, "/scheduler/schedules/{id}", delete_schedule, Op::empty("Delete a schedule"))
}

async fn list_schedules(caller: Caller) -> ApiResult<Json<Vec<ScheduleView>>> {
    let found = schedules::list(&caller.ctx, &caller.token.authorize(AnyToken)?).await?;
    Ok(Json(found.iter().map(views::schedule).collect()))
}

async fn activate_schedule(caller: Caller, Body(body): Body) -> ApiResult<(StatusCode, Json<ScheduleView>)> {
    let configuration_id = body.string("configurationId")?.filter(|id| !id.is_empty()).ok_or_else(|| {
        ApiError::new(
            Code::ScheduleValidation,
            "Parameter \"configurationId\" is required: the id of a keboola.scheduler configuration.",
        )
    })?;
    let run_with = body.int("runWithTokenId")?;
    let schedule =
        schedules::activate(&caller.ctx, &caller.token.authorize(AnyToken)?, &configuration_id, run_with).await?;
    Ok((StatusCode::CREATED, Json(views::schedule(&schedule))))
}

async fn get_schedule(caller: Caller, Path(id): Path<String>) -> ApiResult<Json<ScheduleView>> {
    let schedule = schedules::get(&caller.ctx, &caller.token.authorize(AnyToken)?, numeric_id(&id)?).await?;
    Ok(Json(views::schedule(&schedule)))
}

async fn delete_schedule(caller: Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    schedules::delete(&caller.ctx, &caller.token.authorize(AnyToken)?, numeric_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
