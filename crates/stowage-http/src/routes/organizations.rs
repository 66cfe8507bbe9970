//! `/manage/maintainers`, `/manage/organizations` and where a project lives: the Manage API's
//! organizations, behind `X-KBC-ManageApiToken`.

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use stowage_core::organizations::{self, Someone};
use stowage_core::records::OrganizationChanges;
use stowage_core::{manage, tokens};
use stowage_types::Code;
use utoipa::ToSchema;

use crate::auth::ManageCaller;
use crate::error::{ApiError, ApiResult};
use crate::input::{lenient, Input, Page, Params};
use crate::openapi::Op;
use crate::routes::numeric_id;
use crate::routes::tokens::{token_request, with_secret, TokenInput};
use crate::views::{MaintainerView, OrganizationView, ProjectView, TokenShape, UserView};
use crate::{views, AppState, Table};

pub(crate) fn register(t: Table) -> Table {
    t.add(Method::GET, "/manage/maintainers", list_maintainers, Op::list::<MaintainerView>("List maintainers"))
        .add(
            Method::POST,
            "/manage/maintainers",
            create_maintainer,
            Op::created::<MaintainerView>("Create a maintainer"),
        )
        .add(Method::GET, "/manage/maintainers/{id}", get_maintainer, Op::ok::<MaintainerView>("Maintainer detail"))
        .add(
            Method::PATCH,
            "/manage/maintainers/{id}",
            update_maintainer,
            Op::ok::<MaintainerView>("Rename a maintainer"),
        )
        .add(
            Method::DELETE,
            "/manage/maintainers/{id}",
            delete_maintainer,
            Op::empty("Delete a maintainer that holds no organization"),
        )
        .add(
            Method::GET,
            "/manage/maintainers/{id}/organizations",
            list_maintainer_organizations,
            Op::list::<OrganizationView>("List a maintainer's organizations"),
        )
        .add(
            Method::POST,
            "/manage/maintainers/{id}/organizations",
            create_organization,
            Op::created::<OrganizationView>("Create an organization under a maintainer"),
        )
        .add(
            Method::GET,
            "/manage/organizations",
            list_organizations,
            Op::list::<OrganizationView>("List organizations"),
        )
        .add(
            Method::GET,
            "/manage/organizations/{id}",
            get_organization,
            Op::ok::<OrganizationView>("Organization detail, with its projects"),
        )
        .add(
            Method::PATCH,
            "/manage/organizations/{id}",
            update_organization,
            Op::ok::<OrganizationView>("Update an organization"),
        )
        .add(
            Method::DELETE,
            "/manage/organizations/{id}",
            delete_organization,
            Op::empty("Delete an organization that holds no project"),
        )
        .add(
            Method::GET,
            "/manage/organizations/{id}/users",
            list_organization_users,
            Op::list::<UserView>("List an organization's members"),
        )
        .add(
            Method::POST,
            "/manage/organizations/{id}/users",
            add_organization_user,
            Op::empty("Add a member to an organization (by `id` or `email`)"),
        )
        .add(
            Method::DELETE,
            "/manage/organizations/{id}/users/{userId}",
            remove_organization_user,
            Op::empty("Remove a member from an organization"),
        )
        .add(
            Method::GET,
            "/manage/organizations/{id}/projects",
            list_organization_projects,
            Op::list::<ProjectView>("List an organization's projects"),
        )
        .add(
            Method::POST,
            "/manage/organizations/{id}/projects",
            create_organization_project,
            Op::created::<ProjectView>("Create a project in an organization"),
        )
        .add(
            Method::POST,
            "/manage/projects/{id}/organizations",
            move_project,
            Op::ok::<ProjectView>("Move a project to another organization"),
        )
        .add(
            Method::POST,
            "/manage/projects/{id}/tokens",
            create_storage_token,
            Op::created::<TokenShape>("Create a Storage token in a project (its secret is shown once)"),
        )
}

