//! `ApiError`: renders a domain error as Keboola's error body and logs internal causes once.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use stowage_types::{Code, Error};
use utoipa::ToSchema;

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        ApiError(error)
    }
}

impl ApiError {
    /// Shorthand for an error with a code and message.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ApiError(Error::new(code, message))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let error = self.0;
        let exception_id = format!("exception-{}", uuid::Uuid::now_v7().simple());
        if let Some(cause) = &error.cause {
            tracing::error!(exception_id, cause, "internal error");
        }
        let status = StatusCode::from_u16(error.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = ErrorBody { error: error.message, code: error.code.wire(), status: "error", exception_id };
        (status, Json(body)).into_response()
    }
}

/// The error body every failure carries (Keboola's).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Error)]
pub struct ErrorBody {
    /// What went wrong, for a person.
    pub error: String,
    /// A stable code for programs (for example `storage.tables.notFound`).
    pub code: &'static str,
    /// Always `error`.
    pub status: &'static str,
    /// The id under which the server logged the failure.
    pub exception_id: String,
}

/// The result type of handlers.
pub type ApiResult<T> = Result<T, ApiError>;
