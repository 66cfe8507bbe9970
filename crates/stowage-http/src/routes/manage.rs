//! `/manage/...`: projects and their members, behind `X-KBC-ManageApiToken`.

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;
use stowage_core::manage;
use stowage_core::tokens::TokenView;

use crate::auth::ManageCaller;
use crate::error::ApiResult;
use crate::input::{Body, Query};
use crate::routes::numeric_id;
use crate::{views, AppState, Table};

pub(crate) fn register(t: Table) -> Table {
    t.add(Method::GET, "/manage/projects", list_projects)
        .add(Method::POST, "/manage/projects", create_project)
        .add(Method::GET, "/manage/projects/{id}", get_project)
        .add(Method::DELETE, "/manage/projects/{id}", delete_project)
        .add(Method::GET, "/manage/projects/{id}/users", list_project_users)
        .add(Method::POST, "/manage/projects/{id}/users", add_project_user)
        .add(Method::DELETE, "/manage/projects/{id}/users/{email}", remove_project_user)
        .add(Method::PUT, "/manage/users/{email}/password", set_user_password)
}

async fn set_user_password(caller: ManageCaller, Path(email): Path<String>, Body(body): Body) -> ApiResult<StatusCode> {
    let password = body.string("password")?.unwrap_or_default();
    stowage_core::console::set_password(&caller.ctx, &caller.grant, &email, password).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_projects(
    State(state): State<AppState>,
    caller: ManageCaller,
    Query(query): Query,
) -> ApiResult<Json<Value>> {
    let projects = query.page_of(manage::list_projects(&caller.ctx, &caller.grant).await?)?;
    Ok(Json(Value::Array(projects.iter().map(|p| views::project(&state.core, p)).collect())))
}

async fn create_project(State(state): State<AppState>, caller: ManageCaller, Body(body): Body) -> ApiResult<Response> {
    let project = manage::create_project(&caller.ctx, &caller.grant, body.string("name")?).await?;
    Ok((StatusCode::CREATED, Json(views::project(&state.core, &project))).into_response())
}

async fn get_project(
    State(state): State<AppState>,
    caller: ManageCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let project = manage::get_project(&caller.ctx, &caller.grant, numeric_id(&id)?).await?;
    Ok(Json(views::project(&state.core, &project)))
}

async fn delete_project(caller: ManageCaller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    manage::delete_project(&caller.ctx, &caller.grant, numeric_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_project_users(
    caller: ManageCaller,
    Path(id): Path<String>,
    Query(query): Query,
) -> ApiResult<Json<Value>> {
    let members = query.page_of(manage::list_members(&caller.ctx, &caller.grant, numeric_id(&id)?).await?)?;
    Ok(Json(Value::Array(members.iter().map(views::member).collect())))
}

async fn add_project_user(
    State(state): State<AppState>,
    caller: ManageCaller,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Response> {
    let project_id = numeric_id(&id)?;
    let new =
        manage::add_member(&caller.ctx, &caller.grant, project_id, body.string("email")?, body.string("role")?).await?;
    let project = manage::get_project(&caller.ctx, &caller.grant, project_id).await?;
    let mut view = views::member(&new.member);
    let token_view = TokenView { token: new.token, project, bucket_ids: vec![] };
    let mut token = views::token(&state.core, &token_view, false);
    // The secret of the new master token, shown this once.
    token["token"] = Value::String(new.secret);
    view["token"] = token;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

async fn remove_project_user(caller: ManageCaller, Path((id, email)): Path<(String, String)>) -> ApiResult<StatusCode> {
    manage::remove_member(&caller.ctx, &caller.grant, numeric_id(&id)?, email).await?;
    Ok(StatusCode::NO_CONTENT)
}