/// A maintainer's name.
#[derive(Deserialize, ToSchema)]
pub(crate) struct MaintainerInput {
    #[serde(default, deserialize_with = "lenient::text")]
    name: Option<String>,
}

/// A new organization, or the changes to one.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OrganizationInput {
    #[serde(default, deserialize_with = "lenient::text")]
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    crm_id: Option<String>,
    /// On update: the maintainer the organization moves to.
    #[serde(default, deserialize_with = "lenient::int")]
    maintainer_id: Option<i64>,
    #[serde(default, deserialize_with = "lenient::flag")]
    allow_auto_join: Option<bool>,
    #[serde(default, deserialize_with = "lenient::flag")]
    mfa_required: Option<bool>,
}

/// Who to add to an organization: `id` of a user, or `email` (a new user is created).
#[derive(Deserialize, ToSchema)]
pub(crate) struct OrganizationUserInput {
    #[serde(default, deserialize_with = "lenient::int")]
    id: Option<i64>,
    #[serde(default, deserialize_with = "lenient::text")]
    email: Option<String>,
}

/// A new project in an organization.
#[derive(Deserialize, ToSchema)]
pub(crate) struct OrganizationProjectInput {
    #[serde(default, deserialize_with = "lenient::text")]
    name: Option<String>,
}

/// Where a project moves.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MoveInput {
    #[serde(default, deserialize_with = "lenient::int")]
    organization_id: Option<i64>,
}

async fn list_maintainers(caller: ManageCaller, Params(page): Params<Page>) -> ApiResult<Json<Vec<MaintainerView>>> {
    let all = page.of(organizations::list_maintainers(&caller.ctx, &caller.grant).await?)?;
    Ok(Json(all.iter().map(views::maintainer).collect()))
}

async fn create_maintainer(caller: ManageCaller, Input(body): Input<MaintainerInput>) -> ApiResult<Response> {
    let maintainer = organizations::create_maintainer(&caller.ctx, &caller.grant, body.name).await?;
    Ok((StatusCode::CREATED, Json(views::maintainer(&maintainer))).into_response())
}

async fn get_maintainer(caller: ManageCaller, Path(id): Path<String>) -> ApiResult<Json<MaintainerView>> {
    let maintainer = organizations::get_maintainer(&caller.ctx, &caller.grant, numeric_id(&id)?).await?;
    Ok(Json(views::maintainer(&maintainer)))
}

async fn update_maintainer(
    caller: ManageCaller,
    Path(id): Path<String>,
    Input(body): Input<MaintainerInput>,
) -> ApiResult<Json<MaintainerView>> {
    let maintainer = organizations::update_maintainer(&caller.ctx, &caller.grant, numeric_id(&id)?, body.name).await?;
    Ok(Json(views::maintainer(&maintainer)))
}

