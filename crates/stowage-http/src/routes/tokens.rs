//! `tokens/...`: list, create, detail, update, delete, refresh, share, events, verify.

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use serde::Deserialize;
use serde_json::Value;
use stowage_client::OUTBOX_HEADER;
use stowage_core::mail::Delivery;
use stowage_core::tokens::{self, TokenRequest, TokenWithSecret};
use stowage_core::{events, Core};
use stowage_types::auth::{AnyToken, ControlToken, CreateTokens, ManageTokens, ReadToken};
use stowage_types::Code;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::input::{lenient, Input, Page, Params};
use crate::openapi::Op;
use crate::routes::events::EventQuery;
use crate::routes::numeric_id;
use crate::views::{EventView, TokenShape};
use crate::{views, AppState, Table};

pub(crate) fn register(t: Table) -> Table {
    t.add(Method::GET, "/v2/storage/tokens/verify", verify_token, Op::ok::<TokenShape>("The calling token, verified"))
        .add(Method::GET, "/v2/storage/tokens", list_tokens, Op::list::<TokenShape>("List tokens"))
        .add(
            Method::POST,
            "/v2/storage/tokens",
            create_token,
            Op::created::<TokenShape>("Create a token (its secret is shown once)"),
        )
        .add(Method::GET, "/v2/storage/tokens/{id}", get_token, Op::ok::<TokenShape>("Token detail"))
        .add(Method::PUT, "/v2/storage/tokens/{id}", update_token, Op::ok::<TokenShape>("Update a token"))
        .add(Method::DELETE, "/v2/storage/tokens/{id}", delete_token, Op::empty("Delete a token"))
        .add(
            Method::POST,
            "/v2/storage/tokens/{id}/refresh",
            refresh_token,
            Op::ok::<TokenShape>("Refresh a token's secret (the new one is shown once)"),
        )
        .add(
            Method::POST,
            "/v2/storage/tokens/{id}/share",
            share_token,
            Op::empty("Mail a one-time link to a token's secret"),
        )
        .add(
            Method::GET,
            "/v2/storage/tokens/{id}/events",
            list_token_events,
            Op::list::<EventView>("A token's events"),
        )
}

async fn verify_token(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<TokenShape>> {
    let grant = caller.token.authorize(AnyToken)?;
    let view = tokens::verify(&caller.ctx, &grant).await?;
    Ok(Json(views::token(&state.core, &view, true)))
}

async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
    Params(page): Params<Page>,
) -> ApiResult<Json<Vec<TokenShape>>> {
    let grant = caller.token.authorize(AnyToken)?;
    let list = page.of(tokens::list(&caller.ctx, &grant).await?)?;
    Ok(Json(list.iter().map(|view| views::token(&state.core, view, false)).collect()))
}

/// A token's permissions, to make it or change it.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TokenInput {
    #[serde(default, deserialize_with = "lenient::text")]
    description: Option<String>,
    /// Bucket id to `read` or `write` (JSON, or `bucketPermissions[in.c-main]=read` form keys).
    #[serde(default)]
    #[schema(value_type = Option<std::collections::BTreeMap<String, String>>)]
    bucket_permissions: Option<Value>,
    /// Components the token may run and configure.
    #[serde(default, deserialize_with = "lenient::list")]
    component_access: Option<Vec<String>>,
    #[serde(default, deserialize_with = "lenient::flag")]
    can_manage_buckets: Option<bool>,
    #[serde(default, deserialize_with = "lenient::flag")]
    can_read_all_file_uploads: Option<bool>,
    #[serde(default, deserialize_with = "lenient::flag")]
    can_purge_trash: Option<bool>,
    /// Seconds until it expires.
    #[serde(default, deserialize_with = "lenient::int")]
    expires_in: Option<i64>,
}

/// Who to mail a token's one-time link to.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ShareInput {
    #[serde(default, deserialize_with = "lenient::text")]
    recipient_email: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    message: Option<String>,
}

