//! `/v2/storage/buckets/{id}/share-*`, `.../share` and `/v2/storage/shared-buckets`: sharing a bucket
//! within the organization and listing what is shared to the project.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use stowage_core::buckets::{self, SharedBucket, Targets};
use stowage_types::auth::{ListSharedBuckets, ReadBucket, ShareBucket, Sharing};
use stowage_types::time::format;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Allowed, Caller, Wants};
use crate::error::ApiResult;
use crate::input::{lenient, Input, Params};
use crate::openapi::Op;
use crate::views::{self, BucketShape, BucketView, JobView};
use crate::{AppState, Table};

pub(crate) fn register(t: Table) -> Table {
    let share = |summary: &'static str| {
        Op::ok::<BucketView>(summary).or::<JobView>(202, "With `async`: the job that shares it.")
    };
    t.add(
        Method::POST,
        "/v2/storage/buckets/{id}/share-organization",
        share_organization,
        share("Share a bucket to the organization's members"),
    )
    .add(
        Method::POST,
        "/v2/storage/buckets/{id}/share-organization-project",
        share_organization_project,
        share("Share a bucket to every project of the organization"),
    )
    .add(
        Method::POST,
        "/v2/storage/buckets/{id}/share-to-projects",
        share_to_projects,
        share("Share a bucket to chosen projects of the organization (`targetProjectIds`)"),
    )
    .add(
        Method::POST,
        "/v2/storage/buckets/{id}/share-to-users",
        share_to_users,
        share("Share a bucket to chosen users (`targetUsers`: ids or emails)"),
    )
    .add(
        Method::PUT,
        "/v2/storage/buckets/{id}/share",
        change_sharing,
        share("Change how a shared bucket is shared (`sharing`: organization or organization-project)"),
    )
    .add(
        Method::DELETE,
        "/v2/storage/buckets/{id}/share",
        unshare,
        Op::empty("Stop sharing a bucket").or::<JobView>(202, "With `async`: the job that stops it."),
    )
    .add(
        Method::GET,
        "/v2/storage/shared-buckets",
        list_shared_buckets,
        Op::list::<SharedBucketView>("Buckets shared within the organization that this token may link"),
    )
}

/// Whether to answer at once with the job.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AsyncQuery {
    /// Answer the job (202) at once instead of doing the work before answering.
    #[serde(default, rename = "async", deserialize_with = "lenient::flag")]
    run_async: Option<bool>,
}

/// The targets of a share to selected projects or users, or the new kind of a shared bucket.
#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ShareInput {
    #[serde(default, deserialize_with = "lenient::list")]
    target_project_ids: Option<Vec<String>>,
    #[serde(default, deserialize_with = "lenient::list")]
    target_users: Option<Vec<String>>,
    #[serde(default, deserialize_with = "lenient::text")]
    sharing: Option<String>,
}

/// Shares (or changes) and answers the bucket, or the job with `async`.
async fn answer_share(
    state: &AppState,
    wants: Wants<ShareBucket>,
    query: AsyncQuery,
    sharing: Sharing,
    body: ShareInput,
    change: bool,
) -> ApiResult<Response> {
    let Allowed { grant, ctx } = wants.allowed()?;
    let (token, bucket_id) = (grant.token().clone(), grant.scope().0.clone());
    let targets = Targets { projects: body.target_project_ids, users: body.target_users };
    let run_async = query.run_async.unwrap_or(false);
    if let Some(job) = buckets::share(&ctx, grant, sharing, targets, change, run_async).await? {
        return Ok((StatusCode::ACCEPTED, Json(views::job(&state.core, &job))).into_response());
    }
    let grant = token.authorize(ReadBucket(bucket_id))?;
    let view = buckets::detail(&ctx, &grant).await?;
    let shape = BucketShape { detail: true, attributes: true };
    let bucket = views::bucket(&state.core, &view.bucket, view.metadata.as_deref(), view.sharing.as_ref(), shape);
    Ok(Json(bucket).into_response())
}

