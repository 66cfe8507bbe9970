//! The HTTP boundary of Stowage: a thin adapter from requests to `stowage-core` calls.
//!
//! Layout, in reading order:
//! - [`router`]: every route of the stack, built through one table so tests can list them all.
//! - [`error`]: `ApiError`, the Keboola error body.
//! - [`input`]: form/JSON/query parsing with PHP array conventions and lenient booleans.
//! - [`auth`]: the `Caller` and `ManageCaller` extractors.
//! - [`views`]: JSON shapes of records.
//! - `routes::*`: handlers, one module per resource, mirroring the URL.

pub mod auth;
pub mod error;
pub mod input;
mod metrics;
mod openapi;
mod routes;
pub mod views;

use axum::extract::{DefaultBodyLimit, Request};
use axum::handler::Handler;
use axum::http::{Method, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter};
use axum::Router;
use stowage_core::Core;
use stowage_types::Code;

use crate::auth::BranchRef;
use crate::error::ApiError;

/// State shared by handlers.
#[derive(Clone)]
pub struct AppState {
    pub core: Core,
    /// What the writer's and extractor's tokens reach, as the console last asked.
    pub(crate) reach: routes::console::ReachCache,
}

/// Largest request body accepted (configurations and their state may reach 4 MB each).
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Collects routes and remembers each (method, path), with its part of the API contract, for
/// [`route_table`] and [`api_document`].
struct Table {
    router: Router<AppState>,
    routes: Vec<(Method, String, Option<openapi::Op>)>,
}

impl Table {
    fn new() -> Self {
        Table { router: Router::new(), routes: Vec::new() }
    }

    fn route<H, T>(mut self, method: Method, path: &str, handler: H, op: Option<openapi::Op>) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).expect("standard method");
        self.router = self.router.route(path, on(filter, handler));
        self.routes.push((method, path.to_string(), op));
        self
    }

    /// An API route, described by `op` and by what its handler reads in the OpenAPI document.
    fn add<H, T>(self, method: Method, path: &str, handler: H, mut op: openapi::Op) -> Self
    where
        H: Handler<T, AppState>,
        T: openapi::DescribeAll + 'static,
    {
        T::describe_all(&mut op);
        self.route(method, path, handler, Some(op))
    }

    /// A console page: HTML for people, outside the API contract.
    fn page<H, T>(self, method: Method, path: &str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.route(method, path, handler, None)
    }
}

fn table() -> Table {
    let t = Table::new();
    let t = routes::index::register(t);
    let t = routes::reference::register(t);
    let t = routes::health::register(t);
    let t = routes::tokens::register(t);
    let t = routes::buckets::register(t);
    let t = routes::events::register(t);
    let t = routes::branches::register(t);
    let t = routes::jobs::register(t);
    let t = routes::share::register(t);
    let t = routes::files::register(t);
    let t = routes::abs::register(t);
    let t = routes::tables::register(t);
    let t = routes::metadata::register(t);
    let t = routes::components::register(t);
    let t = routes::triggers::register(t);
    let t = routes::scheduler::register(t);
    let t = routes::queue::register(t);
    let t = routes::console::register(t);
    let t = routes::organizations::register(t);
    let t = routes::sharing::register(t);
    routes::manage::register(t)
}

/// Every (method, path) the stack serves, with paths as registered (`{param}` placeholders).
/// Storage routes are also served under `/v2/storage/branch/{branch}/...`.
pub fn route_table() -> Vec<(Method, String)> {
    table().routes.into_iter().map(|(method, path, _)| (method, path)).collect()
}

/// The OpenAPI 3.1 document of every API route (console pages are not part of it), as JSON.
pub fn api_document() -> serde_json::Value {
    let routes = table().routes;
    let described = routes.iter().filter_map(|(method, path, op)| Some((method, path.as_str(), op.as_ref()?)));
    serde_json::to_value(openapi::document(described)).expect("the document serializes")
}

/// Routes served without a token. Everything else takes a `Caller`, a `Wants<P>` or a `ManageCaller`, or
/// is a console page in [`SIGNED_IN`]. The blob endpoint (`/abs/...`) checks the SAS in its query string
/// instead of a token; a share or password link is its own credential; sign-out ends whatever session
/// comes with it.
pub const PUBLIC: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/v2/storage"),
    ("GET", "/openapi.json"),
    ("GET", "/api-reference"),
    ("GET", "/health/live"),
    ("GET", "/health/ready"),
    ("GET", "/tokens/shared/{link}"),
    ("POST", "/tokens/shared/{link}"),
    ("PUT", "/abs/{container}/{*blob}"),
    ("GET", "/abs/{container}/{*blob}"),
    ("GET", "/console"),
    ("GET", "/console/static/console.js"),
    ("GET", "/console/static/console.css"),
    ("POST", "/console/sign-in"),
    ("POST", "/console/sign-in-token"),
    ("POST", "/console/sign-out"),
    ("GET", "/console/password/{link}"),
    ("POST", "/console/password/{link}"),
];