/// Reads `bucketPermissions` as `{bucketId: permission}` (JSON, or `bucketPermissions[id]=` form keys).
fn bucket_permissions(value: Option<&Value>) -> ApiResult<Option<Vec<(String, String)>>> {
    let invalid = || {
        ApiError::new(
            Code::TokenInvalidPermissions,
            "Invalid data - bucketPermissions: expected an object mapping bucket ids to \"read\" or \"write\".",
        )
    };
    match value {
        None => Ok(None),
        Some(Value::Array(items)) if items.is_empty() => Ok(Some(vec![])),
        Some(Value::String(text)) if text.is_empty() => Ok(Some(vec![])),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(bucket, permission)| match permission {
                Value::String(permission) => Ok((bucket.clone(), permission.clone())),
                _ => Err(invalid()),
            })
            .collect::<ApiResult<Vec<_>>>()
            .map(Some),
        Some(_) => Err(invalid()),
    }
}

pub(crate) fn token_request(body: TokenInput) -> ApiResult<TokenRequest> {
    Ok(TokenRequest {
        bucket_permissions: bucket_permissions(body.bucket_permissions.as_ref())?,
        description: body.description,
        component_access: body.component_access,
        can_manage_buckets: body.can_manage_buckets,
        can_read_all_file_uploads: body.can_read_all_file_uploads,
        can_purge_trash: body.can_purge_trash,
        expires_in: body.expires_in,
    })
}

/// A token view with its secret, for the create and refresh responses only.
pub(crate) fn with_secret(core: &Core, created: &TokenWithSecret) -> TokenShape {
    TokenShape { token: Some(created.secret.clone()), ..views::token(core, &created.view, false) }
}

async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    Input(body): Input<TokenInput>,
) -> ApiResult<Response> {
    let request = token_request(body)?;
    let grant = caller.token.authorize(CreateTokens)?;
    let created = tokens::create(&caller.ctx, &grant, request).await?;
    Ok((StatusCode::CREATED, Json(with_secret(&state.core, &created))).into_response())
}

async fn get_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<TokenShape>> {
    let grant = caller.token.authorize(ReadToken(numeric_id(&id)?))?;
    let view = tokens::get(&caller.ctx, &grant).await?;
    Ok(Json(views::token(&state.core, &view, false)))
}

async fn update_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Input(body): Input<TokenInput>,
) -> ApiResult<Json<TokenShape>> {
    let id = numeric_id(&id)?;
    let request = token_request(body)?;
    let grant = caller.token.authorize(ManageTokens)?;
    let view = tokens::update(&caller.ctx, &grant, id, request).await?;
    Ok(Json(views::token(&state.core, &view, false)))
}

async fn delete_token(caller: Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let grant = caller.token.authorize(ControlToken(numeric_id(&id)?))?;
    tokens::delete(&caller.ctx, &grant).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn refresh_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<TokenShape>> {
    let grant = caller.token.authorize(ControlToken(numeric_id(&id)?))?;
    let refreshed = tokens::refresh(&caller.ctx, &grant).await?;
    Ok(Json(with_secret(&state.core, &refreshed)))
}

/// 204, as Keboola answers; a stack without SMTP names the outbox file in `X-Stowage-Mail-Outbox`
/// (below its data dir), so the sender knows where the link went.
async fn share_token(caller: Caller, Path(id): Path<String>, Input(body): Input<ShareInput>) -> ApiResult<Response> {
    let id = numeric_id(&id)?;
    let (recipient, message) = (body.recipient_email, body.message);
    let grant = caller.token.authorize(ManageTokens)?;
    match tokens::share(&caller.ctx, &grant, id, recipient, message).await? {
        Delivery::Outbox(file) => Ok((StatusCode::NO_CONTENT, [(OUTBOX_HEADER, file)]).into_response()),
        Delivery::Smtp => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

async fn list_token_events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Params(query): Params<EventQuery>,
    Params(page): Params<Page>,
) -> ApiResult<Json<Vec<EventView>>> {
    let id = numeric_id(&id)?;
    let grant = caller.token.authorize(ReadToken(id))?;
    let events = events::list_token(&caller.ctx, &grant, query.params(&page)).await?;
    Ok(Json(events.iter().map(|event| views::event(&state.core, event)).collect()))
}
