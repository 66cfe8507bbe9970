//! `/console/...`: the web console. Signing in (email and password, or a pasted token), the
//! project picker and a project's page live here; the storage browser, API tokens and component
//! configurations in the submodules. Pages are rendered on the server and call the same core
//! functions as the API; the little JavaScript there is (copy, search, upload progress) only adds.
//!
//! Cookies: `stowage_session` (HttpOnly, SameSite=Strict, Secure on https) holds a random secret
//! whose hash is the session; `stowage_csrf` carries the sign-in form's CSRF value. Every form
//! that changes something sends its CSRF value back.

use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use cookie::{Cookie, SameSite};
use std::sync::Arc;

use stowage_core::console::{self, Session};
use stowage_core::{secrets, Ctx};
use stowage_types::auth::Token;

use crate::auth::{ClientAddress, RequestCtx};
use crate::error::ApiResult;
use crate::input::{Body, Fields};
use crate::routes::html::{render, Nav, Section};
use crate::routes::numeric_id;
use crate::{AppState, Table};
use maud::html;

/// Goes on with the value in `Ok`, or answers with the page in `Err` (sign-in, refusal, expired form).
macro_rules! or_answer {
    ($result:expr) => {
        match $result {
            Ok(value) => value,
            Err(response) => return Ok(response),
        }
    };
}

mod activity;
mod components;
mod storage;
mod tokens;
mod users;

pub(crate) use components::ReachCache;

const SESSION: &str = "stowage_session";
const CSRF: &str = "stowage_csrf";

pub(crate) fn register(t: Table) -> Table {
    let t = t
        .page(Method::GET, "/console", sign_in_page)
        .page(Method::POST, "/console/sign-in", sign_in)
        .page(Method::POST, "/console/sign-in-token", sign_in_with_token)
        .page(Method::POST, "/console/sign-out", sign_out)
        .page(Method::GET, "/console/projects", project_picker)
        .page(Method::GET, "/console/static/console.js", crate::routes::html::script)
        .page(Method::GET, "/console/static/console.css", crate::routes::html::stylesheet);
    let t = activity::register(t);
    let t = users::register(t);
    let t = storage::register(t);
    let t = components::register(t);
    tokens::register(t)
}

/// The value of the cookie `name` the browser sent (read by the `cookie` crate).
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == name)
        .map(|cookie| cookie.value().to_string())
}

fn set_cookie(state: &AppState, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let cookie = Cookie::build((name, value))
        .path("/console")
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(cookie::time::Duration::seconds(max_age))
        .secure(state.core.stack.public_url.starts_with("https://"))
        .build();
    HeaderValue::from_str(&cookie.to_string()).expect("cookie values are hex")
}

fn redirect(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response()
}

fn same(a: &str, b: &str) -> bool {
    secrets::hash(a) == secrets::hash(b)
}

async fn current(state: &AppState, headers: &HeaderMap) -> ApiResult<Option<(String, Session)>> {
    let Some(secret) = cookie(headers, SESSION) else { return Ok(None) };
    Ok(console::session(&state.core, &secret).await?.map(|session| (secret, session)))
}

fn new_csrf() -> String {
    secrets::hash(&uuid::Uuid::now_v7().to_string())
}

/// The sign-in page, with an error next to the form that caused it.
fn sign_in_form(state: &AppState, status: StatusCode, email_error: &str, token_error: &str) -> Response {
    let csrf = new_csrf();
    let body = html! {
        form method="post" action="/console/sign-in" {
            h2 { "Sign in" }
            label for="email" { "Email" }
            input #email name="email" type="email" autocomplete="username" required;
            label for="password" { "Password" }
            input #password name="password" type="password" autocomplete="current-password" required;
            @if !email_error.is_empty() { p.error role="alert" { (email_error) } }
            input type="hidden" name="csrf" value=(csrf);
            button type="submit" { "Sign in" }
        }
        form method="post" action="/console/sign-in-token" {
            h2 { "Or use an API token" }
            label for="token" { "API token" }
            input #token name="token" type="password" autocomplete="off" required;
            @if !token_error.is_empty() { p.error role="alert" { (token_error) } }
            input type="hidden" name="csrf" value=(csrf);
            button type="submit" { "Open storage" }
        }
    };
    let mut response = render(status, &format!("Stowage · {}", state.core.stack.name), body);
    response.headers_mut().append(header::SET_COOKIE, set_cookie(state, CSRF, &csrf, 3600));
    response
}