/// Console pages for a signed-in person: they take the console session (the `Signed`, `SignedForm`
/// or `SignedIn` extractors of `routes::console`, which send a visitor without one back to sign in, and
/// check a form's CSRF value; the upload, which a script calls, checks the session and its CSRF header
/// itself and answers in JSON); API tokens open none of them.
pub const SIGNED_IN: &[(&str, &str)] = &[
    ("GET", "/console/projects"),
    ("GET", "/console/projects/{id}"),
    ("POST", "/console/projects/{id}/buckets"),
    ("GET", "/console/projects/{id}/buckets/{bucket}"),
    ("GET", "/console/projects/{id}/tables/{table}"),
    ("GET", "/console/projects/{id}/buckets/{bucket}/delete"),
    ("POST", "/console/projects/{id}/buckets/{bucket}/delete"),
    ("POST", "/console/projects/{id}/tables/{table}/primary-key"),
    ("GET", "/console/projects/{id}/tables/{table}/delete"),
    ("POST", "/console/projects/{id}/tables/{table}/delete"),
    ("POST", "/console/projects/{id}/buckets/{bucket}/upload"),
    ("GET", "/console/projects/{id}/tables/{table}/download"),
    ("GET", "/console/projects/{id}/tokens"),
    ("POST", "/console/projects/{id}/tokens"),
    ("GET", "/console/projects/{id}/tokens/{token}"),
    ("GET", "/console/projects/{id}/tokens/{token}/refresh"),
    ("POST", "/console/projects/{id}/tokens/{token}/refresh"),
    ("POST", "/console/projects/{id}/tokens/{token}/edit"),
    ("POST", "/console/projects/{id}/tokens/{token}/delete"),
    ("POST", "/console/projects/{id}/tokens/{token}/share"),
    ("GET", "/console/projects/{id}/components/{component}"),
    ("POST", "/console/projects/{id}/components/{component}"),
    ("GET", "/console/projects/{id}/components/{component}/{config}"),
    ("POST", "/console/projects/{id}/components/{component}/{config}/target"),
    ("POST", "/console/projects/{id}/components/{component}/{config}/rows"),
    ("POST", "/console/projects/{id}/components/{component}/{config}/triggers"),
    ("POST", "/console/projects/{id}/components/{component}/{config}/triggers/{trigger}/delete"),
    ("POST", "/console/projects/{id}/components/{component}/{config}/schedules"),
    ("POST", "/console/projects/{id}/components/{component}/{config}/schedules/{schedule}/delete"),
    ("GET", "/console/projects/{id}/components/{component}/{config}/rows/{row}"),
    ("POST", "/console/projects/{id}/components/{component}/{config}/rows/{row}"),
    ("POST", "/console/projects/{id}/components/{component}/{config}/rows/{row}/enabled"),
    ("POST", "/console/projects/{id}/components/{component}/{config}/rows/{row}/move"),
    ("POST", "/console/projects/{id}/components/{component}/{config}/rows/{row}/delete"),
    ("POST", "/console/projects/{id}/components/{component}/{config}/rows/{row}/run"),
    ("POST", "/console/projects/{id}/components/{component}/{config}/run"),
    ("POST", "/console/projects/{id}/components/{component}/{config}/delete"),
    ("GET", "/console/projects/{id}/jobs/{job}"),
    ("GET", "/console/projects/{id}/jobs"),
    ("GET", "/console/projects/{id}/storage-jobs/{job}"),
    ("GET", "/console/projects/{id}/events"),
    ("GET", "/console/projects/{id}/users"),
    ("POST", "/console/projects/{id}/users"),
    ("POST", "/console/projects/{id}/users/remove"),
    ("POST", "/console/projects/{id}/users/link"),
    ("POST", "/console/projects/{id}/users/password"),
    ("POST", "/console/projects/{id}/jobs/{job}/terminate"),
];

/// The application: all routes, branch-prefix and trailing-slash handling, JSON 404/405s.
pub fn router(core: Core) -> Router {
    let state = AppState { core, reach: Default::default() };
    let inner = table()
        .router
        .fallback(|request: Request| async move {
            // A person who follows a stale console link gets a page, not the API's JSON.
            if request.uri().path().starts_with("/console") {
                return routes::html::not_found_page();
            }
            ApiError::new(Code::NotFound, "The requested resource was not found (resource not found).").into_response()
        })
        .method_not_allowed_fallback(|request: Request| async move {
            // `DELETE tokens/` is an id left empty, not a method on the list: Keboola answers 404.
            if request.extensions().get::<TrailingSlash>().is_some() {
                ApiError::new(Code::NotFound, "The requested resource was not found (resource not found).")
            } else {
                ApiError::new(Code::MethodNotAllowed, "This method is not allowed on this resource.")
            }
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), metrics::record))
        .with_state(state);
    Router::new().fallback_service(inner).layer(middleware::from_fn(normalize_path))
}

/// Rewrites `/v2/storage/branch/{branch}/rest` to `/v2/storage/rest`, remembering the branch for
/// the `Caller` extractor to check, and strips one trailing slash (`/v2/storage/` is the index).
/// Marks a request whose path ended with `/` before [`normalize_path`] took it off.
#[derive(Clone, Copy)]
struct TrailingSlash;

async fn normalize_path(mut request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let mut new_path = path.clone();
    if let Some(rest) = path.strip_prefix("/v2/storage/branch/") {
        let (branch, tail) = rest.split_once('/').unwrap_or((rest, ""));
        request.extensions_mut().insert(BranchRef(branch.to_string()));
        new_path = format!("/v2/storage/{tail}");
    }
    if new_path.len() > 1 && new_path.ends_with('/') && !new_path.ends_with("//") {
        new_path.pop();
        request.extensions_mut().insert(TrailingSlash);
    }
    if new_path != path {
        let query = request.uri().query().map(|q| format!("?{q}")).unwrap_or_default();
        match format!("{new_path}{query}").parse::<Uri>() {
            Ok(uri) => *request.uri_mut() = uri,
            Err(_) => return ApiError::new(Code::NotFound, "The requested resource was not found.").into_response(),
        }
    }
    next.run(request).await
}
