//! `buckets/...`: create, list, detail, update, delete, events.

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use stowage_core::buckets::{self, BucketChanges, DeleteOptions, NewBucket};
use stowage_core::events;
use stowage_types::auth::{AnyToken, CreateBuckets, ManageBucket, ReadBucket};

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::input::{Body, Query};
use crate::openapi::Op;
use crate::routes::events::list_params;
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

async fn list_buckets(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query,
) -> ApiResult<Json<Vec<BucketView>>> {
    let include = query.list("include")?;
    let with = |part: &str| include.as_ref().is_some_and(|parts| parts.iter().any(|p| p == part));
    let shape = BucketShape { detail: false, attributes: include.is_none() };
    let grant = caller.token.authorize(AnyToken)?;
    let views = query.page_of(buckets::list(&caller.ctx, &grant, with("metadata")).await?)?;
    Ok(Json(
        views.iter().map(|view| views::bucket(&state.core, &view.bucket, view.metadata.as_deref(), shape)).collect(),
    ))
}

async fn create_bucket(State(state): State<AppState>, caller: Caller, Body(body): Body) -> ApiResult<Response> {
    let input = NewBucket {
        name: body.string("name")?,
        stage: body.string("stage")?,
        description: body.string("description")?,
        display_name: body.string("displayName")?,
        backend: body.string("backend")?,
        color: body.string("color")?,
    };
    let grant = caller.token.authorize(CreateBuckets)?;
    let bucket = buckets::create(&caller.ctx, &grant, input).await?;
    let view = views::bucket(&state.core, &bucket, Some(&[]), BucketShape { detail: true, attributes: true });
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

async fn get_bucket(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<BucketView>> {
    let grant = caller.token.authorize(ReadBucket(buckets::parse_id(caller.token.project_id, &id)?))?;
    let view = buckets::detail(&caller.ctx, &grant).await?;
    let shape = BucketShape { detail: true, attributes: true };
    Ok(Json(views::bucket(&state.core, &view.bucket, view.metadata.as_deref(), shape)))
}

async fn update_bucket(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<BucketView>> {
    let changes = BucketChanges {
        display_name: body.string("displayName")?,
        description: body.string("description")?,
        color: body.string("color")?,
    };
    let grant = caller.token.authorize(ManageBucket(buckets::parse_id(caller.token.project_id, &id)?))?;
    let view = buckets::update(&caller.ctx, &grant, changes).await?;
    let shape = BucketShape { detail: true, attributes: true };
    Ok(Json(views::bucket(&state.core, &view.bucket, view.metadata.as_deref(), shape)))
}

async fn delete_bucket(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query,
) -> ApiResult<Response> {
    let options = DeleteOptions {
        force: query.bool("force")?.unwrap_or(false),
        run_async: query.bool("async")?.unwrap_or(false),
    };
    let grant = caller.token.authorize(ManageBucket(buckets::parse_id(caller.token.project_id, &id)?))?;
    match buckets::delete(&caller.ctx, grant, options).await? {
        Some(job) => Ok((StatusCode::ACCEPTED, Json(views::job(&state.core, &job))).into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

async fn list_bucket_events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query,
) -> ApiResult<Json<Vec<EventView>>> {
    let grant = caller.token.authorize(ReadBucket(buckets::parse_id(caller.token.project_id, &id)?))?;
    let events = events::list_bucket(&caller.ctx, &grant, list_params(&query)?).await?;
    Ok(Json(events.iter().map(|event| views::event(&state.core, event)).collect()))
}
