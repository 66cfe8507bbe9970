//! The API tokens pages: list, create (the secret shown once), detail with events, edit,
//! refresh behind a confirmation, delete, and send by email.

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use std::sync::Arc;

use stowage_core::console::Session;
use stowage_core::events::ListParams;
use stowage_core::tokens::{self as token_ops, TokenRequest};
use stowage_core::{events, Ctx};
use stowage_types::auth::{AnyToken, ControlToken, CreateTokens, ManageTokens, ReadToken, Token};
use stowage_types::time::{format, Timestamp};
use stowage_types::Paging;

use super::{delivered, nav, problem, redirect, Signed, SignedForm};
use crate::error::ApiResult;
use crate::input::Fields;
use crate::routes::html::{ago, ago_or_never, form_error, Section};
use crate::routes::numeric_id;
use crate::{AppState, Table};
use maud::{html, Markup};

pub(super) fn register(t: Table) -> Table {
    t.page(Method::GET, "/console/projects/{id}/tokens", tokens_page)
        .page(Method::POST, "/console/projects/{id}/tokens", create_token)
        .page(Method::GET, "/console/projects/{id}/tokens/{token}", token_page)
        .page(Method::GET, "/console/projects/{id}/tokens/{token}/refresh", confirm_refresh)
        .page(Method::POST, "/console/projects/{id}/tokens/{token}/refresh", refresh_token)
        .page(Method::POST, "/console/projects/{id}/tokens/{token}/edit", edit_token)
        .page(Method::POST, "/console/projects/{id}/tokens/{token}/delete", delete_token)
        .page(Method::POST, "/console/projects/{id}/tokens/{token}/share", share_token)
}

/// What a token may do, in a few words.
fn summary(token: &Token, bucket_ids: &[String]) -> String {
    if token.is_master() {
        return format!("master ({})", token.role().map(|r| r.as_str()).unwrap_or(""));
    }
    let mut parts: Vec<String> = if token.can_manage_buckets() {
        vec![format!("manage all {} buckets", bucket_ids.len())]
    } else {
        token.bucket_grants.iter().map(|(bucket, access)| format!("{} {bucket}", access.as_str())).collect()
    };
    if !token.component_access.is_empty() {
        parts.push(format!("components {}", token.component_access.join(", ")));
    }
    if parts.is_empty() {
        "no buckets".into()
    } else {
        parts.join("; ")
    }
}

/// A page in the API Tokens section.
async fn tokens_section(
    state: &AppState,
    session: &Session,
    project_id: i64,
    status: StatusCode,
    title: &str,
    body: Markup,
) -> ApiResult<Response> {
    Ok(nav(state, session, Some((project_id, Section::Tokens))).await?.render(status, title, body))
}

async fn secret_once(
    state: &AppState,
    session: &Session,
    project_id: i64,
    title: &str,
    secret: &str,
    back: &str,
) -> ApiResult<Response> {
    let body = html! {
        p { "Copy the token now: it is shown only this once." }
        code #secret { (secret) }
        button #copy type="button" data-copy="secret" { "Copy" }
        p { a href=(back) { "Back" } }
    };
    tokens_section(state, session, project_id, StatusCode::OK, title, body).await
}

/// The bucket, component and file-upload fields of the create and edit forms, set from `current`.
fn permission_fields(state: &AppState, bucket_ids: &[String], current: Option<&Token>) -> Markup {
    let read_all = current.is_some_and(|t| t.can_read_all_file_uploads_flag);
    html! {
        h3 { "Buckets" }
        @for bucket in bucket_ids {
            @let granted = current.and_then(|t| t.bucket_grants.get(bucket)).map_or("", |access| access.as_str());
            label for={ "b-" (bucket) } { (bucket) }
            select id={ "b-" (bucket) } name={ "bucket:" (bucket) } {
                @for (value, label) in [("", "no access"), ("read", "read"), ("write", "write")] {
                    option value=(value) selected[granted == value] { (label) }
                }
            }
        }
        h3 { "Components" }
        @for component in &state.core.stack.components {
            label {
                input type="checkbox" name={ "component:" (component.id) } value="1"
                    checked[current.is_some_and(|t| t.component_access.contains(&component.id))];
                " " (component.name) " (" (component.id) ")"
            }
        }
        label {
            input type="checkbox" name="canReadAllFileUploads" value="1" checked[read_all];
            " Read all file uploads"
        }
    }
}