async fn delete_maintainer(caller: ManageCaller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    organizations::delete_maintainer(&caller.ctx, &caller.grant, numeric_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_maintainer_organizations(
    caller: ManageCaller,
    Path(id): Path<String>,
    Params(page): Params<Page>,
) -> ApiResult<Json<Vec<OrganizationView>>> {
    let all = organizations::list_organizations(&caller.ctx, &caller.grant, Some(numeric_id(&id)?)).await?;
    let all = page.of(all)?;
    Ok(Json(all.iter().map(|(o, _)| views::organization(o, None, None)).collect()))
}

async fn create_organization(
    caller: ManageCaller,
    Path(id): Path<String>,
    Input(body): Input<OrganizationInput>,
) -> ApiResult<Response> {
    let detail =
        organizations::create_organization(&caller.ctx, &caller.grant, numeric_id(&id)?, body.name, body.crm_id)
            .await?;
    Ok((StatusCode::CREATED, Json(views::organization_detail(&detail))).into_response())
}

async fn list_organizations(
    caller: ManageCaller,
    Params(page): Params<Page>,
) -> ApiResult<Json<Vec<OrganizationView>>> {
    let all = page.of(organizations::list_organizations(&caller.ctx, &caller.grant, None).await?)?;
    Ok(Json(all.iter().map(|(o, m)| views::organization(o, Some(m), None)).collect()))
}

async fn get_organization(caller: ManageCaller, Path(id): Path<String>) -> ApiResult<Json<OrganizationView>> {
    let detail = organizations::get_organization(&caller.ctx, &caller.grant, numeric_id(&id)?).await?;
    Ok(Json(views::organization_detail(&detail)))
}

async fn update_organization(
    caller: ManageCaller,
    Path(id): Path<String>,
    Input(body): Input<OrganizationInput>,
) -> ApiResult<Json<OrganizationView>> {
    let changes = OrganizationChanges {
        name: body.name,
        maintainer_id: body.maintainer_id,
        crm_id: body.crm_id,
        allow_auto_join: body.allow_auto_join,
        mfa_required: body.mfa_required,
    };
    let detail = organizations::update_organization(&caller.ctx, &caller.grant, numeric_id(&id)?, changes).await?;
    Ok(Json(views::organization_detail(&detail)))
}

async fn delete_organization(caller: ManageCaller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    organizations::delete_organization(&caller.ctx, &caller.grant, numeric_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_organization_users(
    caller: ManageCaller,
    Path(id): Path<String>,
    Params(page): Params<Page>,
) -> ApiResult<Json<Vec<UserView>>> {
    let users = page.of(organizations::list_members(&caller.ctx, &caller.grant, numeric_id(&id)?).await?)?;
    Ok(Json(users.iter().map(views::user).collect()))
}

async fn add_organization_user(
    caller: ManageCaller,
    Path(id): Path<String>,
    Input(body): Input<OrganizationUserInput>,
) -> ApiResult<StatusCode> {
    let who = match (body.id, body.email) {
        (Some(id), _) => Someone::Id(id),
        (None, Some(email)) => Someone::Email(email),
        (None, None) => {
            return Err(ApiError::new(Code::UserValidation, "Invalid data - either id or email of a user must be set."))
        }
    };
    organizations::add_member(&caller.ctx, &caller.grant, numeric_id(&id)?, who).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_organization_user(
    caller: ManageCaller,
    Path((id, user_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (id, user_id) = (numeric_id(&id)?, numeric_id(&user_id)?);
    organizations::remove_member(&caller.ctx, &caller.grant, id, user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_organization_projects(
    State(state): State<AppState>,
    caller: ManageCaller,
    Path(id): Path<String>,
    Params(page): Params<Page>,
) -> ApiResult<Json<Vec<ProjectView>>> {
    let projects = page.of(manage::organization_projects(&caller.ctx, &caller.grant, numeric_id(&id)?).await?)?;
    Ok(Json(projects.iter().map(|p| views::project(&state.core, p)).collect()))
}

async fn create_organization_project(
    State(state): State<AppState>,
    caller: ManageCaller,
    Path(id): Path<String>,
    Input(body): Input<OrganizationProjectInput>,
) -> ApiResult<Response> {
    let project = manage::create_project(&caller.ctx, &caller.grant, body.name, Some(numeric_id(&id)?)).await?;
    Ok((StatusCode::CREATED, Json(views::project(&state.core, &project))).into_response())
}

async fn move_project(
    State(state): State<AppState>,
    caller: ManageCaller,
    Path(id): Path<String>,
    Input(body): Input<MoveInput>,
) -> ApiResult<Json<ProjectView>> {
    let project =
        organizations::move_project(&caller.ctx, &caller.grant, numeric_id(&id)?, body.organization_id).await?;
    Ok(Json(views::project(&state.core, &project)))
}

async fn create_storage_token(
    State(state): State<AppState>,
    caller: ManageCaller,
    Path(id): Path<String>,
    Input(body): Input<TokenInput>,
) -> ApiResult<Response> {
    let project_id = numeric_id(&id)?;
    let request = token_request(body)?;
    let created = tokens::create_with_manage_token(&caller.ctx, &caller.grant, project_id, request).await?;
    Ok((StatusCode::CREATED, Json(with_secret(&state.core, &created))).into_response())
}
