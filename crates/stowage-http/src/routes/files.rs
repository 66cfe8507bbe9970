//! `files/...`: prepare an upload, list, detail (with download credentials on request), delete,
//! tags, and a token-authenticated download.

use axum::body::Body as HttpBody;
use axum::extract::{Path, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use stowage_core::files::{self, BlobAccess, ListParams, PrepareRequest, SasPermission};
use stowage_core::records::FileRecord;
use stowage_core::Core;
use stowage_types::auth::AnyToken;
use stowage_types::time::format;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::input::{lenient, Input, Page, Params};
use crate::openapi::Op;
use crate::routes::numeric_id;
use crate::views::TokenRefView;
use crate::{AppState, Table};

pub(crate) fn register(t: Table) -> Table {
    t.add(
        Method::POST,
        "/v2/storage/files/prepare",
        prepare_file,
        Op::created::<FileView>("Prepare an upload (answers where and how to upload)"),
    )
    .add(Method::GET, "/v2/storage/files", list_files, Op::list::<FileView>("List files"))
    .add(
        Method::GET,
        "/v2/storage/files/{id}",
        get_file,
        Op::ok::<FileView>("File detail (with download credentials on `federationToken`)"),
    )
    .add(Method::DELETE, "/v2/storage/files/{id}", delete_file, Op::empty("Delete a file"))
    .add(Method::POST, "/v2/storage/files/{id}/tags", add_file_tag, Op::empty("Tag a file"))
    .add(Method::DELETE, "/v2/storage/files/{id}/tags/{tag}", remove_file_tag, Op::empty("Remove a file's tag"))
    .add(
        Method::GET,
        "/v2/storage/files/{id}/download",
        download_file,
        Op::bytes("Download a file's bytes", "application/octet-stream"),
    )
}

/// What an Azure client needs to reach a blob: our endpoint plus the SAS.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AbsCredentials {
    #[serde(rename = "SASConnectionString")]
    sas_connection_string: String,
    expiration: String,
}

fn credentials(core: &Core, access: &BlobAccess) -> AbsCredentials {
    let endpoint = format!("{}/{}", core.stack.public_url, files::ACCOUNT);
    AbsCredentials {
        sas_connection_string: format!("BlobEndpoint={endpoint};SharedAccessSignature={}", access.sas),
        expiration: format(access.expires),
    }
}

/// Where to upload a prepared file.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AbsUploadParams {
    blob_name: String,
    account_name: &'static str,
    container: String,
    abs_credentials: AbsCredentials,
}

/// Where a file's blob is.
#[derive(Serialize, ToSchema)]
pub(crate) struct AbsPath {
    container: String,
    name: String,
}

/// A file.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = File)]
pub(crate) struct FileView {
    id: i64,
    created: String,
    is_public: bool,
    is_sliced: bool,
    is_encrypted: bool,
    is_permanent: bool,
    is_expired: bool,
    name: String,
    url: String,
    /// Always `azure`: files go through the Azure-Blob-compatible endpoint.
    provider: &'static str,
    region: String,
    size_bytes: i64,
    content_type: Option<String>,
    tags: Vec<String>,
    max_age_days: i64,
    run_id: Option<String>,
    run_ids: Vec<String>,
    creator_token: TokenRefView,
    federation_token: bool,
    /// Only in the answer to `prepare`.
    #[serde(skip_serializing_if = "Option::is_none")]
    abs_upload_params: Option<AbsUploadParams>,
    /// Only with `federationToken`.
    #[serde(skip_serializing_if = "Option::is_none")]
    abs_path: Option<AbsPath>,
    /// Only with `federationToken`.
    #[serde(skip_serializing_if = "Option::is_none")]
    abs_credentials: Option<AbsCredentials>,
}

/// A file as the API shows it.
pub(crate) fn file_view(core: &Core, file: &FileRecord) -> FileView {
    FileView {
        id: file.id,
        created: format(file.created),
        is_public: file.is_public,
        is_sliced: false,
        is_encrypted: file.is_encrypted,
        is_permanent: file.is_permanent,
        is_expired: false,
        name: file.name.clone(),
        url: format!("{}/files/{}/download", core.storage_url(), file.id),
        provider: "azure",
        region: core.stack.name.clone(),
        size_bytes: file.size_bytes.unwrap_or(0),
        content_type: file.content_type.clone(),
        tags: file.tags.clone(),
        max_age_days: file.max_age_days,
        run_id: file.run_id.clone(),
        run_ids: file.run_id.iter().cloned().collect(),
        creator_token: TokenRefView {
            id: file.creator_token_id.to_string(),
            description: file.creator_token_description.clone(),
        },
        federation_token: false,
        abs_upload_params: None,
        abs_path: None,
        abs_credentials: None,
    }
}

