//! `files/...`: prepare an upload, list, detail (with download credentials on request), delete,
//! tags, and a token-authenticated download.

use axum::body::Body as HttpBody;
use axum::extract::{Path, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::TryStreamExt;
use serde_json::{json, Value};
use stowage_core::files::{self, BlobAccess, ListParams, PrepareRequest, SasPermission};
use stowage_core::records::FileRecord;
use stowage_core::Core;
use stowage_types::auth::AnyToken;
use stowage_types::time::format;

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::input::{Body, Query};
use crate::routes::numeric_id;
use crate::{AppState, Table};

pub(crate) fn register(t: Table) -> Table {
    t.add(Method::POST, "/v2/storage/files/prepare", prepare_file)
        .add(Method::GET, "/v2/storage/files", list_files)
        .add(Method::GET, "/v2/storage/files/{id}", get_file)
        .add(Method::DELETE, "/v2/storage/files/{id}", delete_file)
        .add(Method::POST, "/v2/storage/files/{id}/tags", add_file_tag)
        .add(Method::DELETE, "/v2/storage/files/{id}/tags/{tag}", remove_file_tag)
        .add(Method::GET, "/v2/storage/files/{id}/download", download_file)
}

/// The connection string an Azure client uses: our endpoint plus the SAS.
fn credentials(core: &Core, access: &BlobAccess) -> Value {
    json!({
        "SASConnectionString": format!("BlobEndpoint={}/{};SharedAccessSignature={}", core.stack.public_url, files::ACCOUNT, access.sas),
        "expiration": format(access.expires),
    })
}

/// A file as the API shows it.
pub(crate) fn file_view(core: &Core, file: &FileRecord) -> Value {
    json!({
        "id": file.id,
        "created": format(file.created),
        "isPublic": file.is_public,
        "isSliced": false,
        "isEncrypted": file.is_encrypted,
        "isPermanent": file.is_permanent,
        "isExpired": false,
        "name": file.name,
        "url": format!("{}/files/{}/download", core.storage_url(), file.id),
        "provider": "azure",
        "region": core.stack.name,
        "sizeBytes": file.size_bytes.unwrap_or(0),
        "contentType": file.content_type,
        "tags": file.tags,
        "maxAgeDays": file.max_age_days,
        "runId": file.run_id,
        "runIds": file.run_id.iter().collect::<Vec<_>>(),
        "creatorToken": { "id": file.creator_token_id.to_string(), "description": file.creator_token_description },
        "federationToken": false,
    })
}

async fn prepare_file(State(state): State<AppState>, caller: Caller, Body(body): Body) -> ApiResult<Response> {
    let request = PrepareRequest {
        name: body.string("name")?,
        size_bytes: body.int("sizeBytes")?,
        tags: body.list("tags")?.unwrap_or_default(),
        is_public: body.bool("isPublic")?.unwrap_or(false),
        is_permanent: body.bool("isPermanent")?.unwrap_or(false),
        is_encrypted: body.bool("isEncrypted")?.unwrap_or(true),
        is_sliced: body.bool("isSliced")?.unwrap_or(false),
        content_type: body.string("contentType")?,
    };
    body.bool("notify")?;
    body.bool("federationToken")?;
    let grant = caller.token.authorize(AnyToken)?;
    let (file, access) = files::prepare(&caller.ctx, &grant, request).await?;
    let mut view = file_view(&state.core, &file);
    view["absUploadParams"] = json!({
        "blobName": access.blob_name,
        "accountName": files::ACCOUNT,
        "container": access.container,
        "absCredentials": credentials(&state.core, &access),
    });
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

async fn list_files(State(state): State<AppState>, caller: Caller, Query(query): Query) -> ApiResult<Json<Value>> {
    let params = ListParams {
        paging: query.paging()?,
        tags: query.list("tags")?.unwrap_or_default(),
        q: query.string("q")?.filter(|q| !q.trim().is_empty()),
        since_id: query.int("sinceId")?,
        max_id: query.int("maxId")?,
        run_id: query.string("runId")?.filter(|r| !r.is_empty()),
    };
    let grant = caller.token.authorize(AnyToken)?;
    let list = files::list(&caller.ctx, &grant, params).await?;
    Ok(Json(Value::Array(list.iter().map(|file| file_view(&state.core, file)).collect())))
}

async fn get_file(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query,
) -> ApiResult<Json<Value>> {
    let id = numeric_id(&id)?;
    let federation = query.bool("federationToken")?.unwrap_or(false);
    let grant = caller.token.authorize(AnyToken)?;
    let file = files::get(&caller.ctx, &grant, id).await?;
    let mut view = file_view(&state.core, &file);
    if federation {
        let access = files::blob_access(&state.core, &file, SasPermission::Read);
        view["absPath"] = json!({ "container": access.container, "name": access.blob_name });
        view["absCredentials"] = credentials(&state.core, &access);
    }
    Ok(Json(view))
}

async fn delete_file(caller: Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let id = numeric_id(&id)?;
    let grant = caller.token.authorize(AnyToken)?;
    files::delete(&caller.ctx, &grant, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn add_file_tag(caller: Caller, Path(id): Path<String>, Body(body): Body) -> ApiResult<StatusCode> {
    let id = numeric_id(&id)?;
    let tag = body.string("tag")?.unwrap_or_default();
    let grant = caller.token.authorize(AnyToken)?;
    files::add_tag(&caller.ctx, &grant, id, tag).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_file_tag(caller: Caller, Path((id, tag)): Path<(String, String)>) -> ApiResult<StatusCode> {
    let id = numeric_id(&id)?;
    let grant = caller.token.authorize(AnyToken)?;
    files::remove_tag(&caller.ctx, &grant, id, tag).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn download_file(caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let id = numeric_id(&id)?;
    let grant = caller.token.authorize(AnyToken)?;
    let (file, body) = files::download(&caller.ctx, &grant, id).await?;
    let body = HttpBody::from_stream(body.map_err(std::io::Error::other));
    let disposition = format!("attachment; filename=\"{}\"", file.name.replace(['"', '\\', '\r', '\n'], "_"));
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_LENGTH, file.size_bytes.unwrap_or(0).to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}