/// The bucket grants and component access a create or edit form asks for.
fn form_permissions(body: &Fields) -> (Vec<(String, String)>, Vec<String>) {
    let fields = body.0.as_object().cloned().unwrap_or_default();
    let buckets = fields
        .iter()
        .filter_map(|(key, value)| Some((key.strip_prefix("bucket:")?.to_string(), value.as_str()?.to_string())))
        .filter(|(_, access)| !access.is_empty())
        .collect();
    let components = fields.keys().filter_map(|key| key.strip_prefix("component:").map(str::to_string)).collect();
    (buckets, components)
}

async fn tokens_list_page(
    state: &AppState,
    ctx: &Ctx,
    session: &Session,
    token: &Arc<Token>,
    project_id: i64,
    error: &str,
) -> ApiResult<Response> {
    let list = token_ops::list(ctx, &token.authorize(AnyToken)?).await?;
    let bucket_ids = list.first().map(|view| view.bucket_ids.clone()).unwrap_or_default();
    let body = html! {
        table.cards {
            thead { tr { th { "Description" } th { "Created" } th { "Expires" } th { "Last used" } th { "Permissions" } } }
            tbody { @for view in &list {
                @let t = &view.token;
                tr {
                    td { a href={ "/console/projects/" (project_id) "/tokens/" (t.id) } { (t.description) } }
                    td data-label="Created" { (ago(t.created)) }
                    td data-label="Expires" { (expires(t.expires)) }
                    td data-label="Last used" { (ago_or_never(t.last_used)) }
                    td data-label="Permissions" { (summary(t, &view.bucket_ids)) }
                }
            } }
        }
        @if token.authorize(CreateTokens).is_ok() {
            h2 { "New token" }
            form method="post" action={ "/console/projects/" (project_id) "/tokens" } {
                label for="description" { "Description" } input #description name="description";
                (permission_fields(state, &bucket_ids, None))
                label { input type="checkbox" name="canManageBuckets" value="1"; " Manage all buckets" }
                label for="expiresIn" { "Expires in (seconds, empty for never)" }
                input #expiresIn name="expiresIn" inputmode="numeric";
                (form_error(error))
                input type="hidden" name="csrf" value=(session.csrf);
                button type="submit" { "Create token" }
            }
        }
    };
    let status = if error.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    tokens_section(state, session, project_id, status, "API tokens", body).await
}

/// When a token expires: the exact time (a future one reads better so), or "never".
fn expires(at: Option<Timestamp>) -> Markup {
    html! { @match at { Some(at) => time datetime=(format(at)) { (format(at)) }, None => "never" } }
}

async fn tokens_page(State(state): State<AppState>, signed: Signed) -> ApiResult<Response> {
    let Signed { session, token, project_id, ctx } = signed;
    tokens_list_page(&state, &ctx, &session, &token, project_id, "").await
}

async fn create_token(State(state): State<AppState>, SignedForm { signed, body }: SignedForm) -> ApiResult<Response> {
    let Signed { session, token, project_id, ctx } = signed;
    let (bucket_permissions, component_access) = form_permissions(&body);
    let expires_in = match body.string("expiresIn")?.filter(|v| !v.trim().is_empty()) {
        None => None,
        Some(text) => match text.trim().parse::<i64>() {
            Ok(seconds) => Some(seconds),
            Err(_) => {
                return tokens_list_page(
                    &state,
                    &ctx,
                    &session,
                    &token,
                    project_id,
                    "Expires in: give a number of seconds, or leave it empty.",
                )
                .await
            }
        },
    };
    let request = TokenRequest {
        description: body.string("description")?.filter(|d| !d.is_empty()),
        bucket_permissions: Some(bucket_permissions),
        component_access: Some(component_access),
        can_manage_buckets: body.bool("canManageBuckets")?,
        can_read_all_file_uploads: body.bool("canReadAllFileUploads")?,
        can_purge_trash: None,
        expires_in,
    };
    let grant = match token.authorize(CreateTokens) {
        Ok(grant) => grant,
        Err(error) => return tokens_list_page(&state, &ctx, &session, &token, project_id, &error.message).await,
    };
    match token_ops::create(&ctx, &grant, request).await {
        Ok(created) => {
            secret_once(
                &state,
                &session,
                project_id,
                "Token created",
                &created.secret,
                &format!("/console/projects/{project_id}/tokens/{}", created.view.token.id),
            )
            .await
        }
        Err(error) if error.code.status() < 500 => {
            tokens_list_page(&state, &ctx, &session, &token, project_id, &error.message).await
        }
        Err(error) => Err(error.into()),
    }
}