/// A file about to be uploaded.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PrepareInput {
    #[serde(default, deserialize_with = "lenient::text")]
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient::int")]
    size_bytes: Option<i64>,
    #[serde(default, deserialize_with = "lenient::list")]
    tags: Option<Vec<String>>,
    #[serde(default, deserialize_with = "lenient::flag")]
    is_public: Option<bool>,
    /// Kept until deleted (otherwise 15 days).
    #[serde(default, deserialize_with = "lenient::flag")]
    is_permanent: Option<bool>,
    /// True unless set.
    #[serde(default, deserialize_with = "lenient::flag")]
    is_encrypted: Option<bool>,
    #[serde(default, deserialize_with = "lenient::flag")]
    is_sliced: Option<bool>,
    #[serde(default, deserialize_with = "lenient::text")]
    content_type: Option<String>,
    /// Accepted and ignored.
    #[serde(default, deserialize_with = "lenient::flag")]
    notify: Option<bool>,
    /// Accepted and ignored: the answer always carries Azure upload credentials.
    #[serde(default, deserialize_with = "lenient::flag")]
    federation_token: Option<bool>,
}

/// Which files to list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FileQuery {
    /// Files with all of these tags.
    #[serde(default, deserialize_with = "lenient::list")]
    tags: Option<Vec<String>>,
    /// Words of the name.
    #[serde(default, deserialize_with = "lenient::text")]
    q: Option<String>,
    #[serde(default, deserialize_with = "lenient::int")]
    since_id: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    max_id: Option<i64>,
    #[serde(default, deserialize_with = "lenient::text")]
    run_id: Option<String>,
}

/// What to add to a file's detail.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FileDetailQuery {
    /// Add credentials to download the file through the blob endpoint.
    #[serde(default, deserialize_with = "lenient::flag")]
    federation_token: Option<bool>,
}

/// A tag to add.
#[derive(Deserialize, ToSchema)]
pub(crate) struct TagInput {
    #[serde(default, deserialize_with = "lenient::text")]
    tag: Option<String>,
}

async fn prepare_file(
    State(state): State<AppState>,
    caller: Caller,
    Input(body): Input<PrepareInput>,
) -> ApiResult<Response> {
    let _ignored = (body.notify, body.federation_token);
    let request = PrepareRequest {
        name: body.name,
        size_bytes: body.size_bytes,
        tags: body.tags.unwrap_or_default(),
        is_public: body.is_public.unwrap_or(false),
        is_permanent: body.is_permanent.unwrap_or(false),
        is_encrypted: body.is_encrypted.unwrap_or(true),
        is_sliced: body.is_sliced.unwrap_or(false),
        content_type: body.content_type,
    };
    let grant = caller.token.authorize(AnyToken)?;
    let (file, access) = files::prepare(&caller.ctx, &grant, request).await?;
    let mut view = file_view(&state.core, &file);
    view.abs_upload_params = Some(AbsUploadParams {
        abs_credentials: credentials(&state.core, &access),
        blob_name: access.blob_name,
        account_name: files::ACCOUNT,
        container: access.container,
    });
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

async fn list_files(
    State(state): State<AppState>,
    caller: Caller,
    Params(query): Params<FileQuery>,
    Params(page): Params<Page>,
) -> ApiResult<Json<Vec<FileView>>> {
    let params = ListParams {
        paging: page.paging(),
        tags: query.tags.unwrap_or_default(),
        q: query.q.filter(|q| !q.trim().is_empty()),
        since_id: query.since_id,
        max_id: query.max_id,
        run_id: query.run_id.filter(|r| !r.is_empty()),
    };
    let grant = caller.token.authorize(AnyToken)?;
    let list = files::list(&caller.ctx, &grant, params).await?;
    Ok(Json(list.iter().map(|file| file_view(&state.core, file)).collect()))
}

async fn get_file(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Params(query): Params<FileDetailQuery>,
) -> ApiResult<Json<FileView>> {
    let id = numeric_id(&id)?;
    let federation = query.federation_token.unwrap_or(false);
    let grant = caller.token.authorize(AnyToken)?;
    let file = files::get(&caller.ctx, &grant, id).await?;
    let mut view = file_view(&state.core, &file);
    if federation {
        let access = files::blob_access(&state.core, &file, SasPermission::Read);
        view.abs_credentials = Some(credentials(&state.core, &access));
        view.abs_path = Some(AbsPath { container: access.container, name: access.blob_name });
    }
    Ok(Json(view))
}

async fn delete_file(caller: Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let id = numeric_id(&id)?;
    let grant = caller.token.authorize(AnyToken)?;
    files::delete(&caller.ctx, &grant, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn add_file_tag(caller: Caller, Path(id): Path<String>, Input(body): Input<TagInput>) -> ApiResult<StatusCode> {
    let id = numeric_id(&id)?;
    let tag = body.tag.unwrap_or_default();
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
