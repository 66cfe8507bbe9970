//! `/tokens/shared/{link}`: the page a recipient of a shared token opens. Public: the link's
//! secret part is the credential. `GET` shows a page with a button; `POST` (the button) reveals
//! the token once. A `GET` never consumes the link, so mail scanners that prefetch links do not
//! burn it.

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use stowage_core::tokens::{self, SharedToken};
use stowage_types::auth::BucketAccess;

use crate::error::ApiResult;
use crate::routes::html::{escape, page};
use crate::{AppState, Table};

pub(crate) fn register(t: Table) -> Table {
    t.add(Method::GET, "/tokens/shared/{link}", show_share_page).add(
        Method::POST,
        "/tokens/shared/{link}",
        reveal_shared_token,
    )
}

fn gone() -> Response {
    page(
        StatusCode::GONE,
        "This link is no longer available",
        "<p>The token behind this link was already retrieved, or the link expired (links work once, for 2 hours).</p>\
         <p>Ask the person who sent it to share the token again.</p>",
    )
}

async fn show_share_page(State(state): State<AppState>, Path(link): Path<String>) -> ApiResult<Response> {
    if !tokens::share_is_available(&state.core, &link).await? {
        return Ok(gone());
    }
    Ok(page(
        StatusCode::OK,
        "An API token was shared with you",
        "<p>Someone shared a Stowage API token with you. It can be shown <strong>only once</strong>: \
         have a safe place ready to store it.</p>\
         <form method=\"post\"><button type=\"submit\">Show the token</button></form>",
    ))
}

fn welcome(shared: &SharedToken) -> String {
    let token = &shared.token;
    let mut reach: Vec<String> = token
        .bucket_grants
        .iter()
        .map(|(bucket, access)| {
            let verb = if *access == BucketAccess::Write { "read and write" } else { "read" };
            format!("<li>{verb} bucket <strong>{}</strong></li>", escape(bucket))
        })
        .collect();
    if token.can_manage_buckets() {
        reach.push("<li>manage every bucket of the project, including new ones</li>".into());
    }
    if !token.component_access.is_empty() {
        reach.push(format!("<li>configure and run components: {}</li>", escape(&token.component_access.join(", "))));
    }
    let reach = if reach.is_empty() {
        "<p>It does not reach any bucket yet.</p>".to_string()
    } else {
        format!("<p>It can:</p><ul>{}</ul>", reach.join(""))
    };
    let expires = token
        .expires
        .map(|ts| format!("<p>It expires at {}.</p>", stowage_types::time::format(ts)))
        .unwrap_or_default();
    format!(
        "<p>Welcome! This token, <strong>{}</strong>, gives access to project <strong>{}</strong> (id {}) on the \
         Stowage stack <strong>{}</strong>.</p>{reach}{expires}\
         <p>Your token (shown only this once):</p><code id=\"token\">{}</code>\
         <p>Use it in the <code style=\"display:inline;padding:0\">X-StorageApi-Token</code> header.</p>",
        escape(&token.description),
        escape(&shared.project.name),
        shared.project.id,
        escape(&shared.stack_name),
        escape(&shared.secret),
    )
}

async fn reveal_shared_token(State(state): State<AppState>, Path(link): Path<String>) -> ApiResult<Response> {
    match tokens::retrieve_shared(&state.core, &link).await? {
        Some(shared) => Ok(page(StatusCode::OK, "Your API token", &welcome(&shared))),
        None => Ok(gone()),
    }
}
