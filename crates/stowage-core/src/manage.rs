//! The manage API: projects, users and memberships. Adding a member creates the member's master
//! token (description = email); removing the member deletes it.

use std::sync::Arc;

use serde_json::json;
use stowage_store::{Reader, Writer};
use stowage_types::auth::{Role, Token, TokenRef};
use stowage_types::time::Timestamp;
use stowage_types::{time, Code, Error, Result};

use crate::auth::ManageGrant;
use crate::events::{record, Happened};
use crate::organizations::organization_not_found;
use crate::records::{Member, NewToken, Organization, Project, User};
use crate::{secrets, Ctx};

/// Longest project name accepted.
pub const MAX_PROJECT_NAME_LEN: usize = 255;

pub(crate) fn project_not_found(id: i64) -> Error {
    Error::new(Code::ProjectNotFound, format!("Project {id} not found"))
}

/// Stores a master token for `user` in `project_id` and returns (token id, secret). The secret
/// embeds the id, so the row is written first and its hash set right after, in one transaction.
pub(crate) fn insert_master_token(
    w: &Writer<'_>,
    project_id: i64,
    user: &User,
    now: Timestamp,
) -> Result<(i64, String)> {
    let new_token = NewToken {
        project_id,
        description: user.email.clone(),
        user_id: Some(user.id),
        created: now,
        ..NewToken::default()
    };
    let id = w.insert_token(&new_token, "")?;
    let secret = secrets::new_storage_secret(project_id, id);
    w.set_token_secret_hash(id, &secrets::hash(&secret), None)?;
    Ok((id, secret))
}

/// Validates an email address enough to catch typos: one `@`, something on each side, no spaces.
pub fn normalize_email(email: &str) -> Result<String> {
    let email = email.trim().to_lowercase();
    let valid = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@') && !email.chars().any(char::is_whitespace)
        }
        None => false,
    };
    if valid && email.len() <= 254 {
        Ok(email)
    } else {
        Err(Error::new(
            Code::UserValidation,
            format!("Invalid data - email: \"{email}\" is not a valid email address."),
        ))
    }
}

/// Creates a user with a name taken from the email's local part.
pub(crate) fn find_or_create_user(w: &Writer<'_>, email: &str, now: Timestamp) -> Result<User> {
    match w.user_by_email(email)? {
        Some(user) => Ok(user),
        None => {
            let name = email.split('@').next().unwrap_or(email);
            w.insert_user(email, name, now)
        }
    }
}

/// A project with the organization it lives in, as the Manage API shows it.
pub struct PlacedProject {
    pub project: Project,
    pub organization: Organization,
}

pub(crate) fn placed(r: &Reader<'_>, project: Project) -> Result<PlacedProject> {
    let organization =
        r.organization(project.organization_id)?.ok_or_else(|| Error::internal("project without its organization"))?;
    Ok(PlacedProject { project, organization })
}

fn all_placed(r: &Reader<'_>, projects: Vec<Project>) -> Result<Vec<PlacedProject>> {
    projects.into_iter().map(|project| placed(r, project)).collect()
}

/// Creates a project with its default branch in an organization. Without one named, the stack's
/// only organization takes it; where there are several, the caller must name it.
pub async fn create_project(
    ctx: &Ctx,
    _grant: &ManageGrant,
    name: Option<String>,
    organization_id: Option<i64>,
) -> Result<PlacedProject> {
    let name = name.map(|n| n.trim().to_string()).unwrap_or_default();
    if name.is_empty() {
        return Err(Error::new(Code::ProjectValidation, "Invalid data - name: This value should not be blank."));
    }
    if name.chars().count() > MAX_PROJECT_NAME_LEN {
        return Err(Error::new(
            Code::ProjectValidation,
            format!("Invalid data - name: This value is too long. It should have {MAX_PROJECT_NAME_LEN} characters or less."),
        ));
    }
    ctx.core
        .store
        .write(move |w| {
            let organization_id = match organization_id {
                Some(id) => w.organization(id)?.ok_or_else(|| organization_not_found(id))?.id,
                None => match w.organizations(None)?.as_slice() {
                    [only] => only.id,
                    several => {
                        return Err(Error::new(
                            Code::ProjectValidation,
                            format!(
                                "Invalid data - organizationId: this stack has {} organizations; name the one the \
                                 project goes to, or create it at POST /manage/organizations/{{id}}/projects.",
                                several.len()
                            ),
                        ))
                    }
                },
            };
            let project = w.insert_project(&name, organization_id, time::now())?;
            placed(w, project)
        })
        .await
}

/// The projects of an organization.
pub async fn organization_projects(
    ctx: &Ctx,
    _grant: &ManageGrant,
    organization_id: i64,
) -> Result<Vec<PlacedProject>> {
    ctx.core
        .store
        .read(move |r| {
            r.organization(organization_id)?.ok_or_else(|| organization_not_found(organization_id))?;
            all_placed(r, r.organization_projects(organization_id)?)
        })
        .await
}

