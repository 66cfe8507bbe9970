//! `/scheduler/schedules`, in the shape of Keboola's Scheduler API: activate the schedule of a
//! `keboola.scheduler` configuration, list, detail, delete.

use axum::extract::Path;
use axum::http::{Method, StatusCode};
use axum::Json;
use serde::Deserialize;
use stowage_core::schedules;
use stowage_types::auth::AnyToken;
use stowage_types::Code;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::input::{lenient, Input};
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

/// The schedule configuration to activate.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ActivateInput {
    /// The id of a `keboola.scheduler` configuration.
    #[serde(default, deserialize_with = "lenient::text")]
    configuration_id: Option<String>,
    /// The token its runs use (the caller's when absent).
    #[serde(default, deserialize_with = "lenient::int")]
    run_with_token_id: Option<i64>,
}

async fn activate_schedule(
    caller: Caller,
    Input(body): Input<ActivateInput>,
) -> ApiResult<(StatusCode, Json<ScheduleView>)> {
    let configuration_id = body.configuration_id.filter(|id| !id.is_empty()).ok_or_else(|| {
        ApiError::new(
            Code::ScheduleValidation,
            "Parameter \"configurationId\" is required: the id of a keboola.scheduler configuration.",
        )
    })?;
    let run_with = body.run_with_token_id;
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
