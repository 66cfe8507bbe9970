//! `GET /health/live` and `GET /health/ready`, for load balancers and orchestrators. Public: they
//! carry no data, only whether this process runs and whether what it needs answers.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::openapi::Op;
use crate::{AppState, Table};

/// The process runs.
#[derive(Serialize, ToSchema)]
pub(crate) struct Liveness {
    /// Always `ok`.
    status: &'static str,
}

/// Whether the process can serve, and what it needs: `ok` or `unavailable` each.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Readiness {
    status: &'static str,
    catalog: &'static str,
    object_store: &'static str,
}

pub(crate) fn register(t: Table) -> Table {
    t.add(Method::GET, "/health/live", live, Op::ok::<Liveness>("Whether this process answers")).add(
        Method::GET,
        "/health/ready",
        ready,
        Op::ok::<Readiness>("Whether this process can serve").or::<Readiness>(503, "What it needs does not answer."),
    )
}

/// The process answers requests.
async fn live() -> Json<Liveness> {
    Json(Liveness { status: "ok" })
}

/// The process can serve: its catalog and object store answer. 503 otherwise, so a load balancer
/// sends requests elsewhere.
async fn ready(State(state): State<AppState>) -> Response {
    let readiness = state.core.readiness().await;
    let word = |up: bool| if up { "ok" } else { "unavailable" };
    let ready = readiness.catalog && readiness.object_store;
    let body =
        Readiness { status: word(ready), catalog: word(readiness.catalog), object_store: word(readiness.object_store) };
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(body)).into_response()
}