async fn sign_in_page(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    if current(&state, &headers).await?.is_some() {
        return Ok(redirect("/console/projects"));
    }
    Ok(sign_in_form(&state, StatusCode::OK, "", ""))
}

fn csrf_ok(headers: &HeaderMap, body: &crate::input::Fields) -> bool {
    match (cookie(headers, CSRF), body.string("csrf").ok().flatten()) {
        (Some(expected), Some(given)) if !given.is_empty() => same(&expected, &given),
        _ => false,
    }
}

fn expired_form() -> Response {
    let body =
        html! { p { "The sign-in form expired or came from elsewhere. " a href="/console" { "Open it again" } "." } };
    render(StatusCode::BAD_REQUEST, "The form expired", body)
}

fn signed_in(state: &AppState, secret: &str) -> Response {
    let mut response = redirect("/console/projects");
    response.headers_mut().append(header::SET_COOKIE, set_cookie(state, SESSION, secret, console::SESSION_TTL_SECS));
    response
}

async fn sign_in(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    Body(body): Body,
) -> ApiResult<Response> {
    if !csrf_ok(&headers, &body) {
        return Ok(expired_form());
    }
    let email = body.string("email")?.unwrap_or_default();
    let password = body.string("password")?.unwrap_or_default();
    match console::sign_in(&state.core, &email, password, address).await {
        Ok(secret) => Ok(signed_in(&state, &secret)),
        Err(error) if matches!(error.code.status(), 401 | 429) => {
            let status = StatusCode::from_u16(error.code.status()).unwrap_or(StatusCode::UNAUTHORIZED);
            Ok(sign_in_form(&state, status, &error.message, ""))
        }
        Err(error) => Err(error.into()),
    }
}

async fn sign_in_with_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    Body(body): Body,
) -> ApiResult<Response> {
    if !csrf_ok(&headers, &body) {
        return Ok(expired_form());
    }
    let token = body.string("token")?.unwrap_or_default();
    match console::sign_in_with_token(&state.core, &token).await {
        Ok(secret) => Ok(signed_in(&state, &secret)),
        Err(error) if error.code.status() == 401 => {
            Ok(sign_in_form(&state, StatusCode::UNAUTHORIZED, "", &error.message))
        }
        Err(error) => Err(error.into()),
    }
}

async fn sign_out(State(state): State<AppState>, headers: HeaderMap, Body(body): Body) -> ApiResult<Response> {
    if let Some((secret, session)) = current(&state, &headers).await? {
        let given = body.string("csrf")?.unwrap_or_default();
        if !same(&session.csrf, &given) {
            return Ok(expired_form());
        }
        console::sign_out(&state.core, &secret).await?;
    }
    let mut response = redirect("/console");
    response.headers_mut().append(header::SET_COOKIE, set_cookie(&state, SESSION, "", 0));
    Ok(response)
}

/// The header of a signed-in page: the projects the session can open, who it is, and where the
/// page is (`here`: a project and its section).
async fn nav(state: &AppState, session: &Session, here: Option<(i64, Section)>) -> ApiResult<Nav> {
    let projects = console::projects(&state.core, session).await?;
    let who = match (&session.user, &session.token) {
        (Some(user), _) => format!("Signed in as {}", user.email),
        (None, Some(token)) => format!("Signed in with the token \"{}\"", token.description),
        _ => String::new(),
    };
    Ok(Nav {
        stack: state.core.stack.name.clone(),
        who,
        csrf: session.csrf.clone(),
        projects: projects.into_iter().map(|(project, _)| (project.id, project.name)).collect(),
        here,
    })
}

async fn project_picker(State(state): State<AppState>, SignedIn(session): SignedIn) -> ApiResult<Response> {
    let projects = console::projects(&state.core, &session).await?;
    let body = html! {
        @if projects.is_empty() {
            p { "You are not a member of any project yet." }
        } @else {
            table.cards {
                thead { tr { th { "Project" } th { "Id" } th { "Role" } } }
                tbody { @for (project, role) in &projects {
                    tr {
                        td { a href={ "/console/projects/" (project.id) } { (project.name) } }
                        td data-label="Id" { (project.id) }
                        td data-label="Role" { (role.map_or("token", |r| r.as_str())) }
                    }
                } }
            }
        }
    };
    Ok(nav(&state, &session, None).await?.render(StatusCode::OK, "Projects", body))
}

