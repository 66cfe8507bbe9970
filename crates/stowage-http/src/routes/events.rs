//! `events/...`: listing, detail, and external events posted by clients.

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use stowage_core::events::{self, ExternalEvent, ListParams};
use stowage_types::auth::AnyToken;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::input::{Body, Fields, Query};
use crate::openapi::Op;
use crate::views::EventView;
use crate::{views, AppState, Table};

/// The event a client recorded.
#[derive(Serialize, ToSchema)]
pub(crate) struct CreatedEvent {
    /// The event's id, as a string.
    id: String,
    uuid: String,
}

pub(crate) fn register(t: Table) -> Table {
    t.add(Method::GET, "/v2/storage/events", list_events, Op::list::<EventView>("List the project's events"))
        .add(Method::POST, "/v2/storage/events", create_event, Op::created::<CreatedEvent>("Record an event"))
        .add(Method::GET, "/v2/storage/events/{id}", get_event, Op::ok::<EventView>("Event detail"))
}

/// The listing parameters shared by every event feed.
pub(crate) fn list_params(query: &Fields) -> ApiResult<ListParams> {
    Ok(ListParams {
        since_id: query.string("sinceId")?.filter(|v| !v.is_empty()),
        max_id: query.string("maxId")?.filter(|v| !v.is_empty()),
        component: query.string("component")?.filter(|v| !v.is_empty()),
        configuration_id: query.string("configurationId")?.filter(|v| !v.is_empty()),
        run_id: query.string("runId")?.filter(|v| !v.is_empty()),
        q: query.string("q")?,
        paging: query.paging()?,
        sort_order: query.string("sortOrder")?,
    })
}

async fn list_events(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query,
) -> ApiResult<Json<Vec<EventView>>> {
    let grant = caller.token.authorize(AnyToken)?;
    let events = events::list(&caller.ctx, &grant, list_params(&query)?).await?;
    Ok(Json(events.iter().map(|event| views::event(&state.core, event)).collect()))
}

async fn get_event(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<EventView>> {
    let grant = caller.token.authorize(AnyToken)?;
    let event = events::get(&caller.ctx, &grant, id).await?;
    Ok(Json(views::event(&state.core, &event)))
}

async fn create_event(caller: Caller, Body(body): Body) -> ApiResult<Response> {
    // Legacy names: componentName was the configuration, componentType the component.
    let input = ExternalEvent {
        component: body.string("component")?.or(body.string("componentType")?),
        message: body.string("message")?,
        description: body.string("description")?,
        kind: body.string("type")?,
        configuration_id: body.string("configurationId")?.or(body.string("componentName")?),
        run_id: body.string("runId")?,
        params: body.object("params")?,
        results: body.object("results")?,
        duration: body.float("duration")?,
    };
    let grant = caller.token.authorize(AnyToken)?;
    let (id, uuid) = events::create(&caller.ctx, &grant, input).await?;
    Ok((StatusCode::CREATED, Json(CreatedEvent { id: id.to_string(), uuid })).into_response())
}
