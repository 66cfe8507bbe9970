//! `/abs/{container}/{blob}`: the Azure-Blob-compatible endpoint clients upload to and download
//! from. Its only credential is the SAS in the query string (see `stowage_core::files`), and its
//! errors take Azure's shape: an XML body and an `x-ms-error-code` header.

use axum::body::Body as HttpBody;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;
use stowage_core::files::{self, BlobError, SasPermission};
use stowage_core::records::FileRecord;

use crate::input::block_list;
use crate::openapi::Op;
use crate::{AppState, Table};

/// Largest block list body accepted.
const MAX_BLOCK_LIST_BYTES: usize = 4 * 1024 * 1024;
const VERSION: &str = "2021-08-06";

pub(crate) fn register(t: Table) -> Table {
    t.add(
        Method::PUT,
        "/abs/{container}/{*blob}",
        put_blob,
        Op::status("Upload a blob, a block of it, or its block list", 201, "Stored.").raw_body(),
    )
    .add(
        Method::GET,
        "/abs/{container}/{*blob}",
        get_blob,
        Op::bytes("Download a blob (or the `Range` asked for, with 206)", "application/octet-stream"),
    )
}

/// An error in Azure's shape.
struct AzureError(BlobError);

impl IntoResponse for AzureError {
    fn into_response(self) -> Response {
        let (status, code, message) = match self.0 {
            BlobError::AuthenticationFailed(message) => (StatusCode::FORBIDDEN, "AuthenticationFailed", message),
            BlobError::PermissionMismatch => (
                StatusCode::FORBIDDEN,
                "AuthorizationPermissionMismatch",
                "This request is not authorized to perform this operation using this permission.".into(),
            ),
            BlobError::NotFound => (StatusCode::NOT_FOUND, "BlobNotFound", "The specified blob does not exist.".into()),
            BlobError::AlreadyExists => {
                (StatusCode::CONFLICT, "BlobAlreadyExists", "The specified blob already exists.".into())
            }
            BlobError::InvalidRange => (
                StatusCode::RANGE_NOT_SATISFIABLE,
                "InvalidRange",
                "The range specified is invalid for the current size of the resource.".into(),
            ),
            BlobError::InvalidBlockList(message) => (StatusCode::BAD_REQUEST, "InvalidBlockList", message),
            BlobError::Invalid(code, message) => (StatusCode::BAD_REQUEST, code, message),
            BlobError::LimitReached(message) => (StatusCode::CONFLICT, "StagingLimitReached", message),
            BlobError::Internal(error) => {
                tracing::error!(%error, "blob endpoint failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "InternalError", "The server encountered an internal error.".into())
            }
        };
        let request_id = uuid::Uuid::now_v7().to_string();
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code><Message>{}\nRequestId:{request_id}</Message></Error>",
            xml_escape(&message)
        );
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
        headers.insert("x-ms-error-code", HeaderValue::from_static(code));
        headers.insert("x-ms-request-id", HeaderValue::from_str(&request_id).expect("uuid is ASCII"));
        headers.insert("x-ms-version", HeaderValue::from_static(VERSION));
        response
    }
}