/// A signed-in page outside any project (the project picker): the session, or the sign-in page.
pub(super) struct SignedIn(pub(super) Session);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match current(state, &parts.headers).await {
            Ok(Some((_, session))) => Ok(SignedIn(session)),
            Ok(None) => Err(redirect("/console")),
            Err(error) => Err(error.into_response()),
        }
    }
}

/// A signed-in page of one project (the path's `{id}`): the session, the token it acts with there,
/// and the request's context, which carries the caller into events as an API request does. Without
/// a session the page answers with the sign-in page; a project the session cannot open is a 403 page.
pub(super) struct Signed {
    pub(super) session: Session,
    pub(super) token: Arc<Token>,
    pub(super) project_id: i64,
    pub(super) ctx: Ctx,
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let RequestCtx(ctx) = RequestCtx::from_request_parts(parts, state).await.unwrap_or_else(|never| match never {});
        let params = RawPathParams::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
        let project = params.iter().find_map(|(name, value)| (name == "id").then(|| value.to_string()));
        let acting = async {
            let Some((_, session)) = current(state, &parts.headers).await? else {
                return Ok(Err(redirect("/console")));
            };
            let project_id = numeric_id(project.as_deref().unwrap_or_default())?;
            Ok(match session_token(state, &session, project_id).await? {
                Some(token) => Ok((session, token, project_id)),
                None => {
                    let body = html! {
                        p { "You cannot open this project. " a href="/console/projects" { "Back to your projects" } "." }
                    };
                    Err(render(StatusCode::FORBIDDEN, "Not available", body))
                }
            })
        };
        let acting: ApiResult<Result<_, Response>> = acting.await;
        match acting {
            Ok(Ok((session, token, project_id))) => Ok(Signed { session, token, project_id, ctx }),
            Ok(Err(page)) => Err(page),
            Err(error) => Err(error.into_response()),
        }
    }
}

/// The token a session acts with in a project: the pasted token in its own project, or the
/// signed-in person's master token there; `None` when the session cannot open the project.
async fn session_token(state: &AppState, session: &Session, project_id: i64) -> ApiResult<Option<Arc<Token>>> {
    Ok(match (&session.user, &session.token) {
        (_, Some(token)) if token.project_id == project_id => Some(token.clone()),
        (Some(user), None) => console::member_token(&state.core, user.id, project_id).await?,
        _ => None,
    })
}

/// A form sent from a signed-in page: [`Signed`] and the form's fields, which carry the session's
/// CSRF value (else the page says the form expired). A body that cannot be read is a 400 first.
pub(super) struct SignedForm {
    pub(super) signed: Signed,
    pub(super) body: Fields,
}

impl FromRequest<AppState> for SignedForm {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let signed = Signed::from_request_parts(&mut parts, state).await;
        let Body(body) =
            Body::from_request(Request::from_parts(parts, body), state).await.map_err(IntoResponse::into_response)?;
        let signed = signed?;
        if !check_csrf(&signed.session, &body) {
            return Err(expired_form());
        }
        Ok(SignedForm { signed, body })
    }
}

fn check_csrf(session: &Session, body: &crate::input::Fields) -> bool {
    body.string("csrf").ok().flatten().is_some_and(|given| same(&session.csrf, &given))
}

/// Column names typed into one field, separated by commas.
fn column_list(text: &str) -> Vec<String> {
    text.split(',').map(str::trim).filter(|column| !column.is_empty()).map(str::to_string).collect()
}

/// Where a mail with a one-time link (`link`, what it is) went, in words for the page.
fn delivered(link: &str, to: &str, delivery: &stowage_core::mail::Delivery) -> String {
    match delivery {
        stowage_core::mail::Delivery::Smtp => format!("{link} was sent to {to}."),
        stowage_core::mail::Delivery::Outbox(file) => {
            format!("{link} for {to} was written to {file} in the stack's data dir (no SMTP server is configured).")
        }
    }
}

/// A 4xx from core as a message for the page, a 5xx as an error for the log.
fn user_message(error: stowage_types::Error) -> ApiResult<String> {
    if error.code.status() < 500 {
        Ok(error.message)
    } else {
        Err(error.into())
    }
}

/// A refused or failed lookup as a page a person can read (5xx stay errors for the log).
fn problem(error: stowage_types::Error) -> ApiResult<Response> {
    let status = StatusCode::from_u16(error.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status.is_server_error() {
        return Err(error.into());
    }
    Ok(render(status, "Not available", html! { p.error { (error.message) } }))
}
