//! `ApiError`: renders a domain error as Keboola's error body and logs internal causes once.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use stowage_types::{Code, Error};

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
        let body = json!({
            "error": error.message,
            "code": error.code.wire(),
            "status": "error",
            "exceptionId": exception_id,
        });
        (status, Json(body)).into_response()
    }
}

/// The result type of handlers.
pub type ApiResult<T> = Result<T, ApiError>;
