//! `triggers`: create, list, detail, update and delete, as `kbcstorage.triggers` calls them (a JSON
//! or form body; an update sends only the fields it changes, as strings).

use axum::extract::Path;
use axum::http::{Method, StatusCode};
use axum::Json;
use serde::Deserialize;
use stowage_core::triggers::{self, Changes};
use stowage_types::auth::AnyToken;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::input::{lenient, Input, Params};
use crate::openapi::Op;
use crate::routes::numeric_id;
use crate::views::TriggerView;
use crate::{views, Table};

pub(crate) fn register(t: Table) -> Table {
    t.add(Method::GET, "/v2/storage/triggers", list_triggers, Op::list::<TriggerView>("List triggers"))
        .add(Method::POST, "/v2/storage/triggers", create_trigger, Op::created::<TriggerView>("Create a trigger"))
        .add(Method::GET, "/v2/storage/triggers/{id}", get_trigger, Op::ok::<TriggerView>("Trigger detail"))
        .add(Method::PUT, "/v2/storage/triggers/{id}", update_trigger, Op::ok::<TriggerView>("Update a trigger"))
        .add(Method::DELETE, "/v2/storage/triggers/{id}", delete_trigger, Op::empty("Delete a trigger"))
}

/// A trigger's fields, to make it or change it.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TriggerInput {
    /// The token the runs use (its id).
    #[serde(default, deserialize_with = "lenient::int")]
    run_with_token_id: Option<i64>,
    #[serde(default, deserialize_with = "lenient::text")]
    component: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    configuration_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::int")]
    cool_down_period_minutes: Option<i64>,
    /// The tables whose change starts a run.
    #[serde(default, deserialize_with = "lenient::list")]
    table_ids: Option<Vec<String>>,
}

fn changes(body: TriggerInput) -> Changes {
    Changes {
        run_with_token_id: body.run_with_token_id,
        component: body.component,
        configuration_id: body.configuration_id,
        cool_down_minutes: body.cool_down_period_minutes,
        table_ids: body.table_ids,
    }
}

/// Which triggers to list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TriggerQuery {
    #[serde(default, deserialize_with = "lenient::text")]
    component: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    configuration_id: Option<String>,
}

async fn list_triggers(caller: Caller, Params(query): Params<TriggerQuery>) -> ApiResult<Json<Vec<TriggerView>>> {
    let (component, configuration_id) = (query.component, query.configuration_id);
    let found = triggers::list(&caller.ctx, &caller.token.authorize(AnyToken)?, component, configuration_id).await?;
    Ok(Json(found.iter().map(views::trigger).collect()))
}

async fn create_trigger(
    caller: Caller,
    Input(body): Input<TriggerInput>,
) -> ApiResult<(StatusCode, Json<TriggerView>)> {
    let trigger = triggers::create(&caller.ctx, &caller.token.authorize(AnyToken)?, changes(body)).await?;
    Ok((StatusCode::CREATED, Json(views::trigger(&trigger))))
}

async fn get_trigger(caller: Caller, Path(id): Path<String>) -> ApiResult<Json<TriggerView>> {
    let trigger = triggers::get(&caller.ctx, &caller.token.authorize(AnyToken)?, numeric_id(&id)?).await?;
    Ok(Json(views::trigger(&trigger)))
}

async fn update_trigger(
    caller: Caller,
    Path(id): Path<String>,
    Input(body): Input<TriggerInput>,
) -> ApiResult<Json<TriggerView>> {
    let trigger =
        triggers::update(&caller.ctx, &caller.token.authorize(AnyToken)?, numeric_id(&id)?, changes(body)).await?;
    Ok(Json(views::trigger(&trigger)))
}

async fn delete_trigger(caller: Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    triggers::delete(&caller.ctx, &caller.token.authorize(AnyToken)?, numeric_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
