//! `GET /v2/storage`: the API index. Public: clients call it with any token or none. And `GET /`,
//! which a person opens in a browser: it leads to the console.

use axum::extract::State;
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::input::Query;
use crate::{AppState, Table};

pub(crate) fn register(t: Table) -> Table {
    t.add(Method::GET, "/v2/storage", index).add(Method::GET, "/", root)
}

/// The stack's root: a browser goes on to the console; the API lives below `/v2/storage`.
async fn root() -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, "/console")]).into_response()
}

async fn index(State(state): State<AppState>, Query(query): Query) -> Json<Value> {
    let core = &state.core;
    let root = &core.stack.public_url;
    let exclude = query.0.get("exclude").and_then(Value::as_str).unwrap_or("").to_string();
    let mut out = json!({
        "api": "storage",
        "version": "v2",
        "revision": env!("CARGO_PKG_VERSION"),
        "documentation": "https://keboola.docs.apiary.io/",
        "stack": {
            "name": core.stack.name,
            "url": root,
            "regions": core.stack.regions.iter().map(|r| json!({"name": r.name, "url": r.url})).collect::<Vec<_>>(),
        },
        "services": [
            { "id": "storage", "url": root },
            { "id": "queue", "url": format!("{root}/queue") },
            { "id": "sync-actions", "url": format!("{root}/sync-actions") },
        ],
        "features": [],
        "urlTemplates": {
            "orchestrationJob": "/orchestrations/{{orchestrationId}}/jobs/{{jobId}}",
        },
    });
    if !exclude.split(',').any(|part| part.trim() == "components") {
        out["components"] = json!([]);
    }
    Json(out)
}
