//! `GET /health/live` and `GET /health/ready`, for load balancers and orchestrators. Public: they
//! carry no data, only whether this process runs and whether what it needs answers.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::{AppState, Table};

pub(crate) fn register(t: Table) -> Table {
    t.add(Method::GET, "/health/live", live).add(Method::GET, "/health/ready", ready)
}

/// The process answers requests.
async fn live() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// The process can serve: its catalog and object store answer. 503 otherwise, so a load balancer
/// sends requests elsewhere.
async fn ready(State(state): State<AppState>) -> Response {
    let readiness = state.core.readiness().await;
    let word = |up: bool| if up { "ok" } else { "unavailable" };
    let ready = readiness.catalog && readiness.object_store;
    let body = json!({
        "status": word(ready),
        "catalog": word(readiness.catalog),
        "objectStore": word(readiness.object_store),
    });
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(body)).into_response()
}