async fn share_organization(
    State(state): State<AppState>,
    wants: Wants<ShareBucket>,
    Params(query): Params<AsyncQuery>,
) -> ApiResult<Response> {
    answer_share(&state, wants, query, Sharing::Organization, ShareInput::default(), false).await
}

async fn share_organization_project(
    State(state): State<AppState>,
    wants: Wants<ShareBucket>,
    Params(query): Params<AsyncQuery>,
) -> ApiResult<Response> {
    answer_share(&state, wants, query, Sharing::OrganizationProject, ShareInput::default(), false).await
}

async fn share_to_projects(
    State(state): State<AppState>,
    wants: Wants<ShareBucket>,
    Params(query): Params<AsyncQuery>,
    Input(body): Input<ShareInput>,
) -> ApiResult<Response> {
    answer_share(&state, wants, query, Sharing::SelectedProjects, body, false).await
}

async fn share_to_users(
    State(state): State<AppState>,
    wants: Wants<ShareBucket>,
    Params(query): Params<AsyncQuery>,
    Input(body): Input<ShareInput>,
) -> ApiResult<Response> {
    answer_share(&state, wants, query, Sharing::SelectedUsers, body, false).await
}

async fn change_sharing(
    State(state): State<AppState>,
    wants: Wants<ShareBucket>,
    Params(query): Params<AsyncQuery>,
    Input(body): Input<ShareInput>,
) -> ApiResult<Response> {
    let sharing = buckets::parse_sharing(body.sharing.as_deref())?;
    answer_share(&state, wants, query, sharing, ShareInput::default(), true).await
}

async fn unshare(
    State(state): State<AppState>,
    wants: Wants<ShareBucket>,
    Params(query): Params<AsyncQuery>,
) -> ApiResult<Response> {
    let Allowed { grant, ctx } = wants.allowed()?;
    match buckets::unshare(&ctx, grant, query.run_async.unwrap_or(false)).await? {
        Some(job) => Ok((StatusCode::ACCEPTED, Json(views::job(&state.core, &job))).into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

/// A bucket shared to this project: the bucket with its source `project`, `tables` and `sharedBy`.
#[derive(serde::Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = SharedBucket)]
pub(crate) struct SharedBucketView {
    id: String,
    name: String,
    display_name: String,
    stage: String,
    description: String,
    backend: String,
    created: String,
    last_change_date: Option<String>,
    sharing: String,
    sharing_parameters: Value,
    project: Value,
    tables: Vec<Value>,
    shared_by: Value,
}

fn shared_bucket(shared: &SharedBucket) -> SharedBucketView {
    let bucket = &shared.bucket;
    let tables = shared
        .tables
        .iter()
        .map(|t| {
            json!({
                "id": t.id, "name": t.name, "displayName": t.display_name, "created": format(t.created),
                "lastImportDate": t.last_import.map(format), "lastChangeDate": t.last_change.map(format),
                "rowsCount": t.rows_count, "dataSizeBytes": t.data_size_bytes,
            })
        })
        .collect();
    SharedBucketView {
        id: bucket.id.clone(),
        name: bucket.name.clone(),
        display_name: bucket.display_name.clone(),
        stage: bucket.stage.clone(),
        description: bucket.description.clone(),
        backend: bucket.backend.clone(),
        created: format(bucket.created),
        last_change_date: bucket.last_change.map(format),
        sharing: shared.sharing.sharing.clone(),
        sharing_parameters: views::sharing_parameters(&shared.sharing),
        project: json!({ "id": shared.project.id, "name": shared.project.name }),
        tables,
        shared_by: views::shared_by(&shared.sharing),
    }
}

async fn list_shared_buckets(caller: Caller) -> ApiResult<Json<Vec<SharedBucketView>>> {
    let grant = caller.token.authorize(ListSharedBuckets)?;
    let shared = buckets::list_shared(&caller.ctx, &grant).await?;
    Ok(Json(shared.iter().map(shared_bucket).collect()))
}