impl From<BlobError> for AzureError {
    fn from(error: BlobError) -> Self {
        AzureError(error)
    }
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn http_date(ts: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp(ts, 0)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// Headers every successful answer about a blob carries.
fn blob_headers(headers: &mut HeaderMap, file: &FileRecord) {
    let set = |headers: &mut HeaderMap, name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set(headers, "etag", files::etag(file));
    set(headers, "last-modified", http_date(file.uploaded.unwrap_or(file.created)));
    set(headers, "x-ms-request-id", uuid::Uuid::now_v7().to_string());
    set(headers, "x-ms-version", VERSION.into());
}

async fn put_blob(
    State(state): State<AppState>,
    Path((container, blob)): Path<(String, String)>,
    request: Request,
) -> Result<Response, AzureError> {
    let query = request.uri().query().unwrap_or("").to_string();
    let file = files::authorize_blob(&state.core, &container, &blob, &query, SasPermission::Write).await?;
    let headers = request.headers().clone();
    let body = request.into_body();
    let file = match files::query_value(&query, "comp").as_deref() {
        None => {
            let blob_type = headers.get("x-ms-blob-type").and_then(|v| v.to_str().ok()).unwrap_or("");
            if blob_type != "BlockBlob" {
                return Err(AzureError(BlobError::Invalid(
                    "InvalidHeaderValue",
                    format!("x-ms-blob-type must be BlockBlob, \"{blob_type}\" given."),
                )));
            }
            files::put_blob(&state.core, &file, body.into_data_stream()).await?
        }
        Some("block") => {
            let block_id = files::query_value(&query, "blockid").unwrap_or_default();
            files::put_block(&state.core, &file, &block_id, body.into_data_stream()).await?;
            let mut response = StatusCode::CREATED.into_response();
            blob_headers(response.headers_mut(), &file);
            response.headers_mut().insert("x-ms-request-server-encrypted", HeaderValue::from_static("true"));
            return Ok(response);
        }
        Some("blocklist") => {
            let bytes = axum::body::to_bytes(body, MAX_BLOCK_LIST_BYTES).await.map_err(|_| {
                AzureError(BlobError::Invalid("RequestBodyTooLarge", "The block list is too large.".into()))
            })?;
            let text = std::str::from_utf8(&bytes).map_err(|_| {
                AzureError(BlobError::Invalid("InvalidXmlDocument", "The block list is not UTF-8.".into()))
            })?;
            let ids = block_list(text).ok_or_else(|| {
                AzureError(BlobError::Invalid("InvalidXmlDocument", "The block list XML is not valid.".into()))
            })?;
            files::put_block_list(&state.core, &file, ids).await?
        }
        Some(other) => {
            return Err(AzureError(BlobError::Invalid(
                "InvalidQueryParameterValue",
                format!("comp={other} is not supported by this endpoint."),
            )))
        }
    };
    let mut response = StatusCode::CREATED.into_response();
    blob_headers(response.headers_mut(), &file);
    response.headers_mut().insert("x-ms-request-server-encrypted", HeaderValue::from_static("true"));
    Ok(response)
}

async fn get_blob(
    State(state): State<AppState>,
    Path((container, blob)): Path<(String, String)>,
    request: Request,
) -> Result<Response, AzureError> {
    let query = request.uri().query().unwrap_or("").to_string();
    let file = files::authorize_blob(&state.core, &container, &blob, &query, SasPermission::Read).await?;
    let headers = request.headers();
    let range = headers.get("x-ms-range").or_else(|| headers.get(header::RANGE)).and_then(|v| v.to_str().ok());
    let read = files::get_blob(&state.core, file, range).await?;
    let (status, length) = match &read.range {
        Some(range) => (StatusCode::PARTIAL_CONTENT, range.end - range.start),
        None => (StatusCode::OK, read.size),
    };
    let mut response = (status, HttpBody::from_stream(read.body.map_err(std::io::Error::other))).into_response();
    let out = response.headers_mut();
    blob_headers(out, &read.file);
    out.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    out.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    out.insert("x-ms-blob-type", HeaderValue::from_static("BlockBlob"));
    out.insert("x-ms-server-encrypted", HeaderValue::from_static("true"));
    out.insert("x-ms-lease-state", HeaderValue::from_static("available"));
    out.insert("x-ms-lease-status", HeaderValue::from_static("unlocked"));
    if let Ok(created) = HeaderValue::from_str(&http_date(read.file.created)) {
        out.insert("x-ms-creation-time", created);
    }
    if let Some(range) = &read.range {
        let value = format!("bytes {}-{}/{}", range.start, range.end - 1, read.size);
        out.insert(header::CONTENT_RANGE, HeaderValue::from_str(&value).expect("ASCII"));
    }
    Ok(response)
}
