//! Users & Settings: a project's members (an admin adds a person by email with a role, removes one,
//! or mails a one-time link to set a console password), changing one's own password, and the public
//! page behind a password link.

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use maud::{html, Markup};

use stowage_core::console::Session;
use stowage_core::members;
use stowage_types::auth::Role;

use super::{delivered, nav, redirect, user_message, Signed, SignedForm};
use crate::auth::ClientAddress;
use crate::error::ApiResult;
use crate::input::Body;
use crate::routes::html::{ago, form_error, render, Section};
use crate::{AppState, Table};

pub(super) fn register(t: Table) -> Table {
    t.page(Method::GET, "/console/projects/{id}/users", users_page)
        .page(Method::POST, "/console/projects/{id}/users", add_member)
        .page(Method::POST, "/console/projects/{id}/users/remove", remove_member)
        .page(Method::POST, "/console/projects/{id}/users/link", send_link)
        .page(Method::POST, "/console/projects/{id}/users/password", change_password)
        .page(Method::GET, "/console/password/{link}", link_page)
        .page(Method::POST, "/console/password/{link}", set_with_link)
}

/// What the mails of this page carry.
const LINK: &str = "A one-time link to set a password";

/// What the last form on the page did, shown next to it.
#[derive(Default)]
enum Feedback {
    #[default]
    Nothing,
    Notice(String),
    MembersFailed(String),
    PasswordFailed(String),
}

async fn users_page(State(state): State<AppState>, signed: Signed) -> ApiResult<Response> {
    let Signed { session, project_id, .. } = signed;
    users_view(&state, &session, project_id, Feedback::Nothing).await
}

async fn users_view(state: &AppState, session: &Session, project_id: i64, feedback: Feedback) -> ApiResult<Response> {
    let nav = nav(state, session, Some((project_id, Section::Users))).await?;
    let listed = members::list(&state.core, session, project_id).await;
    let (members, is_admin, refusal) = match listed {
        Ok((members, is_admin)) => (members, is_admin, None),
        Err(error) if error.code.status() == 403 => (Vec::new(), false, Some(error.message)),
        Err(error) => return Err(error.into()),
    };
    let (notice, members_error, password_error) = match &feedback {
        Feedback::Nothing => ("", "", ""),
        Feedback::Notice(text) => (text.as_str(), "", ""),
        Feedback::MembersFailed(text) => ("", text.as_str(), ""),
        Feedback::PasswordFailed(text) => ("", "", text.as_str()),
    };
    let base = format!("/console/projects/{project_id}/users");
    let me = session.user.as_ref().map(|user| user.email.as_str());
    let body = html! {
        @if !notice.is_empty() { p role="status" { (notice) } }
        @if let Some(refusal) = &refusal { p.muted { (refusal) } }
        @if refusal.is_none() {
            h2 { "Members" }
            table.cards #members {
                thead { tr { th { "Email" } th { "Role" } th { "Added" } th { "Actions" } } }
                tbody { @for member in &members {
                    @let email = member.user.email.as_str();
                    tr {
                        td data-label="Email" { (email) @if Some(email) == me { " " span.muted { "(you)" } } }
                        td data-label="Role" { (member.role.as_str()) }
                        td data-label="Added" { (ago(member.created)) }
                        td { @if is_admin && Some(email) != me {
                            (member_form(&base, "/link", email, "Send password link", None, &session.csrf))
                            (member_form(&base, "/remove", email, "Remove",
                                Some(&format!("Remove {email} from the project? Their master token is deleted.")), &session.csrf))
                        } }
                    }
                } }
            }
            @if is_admin {
                h2 { "Add a member" }
                form method="post" action=(base) {
                    label for="member-email" { "Email" }
                    input #member-email name="email" type="email" required;
                    label for="member-role" { "Role" }
                    select #member-role name="role" {
                        @for role in [Role::Admin, Role::Guest, Role::ReadOnly, Role::Share] {
                            option value=(role.as_str()) { (role.as_str()) }
                        }
                    }
                    p.muted { "A person without a console password gets a one-time link by mail to set one." }
                    (form_error(members_error))
                    input type="hidden" name="csrf" value=(session.csrf);
                    button type="submit" { "Add member" }
                }
            } @else {
                (form_error(members_error))
            }
        }
        @if session.user.is_some() {
            h2 { "Your password" }
            form method="post" action={ (base) "/password" } {
                label for="current-password" { "Current password" }
                input #current-password name="current" type="password" autocomplete="current-password" required;
                (new_password_fields())
                (form_error(password_error))
                input type="hidden" name="csrf" value=(session.csrf);
                button type="submit" { "Change password" }
            }
            p.muted { "Changing it signs you out everywhere, here too." }
        }
    };
    let status = match feedback {
        Feedback::MembersFailed(_) | Feedback::PasswordFailed(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    };
    Ok(nav.render(status, "Users & Settings", body))
}

/// A one-button form about one member.
fn member_form(base: &str, action: &str, email: &str, label: &str, confirm: Option<&str>, csrf: &str) -> Markup {
    html! {
        form.inline method="post" action={ (base) (action) } data-confirm=[confirm] {
            input type="hidden" name="email" value=(email);
            input type="hidden" name="csrf" value=(csrf);
            button type="submit" { (label) }
        }
    }
}

