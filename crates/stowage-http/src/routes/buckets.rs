//! `buckets/...`: create, list, detail, update, delete, events.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use stowage_core::buckets::{self, BucketChanges, DeleteOptions, NewBucket};
use stowage_core::events;
use stowage_types::auth::{AnyToken, CreateBuckets, ManageBucket, ReadBucket};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Allowed, Caller, Wants};
use crate::error::ApiResult;
use crate::input::{lenient, Input, Page, Params};
use crate::openapi::Op;
use crate::routes::events::EventQuery;
use crate::views::{self, BucketShape, BucketView, EventView, JobView};
use crate::{AppState, Table};

pub(crate) fn register(t: Table) -> Table {
    t.add(Method::GET, "/v2/storage/buckets", list_buckets, Op::list::<BucketView>("List buckets"))
        .add(Method::POST, "/v2/storage/buckets", create_bucket, Op::created::<BucketView>("Create a bucket"))
        .add(Method::GET, "/v2/storage/buckets/{id}", get_bucket, Op::ok::<BucketView>("Bucket detail"))
        .add(Method::PUT, "/v2/storage/buckets/{id}", update_bucket, Op::ok::<BucketView>("Update a bucket"))
        .add(
            Method::DELETE,
            "/v2/storage/buckets/{id}",
            delete_bucket,
            Op::empty("Delete a bucket").or::<JobView>(202, "With `async`: the job that deletes it."),
        )
        .add(
            Method::GET,
            "/v2/storage/buckets/{id}/events",
            list_bucket_events,
            Op::list::<EventView>("A bucket's events"),
        )
}

/// What to list buckets with.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct BucketQuery {
    /// `metadata` adds each bucket's metadata (and leaves out `attributes`).
    #[serde(default, deserialize_with = "lenient::list")]
    include: Option<Vec<String>>,
}

/// A new bucket.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NewBucketInput {
    /// The name, without the `c-` prefix.
    #[serde(default, deserialize_with = "lenient::text")]
    name: Option<String>,
    /// `in` or `out`.
    #[serde(default, deserialize_with = "lenient::text")]
    stage: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    description: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    display_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    backend: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    color: Option<String>,
    /// With `sourceBucketId`: link the bucket that project shares instead of creating one.
    #[serde(default, deserialize_with = "lenient::text")]
    source_project_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    source_bucket_id: Option<String>,
}

/// A bucket's changes.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BucketChangesInput {
    #[serde(default, deserialize_with = "lenient::text")]
    display_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    description: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    color: Option<String>,
}

/// How to delete a bucket.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DeleteQuery {
    /// Delete its tables too.
    #[serde(default, deserialize_with = "lenient::flag")]
    force: Option<bool>,
    /// Answer a job (202) at once instead of deleting before answering.
    #[serde(default, rename = "async", deserialize_with = "lenient::flag")]
    run_async: Option<bool>,
}

async fn list_buckets(
    State(state): State<AppState>,
    caller: Caller,
    Params(query): Params<BucketQuery>,
    Params(page): Params<Page>,
) -> ApiResult<Json<Vec<BucketView>>> {
    let include = query.include;
    let with = |part: &str| include.as_ref().is_some_and(|parts| parts.iter().any(|p| p == part));
    let shape = BucketShape { detail: false, attributes: include.is_none() };
    let grant = caller.token.authorize(AnyToken)?;
    let views = page.of(buckets::list(&caller.ctx, &grant, with("metadata")).await?)?;
    Ok(Json(
        views
            .iter()
            .map(|view| {
                views::bucket(&state.core, &view.bucket, view.metadata.as_deref(), view.sharing.as_ref(), shape)
            })
            .collect(),
    ))
}

async fn create_bucket(
    State(state): State<AppState>,
    caller: Caller,
    Input(body): Input<NewBucketInput>,
) -> ApiResult<Response> {
    let input = NewBucket {
        name: body.name,
        stage: body.stage,
        description: body.description,
        display_name: body.display_name,
        backend: body.backend,
        color: body.color,
        source_project_id: body.source_project_id,
        source_bucket_id: body.source_bucket_id,
    };
    let grant = caller.token.authorize(CreateBuckets)?;
    let bucket = buckets::create(&caller.ctx, &grant, input).await?;
    let view = views::bucket(&state.core, &bucket, Some(&[]), None, BucketShape { detail: true, attributes: true });
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

async fn get_bucket(State(state): State<AppState>, wants: Wants<ReadBucket>) -> ApiResult<Json<BucketView>> {
    let Allowed { grant, ctx } = wants.allowed()?;
    let view = buckets::detail(&ctx, &grant).await?;
    let shape = BucketShape { detail: true, attributes: true };
    Ok(Json(views::bucket(&state.core, &view.bucket, view.metadata.as_deref(), view.sharing.as_ref(), shape)))
}

async fn update_bucket(
    State(state): State<AppState>,
    wants: Wants<ManageBucket>,
    Input(body): Input<BucketChangesInput>,
) -> ApiResult<Json<BucketView>> {
    let changes = BucketChanges { display_name: body.display_name, description: body.description, color: body.color };
    let Allowed { grant, ctx } = wants.allowed()?;
    let view = buckets::update(&ctx, &grant, changes).await?;
    let shape = BucketShape { detail: true, attributes: true };
    Ok(Json(views::bucket(&state.core, &view.bucket, view.metadata.as_deref(), view.sharing.as_ref(), shape)))
}

async fn delete_bucket(
    State(state): State<AppState>,
    wants: Wants<ManageBucket>,
    Params(query): Params<DeleteQuery>,
) -> ApiResult<Response> {
    let options = DeleteOptions { force: query.force.unwrap_or(false), run_async: query.run_async.unwrap_or(false) };
    let Allowed { grant, ctx } = wants.allowed()?;
    match buckets::delete(&ctx, grant, options).await? {
        Some(job) => Ok((StatusCode::ACCEPTED, Json(views::job(&state.core, &job))).into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

async fn list_bucket_events(
    State(state): State<AppState>,
    wants: Wants<ReadBucket>,
    Params(query): Params<EventQuery>,
    Params(page): Params<Page>,
) -> ApiResult<Json<Vec<EventView>>> {
    let Allowed { grant, ctx } = wants.allowed()?;
    let events = events::list_bucket(&ctx, &grant, query.params(&page)).await?;
    Ok(Json(events.iter().map(|event| views::event(&state.core, event)).collect()))
}
