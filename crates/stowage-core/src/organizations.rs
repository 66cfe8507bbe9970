//! The Manage API's maintainers and organizations: who runs which organizations, which projects
//! an organization holds and who its members are. A member of a project's organization may share
//! that project's buckets within the organization (their master token says `isOrganizationMember`).

use stowage_types::{time, Code, Error, Result};

use crate::auth::ManageGrant;
use crate::manage::{find_or_create_user, normalize_email, placed, project_not_found, PlacedProject};
use crate::records::{Maintainer, Organization, OrganizationChanges, Project, User};
use crate::Ctx;

/// Longest maintainer or organization name accepted.
pub const MAX_NAME_LEN: usize = 255;

/// An organization with the projects it holds.
pub struct OrganizationDetail {
    pub organization: Organization,
    pub maintainer: Maintainer,
    pub projects: Vec<Project>,
}

pub(crate) fn maintainer_not_found(id: i64) -> Error {
    Error::new(Code::MaintainerNotFound, format!("Maintainer {id} not found"))
}

pub(crate) fn organization_not_found(id: i64) -> Error {
    Error::new(Code::OrganizationNotFound, format!("Organization {id} not found"))
}

/// A required name: trimmed, not blank, not too long.
fn name(code: Code, name: Option<String>) -> Result<String> {
    let name = name.map(|n| n.trim().to_string()).unwrap_or_default();
    if name.is_empty() {
        return Err(Error::new(code, "Invalid data - name: This value should not be blank."));
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err(Error::new(
            code,
            format!("Invalid data - name: This value is too long. It should have {MAX_NAME_LEN} characters or less."),
        ));
    }
    Ok(name)
}

/// All maintainers.
pub async fn list_maintainers(ctx: &Ctx, _grant: &ManageGrant) -> Result<Vec<Maintainer>> {
    ctx.core.store.read(|r| r.maintainers()).await
}

/// One maintainer.
pub async fn get_maintainer(ctx: &Ctx, _grant: &ManageGrant, id: i64) -> Result<Maintainer> {
    ctx.core.store.read(move |r| r.maintainer(id)).await?.ok_or_else(|| maintainer_not_found(id))
}

/// Creates a maintainer.
pub async fn create_maintainer(ctx: &Ctx, _grant: &ManageGrant, name: Option<String>) -> Result<Maintainer> {
    let name = self::name(Code::MaintainerValidation, name)?;
    ctx.core.store.write(move |w| w.insert_maintainer(&name, time::now())).await
}

/// Renames a maintainer (the only field it has); without a name it stays as it is.
pub async fn update_maintainer(ctx: &Ctx, _grant: &ManageGrant, id: i64, name: Option<String>) -> Result<Maintainer> {
    let name = name.map(|n| self::name(Code::MaintainerValidation, Some(n))).transpose()?;
    ctx.core
        .store
        .write(move |w| {
            let found = match &name {
                Some(name) => w.rename_maintainer(id, name)?,
                None => w.maintainer(id)?.is_some(),
            };
            if !found {
                return Err(maintainer_not_found(id));
            }
            w.maintainer(id)?.ok_or_else(|| maintainer_not_found(id))
        })
        .await
}

/// Deletes a maintainer that holds no organization.
pub async fn delete_maintainer(ctx: &Ctx, _grant: &ManageGrant, id: i64) -> Result<()> {
    ctx.core
        .store
        .write(move |w| {
            w.maintainer(id)?.ok_or_else(|| maintainer_not_found(id))?;
            let held = w.organizations(Some(id))?.len();
            if held > 0 {
                return Err(Error::new(
                    Code::MaintainerNotEmpty,
                    format!("Maintainer {id} has {held} organization(s); delete or move them first."),
                ));
            }
            w.delete_maintainer(id)?;
            Ok(())
        })
        .await
}

/// All organizations, or a maintainer's.
pub async fn list_organizations(
    ctx: &Ctx,
    _grant: &ManageGrant,
    maintainer_id: Option<i64>,
) -> Result<Vec<(Organization, Maintainer)>> {
    ctx.core
        .store
        .read(move |r| {
            if let Some(id) = maintainer_id {
                r.maintainer(id)?.ok_or_else(|| maintainer_not_found(id))?;
            }
            let maintainers = r.maintainers()?;
            let mut out = Vec::new();
            for organization in r.organizations(maintainer_id)? {
                let maintainer = maintainers
                    .iter()
                    .find(|m| m.id == organization.maintainer_id)
                    .cloned()
                    .ok_or_else(|| Error::internal("organization without its maintainer"))?;
                out.push((organization, maintainer));
            }
            Ok(out)
        })
        .await
}

fn detail(r: &stowage_store::Reader<'_>, id: i64) -> Result<OrganizationDetail> {
    let organization = r.organization(id)?.ok_or_else(|| organization_not_found(id))?;
    let maintainer = r
        .maintainer(organization.maintainer_id)?
        .ok_or_else(|| Error::internal("organization without its maintainer"))?;
    let projects = r.organization_projects(id)?;
    Ok(OrganizationDetail { organization, maintainer, projects })
}