/// The new password, twice.
fn new_password_fields() -> Markup {
    html! {
        label for="new-password" { "New password (at least 12 characters)" }
        input #new-password name="password" type="password" autocomplete="new-password" minlength="12" required;
        label for="repeat-password" { "New password again" }
        input #repeat-password name="repeat" type="password" autocomplete="new-password" required;
    }
}

/// The new password of a form, when both fields agree.
fn new_password(body: &crate::input::Fields) -> ApiResult<Result<String, String>> {
    let password = body.string("password")?.unwrap_or_default();
    let repeat = body.string("repeat")?.unwrap_or_default();
    Ok(if password == repeat { Ok(password) } else { Err("The two new passwords differ.".into()) })
}

async fn add_member(State(state): State<AppState>, SignedForm { signed, body }: SignedForm) -> ApiResult<Response> {
    let Signed { session, project_id, .. } = signed;
    let email = body.string("email")?.unwrap_or_default().trim().to_lowercase();
    let role = body.string("role")?.unwrap_or_default();
    let feedback = match members::add(&state.core, &session, project_id, email.clone(), role.clone()).await {
        Ok(None) => Feedback::Notice(format!("Added {email} as {role}; they sign in with their password.")),
        Ok(Some(delivery)) => {
            Feedback::Notice(format!("Added {email} as {role}. {}", delivered(LINK, &email, &delivery)))
        }
        Err(error) => Feedback::MembersFailed(user_message(error)?),
    };
    users_view(&state, &session, project_id, feedback).await
}

async fn remove_member(State(state): State<AppState>, SignedForm { signed, body }: SignedForm) -> ApiResult<Response> {
    let Signed { session, project_id, .. } = signed;
    let email = body.string("email")?.unwrap_or_default();
    let feedback = match members::remove(&state.core, &session, project_id, &email).await {
        Ok(()) => Feedback::Notice(format!("Removed {email}; their master token is deleted.")),
        Err(error) => Feedback::MembersFailed(user_message(error)?),
    };
    users_view(&state, &session, project_id, feedback).await
}

async fn send_link(State(state): State<AppState>, SignedForm { signed, body }: SignedForm) -> ApiResult<Response> {
    let Signed { session, project_id, .. } = signed;
    let email = body.string("email")?.unwrap_or_default();
    let feedback = match members::send_link(&state.core, &session, project_id, &email).await {
        Ok(delivery) => Feedback::Notice(delivered(LINK, &email, &delivery)),
        Err(error) => Feedback::MembersFailed(user_message(error)?),
    };
    users_view(&state, &session, project_id, feedback).await
}

async fn change_password(
    State(state): State<AppState>,
    SignedForm { signed, body }: SignedForm,
) -> ApiResult<Response> {
    let Signed { session, project_id, .. } = signed;
    let new = match new_password(&body)? {
        Ok(new) => new,
        Err(text) => return users_view(&state, &session, project_id, Feedback::PasswordFailed(text)).await,
    };
    let current = body.string("current")?.unwrap_or_default();
    match members::change_own(&state.core, &session, current, new).await {
        // The session was bound to the old password and has ended: sign in with the new one.
        Ok(()) => Ok(redirect("/console")),
        Err(error) => {
            let feedback = Feedback::PasswordFailed(user_message(error)?);
            users_view(&state, &session, project_id, feedback).await
        }
    }
}

fn link_gone() -> Response {
    let body = html! {
        p { "This link was already used, or it expired (links work once, for 72 hours)." }
        p { "Ask an admin of your project to send a new one, or " a href="/console" { "sign in" } "." }
    };
    render(StatusCode::GONE, "This link is no longer available", body)
}

fn link_form(email: &str, error: &str, status: StatusCode) -> Response {
    let body = html! {
        p { "Choose the console password for " strong { (email) } "." }
        form method="post" {
            (new_password_fields())
            (form_error(error))
            button type="submit" { "Set password" }
        }
    };
    render(status, "Set your password", body)
}

/// `GET /console/password/{link}`: the form. Public: the link's secret part is the credential; a
/// `GET` never uses the link up, so mail scanners that open links do not burn it.
async fn link_page(State(state): State<AppState>, Path(link): Path<String>) -> ApiResult<Response> {
    Ok(match members::link_user(&state.core, &link).await? {
        Some(user) => link_form(&user.email, "", StatusCode::OK),
        None => link_gone(),
    })
}

async fn set_with_link(
    State(state): State<AppState>,
    Path(link): Path<String>,
    ClientAddress(address): ClientAddress,
    Body(body): Body,
) -> ApiResult<Response> {
    let Some(user) = members::link_user(&state.core, &link).await? else { return Ok(link_gone()) };
    let password = match new_password(&body)? {
        Ok(password) => password,
        Err(text) => return Ok(link_form(&user.email, &text, StatusCode::BAD_REQUEST)),
    };
    match members::set_with_link(&state.core, &link, password, address).await {
        Ok(true) => {
            let body =
                html! { p { "Your password is set. " a href="/console" { "Sign in" } " with " (user.email) "." } };
            Ok(render(StatusCode::OK, "Password set", body))
        }
        Ok(false) => Ok(link_gone()),
        Err(error) => {
            let status = StatusCode::from_u16(error.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
            Ok(link_form(&user.email, &user_message(error)?, status))
        }
    }
}
