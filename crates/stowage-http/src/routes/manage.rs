//! `/manage/...`: projects and their members, behind `X-KBC-ManageApiToken`.

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use stowage_core::manage;
use stowage_core::tokens::TokenView;
use utoipa::ToSchema;

use crate::auth::ManageCaller;
use crate::error::ApiResult;
use crate::input::{lenient, Input, Page, Params};
use crate::openapi::Op;
use crate::routes::numeric_id;
use crate::views::{MemberView, ProjectView, TokenShape};
use crate::{views, AppState, Table};

pub(crate) fn register(t: Table) -> Table {
    t.add(Method::GET, "/manage/projects", list_projects, Op::list::<ProjectView>("List projects"))
        .add(
            Method::POST,
            "/manage/projects",
            create_project,
            Op::created::<ProjectView>("Create a project (in `organizationId`, or the only organization)"),
        )
        .add(Method::GET, "/manage/projects/{id}", get_project, Op::ok::<ProjectView>("Project detail"))
        .add(Method::DELETE, "/manage/projects/{id}", delete_project, Op::empty("Delete a project"))
        .add(
            Method::GET,
            "/manage/projects/{id}/users",
            list_project_users,
            Op::list::<MemberView>("List a project's members"),
        )
        .add(
            Method::POST,
            "/manage/projects/{id}/users",
            add_project_user,
            Op::created::<MemberView>("Add a member (answers their new master token, shown once)"),
        )
        .add(Method::DELETE, "/manage/projects/{id}/users/{email}", remove_project_user, Op::empty("Remove a member"))
        .add(
            Method::PUT,
            "/manage/users/{email}/password",
            set_user_password,
            Op::empty("Set a user's console password"),
        )
}

/// A console password.
#[derive(Deserialize, ToSchema)]
pub(crate) struct PasswordInput {
    #[serde(default, deserialize_with = "lenient::text")]
    password: Option<String>,
}

/// A new project.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProjectInput {
    #[serde(default, deserialize_with = "lenient::text")]
    name: Option<String>,
    /// The organization it goes to; needed when the stack has more than one.
    #[serde(default, deserialize_with = "lenient::int")]
    organization_id: Option<i64>,
}

/// A person to add to a project.
#[derive(Deserialize, ToSchema)]
pub(crate) struct MemberInput {
    #[serde(default, deserialize_with = "lenient::text")]
    email: Option<String>,
    /// `admin` (the default), `share`, `guest` or `readOnly`.
    #[serde(default, deserialize_with = "lenient::text")]
    role: Option<String>,
}

async fn set_user_password(
    caller: ManageCaller,
    Path(email): Path<String>,
    Input(body): Input<PasswordInput>,
) -> ApiResult<StatusCode> {
    let password = body.password.unwrap_or_default();
    stowage_core::console::set_password(&caller.ctx, &caller.grant, &email, password).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_projects(
    State(state): State<AppState>,
    caller: ManageCaller,
    Params(page): Params<Page>,
) -> ApiResult<Json<Vec<ProjectView>>> {
    let projects = page.of(manage::list_projects(&caller.ctx, &caller.grant).await?)?;
    Ok(Json(projects.iter().map(|p| views::project(&state.core, p)).collect()))
}

async fn create_project(
    State(state): State<AppState>,
    caller: ManageCaller,
    Input(body): Input<ProjectInput>,
) -> ApiResult<Response> {
    let project = manage::create_project(&caller.ctx, &caller.grant, body.name, body.organization_id).await?;
    Ok((StatusCode::CREATED, Json(views::project(&state.core, &project))).into_response())
}

async fn get_project(
    State(state): State<AppState>,
    caller: ManageCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<ProjectView>> {
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
    Params(page): Params<Page>,
) -> ApiResult<Json<Vec<MemberView>>> {
    let members = page.of(manage::list_members(&caller.ctx, &caller.grant, numeric_id(&id)?).await?)?;
    Ok(Json(members.iter().map(views::member).collect()))
}

async fn add_project_user(
    State(state): State<AppState>,
    caller: ManageCaller,
    Path(id): Path<String>,
    Input(body): Input<MemberInput>,
) -> ApiResult<Response> {
    let project_id = numeric_id(&id)?;
    let new = manage::add_member(&caller.ctx, &caller.grant, project_id, body.email, body.role).await?;
    let project = manage::get_project(&caller.ctx, &caller.grant, project_id).await?.project;
    let token_view = TokenView { token: new.token, project, bucket_ids: vec![] };
    // The secret of the new master token, shown this once.
    let token = TokenShape { token: Some(new.secret), ..views::token(&state.core, &token_view, false) };
    let view = MemberView { token: Some(token), ..views::member(&new.member) };
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

async fn remove_project_user(caller: ManageCaller, Path((id, email)): Path<(String, String)>) -> ApiResult<StatusCode> {
    manage::remove_member(&caller.ctx, &caller.grant, numeric_id(&id)?, email).await?;
    Ok(StatusCode::NO_CONTENT)
}