async fn token_page(
    State(state): State<AppState>,
    signed: Signed,
    Path((_, token_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let Signed { session, token, project_id, ctx } = signed;
    token_detail(&state, &ctx, &session, &token, project_id, &token_id, Feedback::Nothing).await
}

/// What the last form on a token's page did, shown next to that form.
#[derive(Default)]
enum Feedback {
    #[default]
    Nothing,
    Notice(String),
    EditFailed(String),
    ShareFailed(String),
}

async fn token_detail(
    state: &AppState,
    ctx: &Ctx,
    session: &Session,
    acting: &Arc<Token>,
    project_id: i64,
    token_id: &str,
    feedback: Feedback,
) -> ApiResult<Response> {
    let token_id = numeric_id(token_id)?;
    let (notice, edit_error, share_error) = match &feedback {
        Feedback::Nothing => ("", "", ""),
        Feedback::Notice(text) => (text.as_str(), "", ""),
        Feedback::EditFailed(text) => ("", text.as_str(), ""),
        Feedback::ShareFailed(text) => ("", "", text.as_str()),
    };
    let grant = acting.authorize(ReadToken(token_id))?;
    let view = token_ops::get(ctx, &grant).await?;
    let feed =
        events::list_token(ctx, &grant, ListParams { paging: Paging::first(50), ..ListParams::default() }).await?;
    let t = &view.token;
    let base = format!("/console/projects/{project_id}/tokens/{token_id}");
    let manage = acting.authorize(ManageTokens).is_ok();
    let body = html! {
        @if !notice.is_empty() { p role="status" { (notice) } }
        table { tbody {
            tr { th { "Id" } td { (t.id) } }
            tr { th { "Created" } td { (ago(t.created)) } }
            tr { th { "Expires" } td { (expires(t.expires)) } }
            tr { th { "Last used" } td { (ago_or_never(t.last_used)) } }
            tr { th { "Permissions" } td { (summary(t, &view.bucket_ids)) } }
        } }
        @if t.is_master() {
            p { "This is a master token: it is managed through the project's members, not here." }
        } @else {
            p { a href={ (base) "/refresh" } { "Refresh…" } }
            @if manage || acting.id == t.id {
                form method="post" action={ (base) "/delete" } data-confirm="Delete this token?" {
                    input type="hidden" name="csrf" value=(session.csrf);
                    button type="submit" { "Delete" }
                }
            }
            @if manage {
                h2 { "Edit" }
                form method="post" action={ (base) "/edit" } {
                    label for="description" { "Description" }
                    input #description name="description" value=(t.description);
                    (permission_fields(state, &view.bucket_ids, Some(t)))
                    (form_error(edit_error))
                    input type="hidden" name="csrf" value=(session.csrf);
                    button type="submit" { "Save" }
                }
                h2 { "Send token" }
                form method="post" action={ (base) "/share" } {
                    label for="recipientEmail" { "Email" }
                    input #recipientEmail name="recipientEmail" type="email" required;
                    label for="message" { "Message" } input #message name="message" required;
                    (form_error(share_error))
                    input type="hidden" name="csrf" value=(session.csrf);
                    button type="submit" { "Send" }
                }
            }
        }
        h2 { "Events" }
        table.cards #events {
            thead { tr { th { "Time" } th { "Event" } th { "Message" } } }
            tbody { @for event in &feed {
                tr {
                    td data-label="Time" { (ago(event.created)) }
                    td data-label="Event" { (event.data.event) }
                    td data-label="Message" { (event.data.message) }
                }
            } }
        }
    };
    let status = if edit_error.is_empty() && share_error.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    tokens_section(state, session, project_id, status, &t.description, body).await
}

async fn confirm_refresh(
    State(state): State<AppState>,
    signed: Signed,
    Path((_, token_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let Signed { session, project_id, .. } = signed;
    let token_id = numeric_id(&token_id)?;
    let base = format!("/console/projects/{project_id}/tokens/{token_id}");
    let body = html! {
        p { "A new secret replaces the current one, which stops working at once." }
        form method="post" action={ (base) "/refresh" } {
            input type="hidden" name="csrf" value=(session.csrf);
            button type="submit" { "Refresh" }
        }
        p { a href=(base) { "Cancel" } }
    };
    tokens_section(&state, &session, project_id, StatusCode::OK, "Refresh this token?", body).await
}

async fn refresh_token(
    State(state): State<AppState>,
    Path((_, token_id)): Path<(String, String)>,
    SignedForm { signed, .. }: SignedForm,
) -> ApiResult<Response> {
    let Signed { session, token, project_id, ctx } = signed;
    let token_id = numeric_id(&token_id)?;
    let refreshed = async { token_ops::refresh(&ctx, &token.authorize(ControlToken(token_id))?).await }.await;
    let refreshed = match refreshed {
        Ok(refreshed) => refreshed,
        Err(error) => return problem(error),
    };
    let back = format!("/console/projects/{project_id}/tokens/{token_id}");
    secret_once(&state, &session, project_id, "Token refreshed", &refreshed.secret, &back).await
}

async fn edit_token(
    State(state): State<AppState>,
    Path((_, token_id)): Path<(String, String)>,
    SignedForm { signed, body }: SignedForm,
) -> ApiResult<Response> {
    let Signed { session, token, project_id, ctx } = signed;
    let numeric = numeric_id(&token_id)?;
    let (bucket_permissions, component_access) = form_permissions(&body);
    let request = TokenRequest {
        description: body.string("description")?,
        bucket_permissions: Some(bucket_permissions),
        component_access: Some(component_access),
        can_manage_buckets: None,
        // An unchecked box is absent from the form: that means "no".
        can_read_all_file_uploads: Some(body.bool("canReadAllFileUploads")?.unwrap_or(false)),
        can_purge_trash: None,
        expires_in: None,
    };
    let result = async { token_ops::update(&ctx, &token.authorize(ManageTokens)?, numeric, request).await }.await;
    let feedback = match result {
        Ok(_) => Feedback::Notice("Saved.".into()),
        Err(error) if error.code.status() < 500 => Feedback::EditFailed(error.message),
        Err(error) => return Err(error.into()),
    };
    token_detail(&state, &ctx, &session, &token, project_id, &token_id, feedback).await
}

async fn delete_token(
    Path((_, token_id)): Path<(String, String)>,
    SignedForm { signed, .. }: SignedForm,
) -> ApiResult<Response> {
    let Signed { token, project_id, ctx, .. } = signed;
    let token_id = numeric_id(&token_id)?;
    let deleted = async { token_ops::delete(&ctx, &token.authorize(ControlToken(token_id))?).await }.await;
    if let Err(error) = deleted {
        return problem(error);
    }
    Ok(redirect(&format!("/console/projects/{project_id}/tokens")))
}

async fn share_token(
    State(state): State<AppState>,
    Path((_, token_id)): Path<(String, String)>,
    SignedForm { signed, body }: SignedForm,
) -> ApiResult<Response> {
    let Signed { session, token, project_id, ctx } = signed;
    let numeric = numeric_id(&token_id)?;
    let email = body.string("recipientEmail")?;
    let message = body.string("message")?;
    let result =
        async { token_ops::share(&ctx, &token.authorize(ManageTokens)?, numeric, email.clone(), message).await }.await;
    match result {
        Ok(delivery) => {
            let email = email.unwrap_or_default();
            let notice = delivered("A one-time link", &email, &delivery);
            token_detail(&state, &ctx, &session, &token, project_id, &token_id, Feedback::Notice(notice)).await
        }
        Err(error) if error.code.status() < 500 => {
            token_detail(&state, &ctx, &session, &token, project_id, &token_id, Feedback::ShareFailed(error.message))
                .await
        }
        Err(error) => Err(error.into()),
    }
}