/// One organization with its projects.
pub async fn get_organization(ctx: &Ctx, _grant: &ManageGrant, id: i64) -> Result<OrganizationDetail> {
    ctx.core.store.read(move |r| detail(r, id)).await
}

/// Creates an organization under a maintainer.
pub async fn create_organization(
    ctx: &Ctx,
    _grant: &ManageGrant,
    maintainer_id: i64,
    name: Option<String>,
    crm_id: Option<String>,
) -> Result<OrganizationDetail> {
    let name = self::name(Code::OrganizationValidation, name)?;
    ctx.core
        .store
        .write(move |w| {
            w.maintainer(maintainer_id)?.ok_or_else(|| maintainer_not_found(maintainer_id))?;
            let id = w.insert_organization(maintainer_id, &name, crm_id.as_deref().unwrap_or(""), time::now())?;
            detail(w, id)
        })
        .await
}

/// Changes an organization: its name, maintainer, CRM id and flags.
pub async fn update_organization(
    ctx: &Ctx,
    _grant: &ManageGrant,
    id: i64,
    mut changes: OrganizationChanges,
) -> Result<OrganizationDetail> {
    if changes.name.is_some() {
        changes.name = Some(self::name(Code::OrganizationValidation, changes.name)?);
    }
    ctx.core
        .store
        .write(move |w| {
            w.organization(id)?.ok_or_else(|| organization_not_found(id))?;
            if let Some(maintainer_id) = changes.maintainer_id {
                if w.maintainer(maintainer_id)?.is_none() {
                    return Err(Error::new(
                        Code::OrganizationValidation,
                        format!("Invalid data - maintainerId: Maintainer {maintainer_id} not found."),
                    ));
                }
            }
            w.update_organization(id, &changes)?;
            detail(w, id)
        })
        .await
}

/// Deletes an organization that holds no project.
pub async fn delete_organization(ctx: &Ctx, _grant: &ManageGrant, id: i64) -> Result<()> {
    ctx.core
        .store
        .write(move |w| {
            let held = detail(w, id)?.projects.len();
            if held > 0 {
                return Err(Error::new(
                    Code::OrganizationNotEmpty,
                    format!("Organization {id} has {held} project(s); delete or move them first."),
                ));
            }
            w.delete_organization(id)?;
            Ok(())
        })
        .await
}

/// The members of an organization.
pub async fn list_members(ctx: &Ctx, _grant: &ManageGrant, id: i64) -> Result<Vec<User>> {
    ctx.core
        .store
        .read(move |r| {
            r.organization(id)?.ok_or_else(|| organization_not_found(id))?;
            r.organization_members(id)
        })
        .await
}

/// Who to add to an organization: an existing user by id, or anyone by email (created if new).
pub enum Someone {
    Id(i64),
    Email(String),
}

/// Makes a user a member of an organization; adding a member twice changes nothing.
pub async fn add_member(ctx: &Ctx, _grant: &ManageGrant, id: i64, who: Someone) -> Result<User> {
    let who = match who {
        Someone::Email(email) => Someone::Email(normalize_email(&email)?),
        id @ Someone::Id(_) => id,
    };
    ctx.core
        .store
        .write(move |w| {
            w.organization(id)?.ok_or_else(|| organization_not_found(id))?;
            let now = time::now();
            let user = match who {
                Someone::Id(user_id) => w
                    .users_by_id(user_id)?
                    .ok_or_else(|| Error::new(Code::UserNotFound, format!("User {user_id} not found.")))?,
                Someone::Email(email) => find_or_create_user(w, &email, now)?,
            };
            w.insert_organization_member(id, user.id, now)?;
            Ok(user)
        })
        .await
}

/// Ends a user's membership of an organization (their project memberships stay).
pub async fn remove_member(ctx: &Ctx, _grant: &ManageGrant, id: i64, user_id: i64) -> Result<()> {
    ctx.core
        .store
        .write(move |w| {
            w.organization(id)?.ok_or_else(|| organization_not_found(id))?;
            if w.delete_organization_member(id, user_id)? {
                Ok(())
            } else {
                Err(Error::new(
                    Code::OrganizationUserNotMember,
                    format!("User {user_id} is not a member of organization {id}."),
                ))
            }
        })
        .await
}

/// Moves a project into another organization.
pub async fn move_project(
    ctx: &Ctx,
    _grant: &ManageGrant,
    project_id: i64,
    organization_id: Option<i64>,
) -> Result<PlacedProject> {
    let organization_id = organization_id.ok_or_else(|| {
        Error::new(Code::ProjectValidation, "Invalid data - organizationId: This value should not be blank.")
    })?;
    ctx.core
        .store
        .write(move |w| {
            w.project(project_id)?.ok_or_else(|| project_not_found(project_id))?;
            if w.organization(organization_id)?.is_none() {
                return Err(organization_not_found(organization_id));
            }
            w.set_project_organization(project_id, organization_id)?;
            let project = w.project(project_id)?.ok_or_else(|| project_not_found(project_id))?;
            placed(w, project)
        })
        .await
}
