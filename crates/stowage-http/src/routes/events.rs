//! `events/...`: listing, detail, and external events posted by clients.

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use stowage_core::events::{self, ExternalEvent, ListParams};
use stowage_types::auth::AnyToken;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::input::{lenient, Input, Page, Params};
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
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EventQuery {
    /// Only events after this one (an id).
    #[serde(default, deserialize_with = "lenient::text")]
    since_id: Option<String>,
    /// Only events up to this one (an id).
    #[serde(default, deserialize_with = "lenient::text")]
    max_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    component: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    configuration_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    run_id: Option<String>,
    /// A search: `field:value AND field:value`, or a word.
    #[serde(default, deserialize_with = "lenient::text")]
    q: Option<String>,
    /// `asc` or `desc` (the default: newest first).
    #[serde(default, deserialize_with = "lenient::text")]
    sort_order: Option<String>,
}

impl EventQuery {
    pub(crate) fn params(self, page: &Page) -> ListParams {
        let given = |value: Option<String>| value.filter(|v| !v.is_empty());
        ListParams {
            since_id: given(self.since_id),
            max_id: given(self.max_id),
            component: given(self.component),
            configuration_id: given(self.configuration_id),
            run_id: given(self.run_id),
            q: self.q,
            paging: page.paging(),
            sort_order: self.sort_order,
        }
    }
}

/// An event a client records.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NewEvent {
    #[serde(default, deserialize_with = "lenient::text")]
    component: Option<String>,
    /// The former name of `component`.
    #[serde(default, deserialize_with = "lenient::text")]
    component_type: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    message: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    description: Option<String>,
    /// `info`, `success`, `warn` or `error`.
    #[serde(default, rename = "type", deserialize_with = "lenient::text")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    configuration_id: Option<String>,
    /// The former name of `configurationId`.
    #[serde(default, deserialize_with = "lenient::text")]
    component_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    run_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::object")]
    params: Option<Value>,
    #[serde(default, deserialize_with = "lenient::object")]
    results: Option<Value>,
    /// Seconds.
    #[serde(default, deserialize_with = "lenient::number")]
    duration: Option<f64>,
}

async fn list_events(
    State(state): State<AppState>,
    caller: Caller,
    Params(query): Params<EventQuery>,
    Params(page): Params<Page>,
) -> ApiResult<Json<Vec<EventView>>> {
    let grant = caller.token.authorize(AnyToken)?;
    let events = events::list(&caller.ctx, &grant, query.params(&page)).await?;
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

async fn create_event(caller: Caller, Input(body): Input<NewEvent>) -> ApiResult<Response> {
    // Legacy names: componentName was the configuration, componentType the component.
    let input = ExternalEvent {
        component: body.component.or(body.component_type),
        message: body.message,
        description: body.description,
        kind: body.kind,
        configuration_id: body.configuration_id.or(body.component_name),
        run_id: body.run_id,
        params: body.params,
        results: body.results,
        duration: body.duration,
    };
    let grant = caller.token.authorize(AnyToken)?;
    let (id, uuid) = events::create(&caller.ctx, &grant, input).await?;
    Ok((StatusCode::CREATED, Json(CreatedEvent { id: id.to_string(), uuid })).into_response())
}
