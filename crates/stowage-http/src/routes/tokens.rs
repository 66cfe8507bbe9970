//! `tokens/...`: the calling token's view. The full token lifecycle is issue 3.

use axum::extract::{Path, State};
use axum::http::Method;
use axum::Json;
use serde_json::Value;
use stowage_core::{events, tokens};
use stowage_types::auth::{AnyToken, ReadToken};

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::input::Query;
use crate::routes::events::list_params;
use crate::routes::numeric_id;
use crate::{views, AppState, Table};

pub(crate) fn register(t: Table) -> Table {
    t.add(Method::GET, "/v2/storage/tokens/verify", verify_token).add(
        Method::GET,
        "/v2/storage/tokens/{id}/events",
        list_token_events,
    )
}

async fn verify_token(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    let grant = caller.token.authorize(AnyToken)?;
    let view = tokens::verify(&caller.ctx, &grant).await?;
    Ok(Json(views::token(&state.core, &view, true)))
}

async fn list_token_events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query,
) -> ApiResult<Json<Value>> {
    let id = numeric_id(&id)?;
    let grant = caller.token.authorize(ReadToken(id))?;
    let events = events::list_token(&caller.ctx, &grant, list_params(&query)?).await?;
    Ok(Json(Value::Array(events.iter().map(|event| views::event(&state.core, event)).collect())))
}