/// All projects.
pub async fn list_projects(ctx: &Ctx, _grant: &ManageGrant) -> Result<Vec<PlacedProject>> {
    ctx.core.store.read(|r| all_placed(r, r.projects()?)).await
}

/// One project.
pub async fn get_project(ctx: &Ctx, _grant: &ManageGrant, id: i64) -> Result<PlacedProject> {
    ctx.core.store.read(move |r| placed(r, r.project(id)?.ok_or_else(|| project_not_found(id))?)).await
}

/// Deletes a project with its tokens, buckets, events and jobs.
pub async fn delete_project(ctx: &Ctx, _grant: &ManageGrant, id: i64) -> Result<()> {
    let deleted = ctx.core.store.write(move |w| w.delete_project(id)).await?;
    if deleted {
        tracing::info!(project_id = id, "project deleted");
        Ok(())
    } else {
        Err(project_not_found(id))
    }
}

/// A new member with the secret of their master token, shown this once.
pub struct NewMember {
    pub member: Member,
    pub token: Token,
    pub secret: String,
}

/// Adds a user (created if needed) to a project with a role, creating their master token.
pub async fn add_member(
    ctx: &Ctx,
    _grant: &ManageGrant,
    project_id: i64,
    email: Option<String>,
    role: Option<String>,
) -> Result<NewMember> {
    add_member_by(ctx, None, project_id, email, role).await
}

/// [`add_member`], recording its event as `by` (a project admin in the console) when given.
pub(crate) async fn add_member_by(
    ctx: &Ctx,
    by: Option<Arc<Token>>,
    project_id: i64,
    email: Option<String>,
    role: Option<String>,
) -> Result<NewMember> {
    let email = normalize_email(email.as_deref().unwrap_or_default())?;
    let role_name = role.unwrap_or_else(|| "admin".into());
    let role = Role::parse(&role_name).ok_or_else(|| {
        Error::new(
            Code::UserValidation,
            format!("Invalid data - role: \"{role_name}\" is not one of admin, guest, readOnly, share."),
        )
    })?;
    ctx.write(move |w, ctx| {
        w.project(project_id)?.ok_or_else(|| project_not_found(project_id))?;
        let now = time::now();
        let user = find_or_create_user(w, &email, now)?;
        if w.master_token_id(project_id, user.id)?.is_some() {
            return Err(Error::new(
                Code::UserAlreadyMember,
                format!("User \"{email}\" is already a member of project {project_id}."),
            ));
        }
        w.insert_member(project_id, user.id, role, now)?;
        let (token_id, secret) = insert_master_token(w, project_id, &user, now)?;
        let token = w.token(project_id, token_id)?.ok_or_else(|| Error::internal("master token vanished"))?;
        let happened = Happened::about(
            "storage.tokenCreated",
            "token",
            &token_id.to_string(),
            format!("Created token {token_id}"),
        )
        .with_params(json!({ "description": user.email, "role": role.as_str() }));
        record(w, ctx, project_id, by.as_deref(), happened)?;
        Ok(NewMember { member: Member { user, role, created: now }, token, secret })
    })
    .await
}

/// Members of a project.
pub async fn list_members(ctx: &Ctx, _grant: &ManageGrant, project_id: i64) -> Result<Vec<Member>> {
    ctx.core
        .store
        .read(move |r| {
            r.project(project_id)?.ok_or_else(|| project_not_found(project_id))?;
            r.members(project_id)
        })
        .await
}

/// Removes a member from a project and deletes their master token.
pub async fn remove_member(ctx: &Ctx, _grant: &ManageGrant, project_id: i64, email: String) -> Result<()> {
    remove_member_by(ctx, None, project_id, email).await
}

/// [`remove_member`], recording its event as `by` (a project admin in the console) when given.
pub(crate) async fn remove_member_by(ctx: &Ctx, by: Option<Arc<Token>>, project_id: i64, email: String) -> Result<()> {
    let email = email.trim().to_lowercase();
    ctx.write(move |w, ctx| {
        w.project(project_id)?.ok_or_else(|| project_not_found(project_id))?;
        let not_member =
            || Error::new(Code::UserNotMember, format!("User \"{email}\" is not a member of project {project_id}."));
        let user = w.user_by_email(&email)?.ok_or_else(not_member)?;
        let token_id = w.master_token_id(project_id, user.id)?;
        if !w.delete_member(project_id, user.id)? {
            return Err(not_member());
        }
        // Whatever projects remain to them, a removed person signs in again.
        w.delete_user_console_sessions(user.id)?;
        if let Some(token_id) = token_id {
            w.delete_token(token_id)?;
            let happened = Happened::about(
                "storage.tokenDeleted",
                "token",
                &token_id.to_string(),
                format!("Deleted token {token_id}"),
            )
            .with_params(json!({ "description": user.email }));
            record(w, ctx, project_id, by.as_deref(), happened)?;
        }
        Ok(())
    })
    .await
}

/// A reference to a token, for `creatorToken` fields.
pub fn token_ref(token: &Token) -> TokenRef {
    TokenRef { id: token.id, description: token.description.clone() }
}
