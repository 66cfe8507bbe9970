//! `triggers`: create, list, detail, update and delete, as `kbcstorage.triggers` calls them (a JSON
//! or form body; an update sends only the fields it changes, as strings).

use axum::extract::Path;
use axum::http::{Method, StatusCode};
use axum::Json;
use stowage_core::triggers::{self, Changes};
use stowage_types::auth::AnyToken;

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::input::{Body, Fields, Query};
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

fn changes(body: &Fields) -> ApiResult<Changes> {
    Ok(Changes {
        run_with_token_id: body.int("runWithTokenId")?,
        component: body.string("component")?,
        configuration_id: body.string("configurationId")?,
        cool_down_minutes: body.int("coolDownPeriodMinutes")?,
        table_ids: body.list("tableIds")?,
    })
}

async fn list_triggers(caller: Caller, Query(query): Query) -> ApiResult<Json<Vec<TriggerView>>> {
    let (component, configuration_id) = (query.string("component")?, query.string("configurationId")?);
    let found = triggers::list(&caller.ctx, &caller.token.authorize(AnyToken)?, component, configuration_id).await?;
    Ok(Json(found.iter().map(views::trigger).collect()))
}

async fn create_trigger(caller: Caller, Body(body): Body) -> ApiResult<(StatusCode, Json<TriggerView>)> {
    let trigger = triggers::create(&caller.ctx, &caller.token.authorize(AnyToken)?, changes(&body)?).await?;
    Ok((StatusCode::CREATED, Json(views::trigger(&trigger))))
}

async fn get_trigger(caller: Caller, Path(id): Path<String>) -> ApiResult<Json<TriggerView>> {
    let trigger = triggers::get(&caller.ctx, &caller.token.authorize(AnyToken)?, numeric_id(&id)?).await?;
    Ok(Json(views::trigger(&trigger)))
}

async fn update_trigger(caller: Caller, Path(id): Path<String>, Body(body): Body) -> ApiResult<Json<TriggerView>> {
    let trigger =
        triggers::update(&caller.ctx, &caller.token.authorize(AnyToken)?, numeric_id(&id)?, changes(&body)?).await?;
    Ok(Json(views::trigger(&trigger)))
}

async fn delete_trigger(caller: Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    triggers::delete(&caller.ctx, &caller.token.authorize(AnyToken)?, numeric_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
