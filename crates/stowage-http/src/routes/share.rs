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
use crate::openapi::Op;
use crate::routes::html::render;
use crate::{AppState, Table};
use maud::{html, Markup};

pub(crate) fn register(t: Table) -> Table {
    t.add(Method::GET, "/tokens/shared/{link}", show_share_page, Op::html("The page of a shared token's link")).add(
        Method::POST,
        "/tokens/shared/{link}",
        reveal_shared_token,
        Op::html("Show the shared token, once"),
    )
}

fn gone() -> Response {
    let body = html! {
        p { "The token behind this link was already retrieved, or the link expired (links work once, for 2 hours)." }
        p { "Ask the person who sent it to share the token again." }
    };
    render(StatusCode::GONE, "This link is no longer available", body)
}

async fn show_share_page(State(state): State<AppState>, Path(link): Path<String>) -> ApiResult<Response> {
    if !tokens::share_is_available(&state.core, &link).await? {
        return Ok(gone());
    }
    let body = html! {
        p {
            "Someone shared a Stowage API token with you. It can be shown " strong { "only once" }
            ": have a safe place ready to store it."
        }
        form method="post" { button type="submit" { "Show the token" } }
    };
    Ok(render(StatusCode::OK, "An API token was shared with you", body))
}

fn welcome(shared: &SharedToken) -> Markup {
    let token = &shared.token;
    let reaches = !token.bucket_grants.is_empty() || token.can_manage_buckets() || !token.component_access.is_empty();
    html! {
        p {
            "Welcome! This token, " strong { (token.description) } ", gives access to project "
            strong { (shared.project.name) } " (id " (shared.project.id) ") on the Stowage stack "
            strong { (shared.stack_name) } "."
        }
        @if reaches {
            p { "It can:" }
            ul {
                @for (bucket, access) in &token.bucket_grants {
                    li {
                        (if *access == BucketAccess::Write { "read and write" } else { "read" })
                        " bucket " strong { (bucket) }
                    }
                }
                @if token.can_manage_buckets() { li { "manage every bucket of the project, including new ones" } }
                @if !token.component_access.is_empty() {
                    li { "configure and run components: " (token.component_access.join(", ")) }
                }
            }
        } @else {
            p { "It does not reach any bucket yet." }
        }
        @if let Some(expires) = token.expires { p { "It expires at " (stowage_types::time::format(expires)) "." } }
        p { "Your token (shown only this once):" }
        code #token { (shared.secret) }
        p { "Use it in the " code.inline { "X-StorageApi-Token" } " header." }
    }
}

async fn reveal_shared_token(State(state): State<AppState>, Path(link): Path<String>) -> ApiResult<Response> {
    match tokens::retrieve_shared(&state.core, &link).await? {
        Some(shared) => Ok(render(StatusCode::OK, "Your API token", welcome(&shared))),
        None => Ok(gone()),
    }
}
