//! `GET /v2/storage`: the API index. Public: clients call it with any token or none. And `GET /`,
//! which a person opens in a browser: it leads to the console.

use axum::extract::State;
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::input::{lenient, Params};
use crate::openapi::Op;
use crate::{AppState, Table};

pub(crate) fn register(t: Table) -> Table {
    t.add(Method::GET, "/v2/storage", index, Op::ok::<Index>("The API index: the stack, its regions and services")).add(
        Method::GET,
        "/",
        root,
        Op::redirect("The stack's root: on to the console"),
    )
}

/// A region of the stack's group.
#[derive(Serialize, ToSchema)]
pub(crate) struct Region {
    name: String,
    url: String,
}

/// The stack that answers.
#[derive(Serialize, ToSchema)]
pub(crate) struct Stack {
    name: String,
    url: String,
    regions: Vec<Region>,
}

/// A service of the stack and where it is.
#[derive(Serialize, ToSchema)]
pub(crate) struct Service {
    id: &'static str,
    url: String,
}

/// The Storage API's index.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Index {
    /// Always `storage`.
    api: &'static str,
    /// Always `v2`.
    version: &'static str,
    revision: &'static str,
    documentation: &'static str,
    stack: Stack,
    services: Vec<Service>,
    features: Vec<String>,
    url_templates: BTreeMap<String, String>,
    /// Left out with `exclude=components`.
    #[serde(skip_serializing_if = "Option::is_none")]
    components: Option<Vec<Value>>,
}

/// The stack's root: a browser goes on to the console; the API lives below `/v2/storage`.
async fn root() -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, "/console")]).into_response()
}

/// What to leave out of the index.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct IndexQuery {
    /// Comma-separated parts to leave out: `components`.
    #[serde(default, deserialize_with = "lenient::text")]
    exclude: Option<String>,
}

async fn index(State(state): State<AppState>, Params(query): Params<IndexQuery>) -> Json<Index> {
    let core = &state.core;
    let root = &core.stack.public_url;
    let exclude = query.exclude.unwrap_or_default();
    let regions = core.stack.regions.iter().map(|r| Region { name: r.name.clone(), url: r.url.clone() }).collect();
    Json(Index {
        api: "storage",
        version: "v2",
        revision: env!("CARGO_PKG_VERSION"),
        documentation: "https://keboola.docs.apiary.io/",
        stack: Stack { name: core.stack.name.clone(), url: root.clone(), regions },
        services: vec![
            Service { id: "storage", url: root.clone() },
            Service { id: "queue", url: format!("{root}/queue") },
            Service { id: "sync-actions", url: format!("{root}/sync-actions") },
        ],
        features: Vec::new(),
        url_templates: BTreeMap::from([(
            "orchestrationJob".to_string(),
            "/orchestrations/{{orchestrationId}}/jobs/{{jobId}}".to_string(),
        )]),
        components: (!exclude.split(',').any(|part| part.trim() == "components")).then(Vec::new),
    })
}
