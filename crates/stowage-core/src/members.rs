//! A project's members as its admins manage them in the console ("Users & Settings"): the member
//! list, adding a person by email with a role (their master token is made, as through the Manage
//! API), removing one (which deletes that token), and one-time links by mail that let a person set
//! their console password; and a signed-in person changing their own password.
//!
//! Only a person signed in with email and password who is an admin of the project may change its
//! members; every member sees the list. A session opened with a pasted token is not a person.

use std::net::IpAddr;
use std::sync::Arc;

use stowage_types::auth::{Role, Token};
use stowage_types::{time, Code, Error, Result};

use crate::console::{Session, MIN_PASSWORD_CHARS};
use crate::mail::Delivery;
use crate::manage::{self, normalize_email};
use crate::records::{Member, User};
use crate::{secrets, Core, Ctx};

/// How long a password link works.
pub const PASSWORD_LINK_TTL_SECS: i64 = 72 * 3600;

/// The person of a session, who must be a member of the project, their role, and the project's
/// members (read once).
async fn members_and_me(core: &Core, session: &Session, project_id: i64) -> Result<(User, Role, Vec<Member>)> {
    let Some(user) = session.user.clone() else {
        return Err(Error::new(
            Code::AccessDenied,
            "Users & Settings are for people signed in with their email; a pasted token has no user.",
        ));
    };
    let members = core.store.read(move |r| r.members(project_id)).await?;
    let role = members
        .iter()
        .find(|member| member.user.id == user.id)
        .map(|member| member.role)
        .ok_or_else(|| Error::new(Code::AccessDenied, "You are not a member of this project."))?;
    Ok((user, role, members))
}

/// The session's person, an admin of the project, their master token there (events of the changes
/// are theirs), and the project's members.
async fn admin_of(core: &Core, session: &Session, project_id: i64) -> Result<(User, Arc<Token>, Vec<Member>)> {
    let (user, role, members) = members_and_me(core, session, project_id).await?;
    if role != Role::Admin {
        return Err(Error::new(
            Code::AccessDenied,
            format!("Only the project's admins manage its members; your role is \"{}\".", role.as_str()),
        ));
    }
    let token = crate::console::member_token(core, user.id, project_id)
        .await?
        .ok_or_else(|| Error::new(Code::AccessDenied, "You are not a member of this project."))?;
    Ok((user, token, members))
}

/// The project's members, for any member; and whether the session's person may manage them.
pub async fn list(core: &Core, session: &Session, project_id: i64) -> Result<(Vec<Member>, bool)> {
    let (_, role, members) = members_and_me(core, session, project_id).await?;
    Ok((members, role == Role::Admin))
}

/// Adds a person to the project with a role and, when they have no console password yet, mails
/// them a link to set one. Returns where the mail went (`None`: they already had a password).
pub async fn add(
    core: &Core,
    session: &Session,
    project_id: i64,
    email: String,
    role: String,
) -> Result<Option<Delivery>> {
    let (_, token, _) = admin_of(core, session, project_id).await?;
    let ctx = Ctx::internal(core);
    let added = manage::add_member_by(&ctx, Some(token), project_id, Some(email), Some(role)).await?;
    let user_id = added.member.user.id;
    let has_password = core.store.read(move |r| r.user_password_hash(user_id)).await?.is_some();
    if has_password {
        return Ok(None);
    }
    mail_link(core, &added.member.user, project_id, true).await.map(Some)
}

/// Removes a member (and their master token). An admin cannot remove themself here, so a project
/// is never left without the person removing.
pub async fn remove(core: &Core, session: &Session, project_id: i64, email: &str) -> Result<()> {
    let (me, token, _) = admin_of(core, session, project_id).await?;
    let email = email.trim().to_lowercase();
    if email == me.email {
        return Err(Error::new(Code::UserValidation, "You cannot remove yourself from the project here."));
    }
    manage::remove_member_by(&Ctx::internal(core), Some(token), project_id, email).await
}

/// Mails a member a one-time link to set their console password.
pub async fn send_link(core: &Core, session: &Session, project_id: i64, email: &str) -> Result<Delivery> {
    let (_, _, members) = admin_of(core, session, project_id).await?;
    let email = normalize_email(email)?;
    let member = members.into_iter().find(|member| member.user.email == email).ok_or_else(|| {
        Error::new(Code::UserNotMember, format!("User \"{email}\" is not a member of project {project_id}."))
    })?;
    mail_link(core, &member.user, project_id, false).await
}

async fn mail_link(core: &Core, user: &User, project_id: i64, invited: bool) -> Result<Delivery> {
    let secret = secrets::new_link_secret();
    let (hash, user_id, now) = (secrets::hash(&secret), user.id, time::now());
    let expires = now + PASSWORD_LINK_TTL_SECS;
    core.store.write(move |w| w.insert_password_link(user_id, &hash, now, expires)).await?;
    let link = format!("{}/console/password/{secret}", core.stack.public_url);
    let project = core.store.read(move |r| r.project(project_id)).await?;
    let project = project.map(|p| p.name).unwrap_or_default();
    let subject = if invited {
        format!("You were added to project \"{project}\" on Stowage")
    } else {
        format!("Set your Stowage password for project \"{project}\"")
    };
    let body = format!(
        "{}Open this link to set your console password. It works once and expires at {} (in 72 hours):\n\n{link}\n\n\
         Then sign in at {}/console with {}.\n",
        if invited {
            format!("You were added to project \"{project}\" on the Stowage stack \"{}\".\n\n", core.stack.name)
        } else {
            String::new()
        },
        time::format(expires),
        core.stack.public_url,
        user.email,
    );
    core.mailer.send(&user.email, &subject, body).await
}

/// The person a password link is for, while it works.
pub async fn link_user(core: &Core, link: &str) -> Result<Option<User>> {
    let hash = secrets::hash(link);
    core.store.read(move |r| r.password_link_user(&hash, time::now())).await
}

fn check_new_password(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Error::new(
            Code::UserValidation,
            format!("The password is too short: use at least {MIN_PASSWORD_CHARS} characters."),
        ));
    }
    Ok(())
}

/// Sets a password through a link, which it uses up; `Ok(false)` when the link no longer works.
pub async fn set_with_link(core: &Core, link: &str, password: String, address: Option<IpAddr>) -> Result<bool> {
    check_new_password(&password)?;
    core.passwords.admit(address)?;
    if link_user(core, link).await?.is_none() {
        return Ok(false);
    }
    let hash = core.passwords.hash(password).await?;
    let link_hash = secrets::hash(link);
    core.store
        .write(move |w| {
            let Some(user_id) = w.use_password_link(&link_hash, time::now())? else { return Ok(false) };
            w.set_user_password_hash(user_id, &hash)?;
            Ok(true)
        })
        .await
}

/// Changes the signed-in person's password, given their current one. Every session opened with
/// the old password ends, this one too.
pub async fn change_own(core: &Core, session: &Session, current: String, new: String) -> Result<()> {
    let Some(user) = session.user.clone() else {
        return Err(Error::new(Code::AccessDenied, "A session opened with a token has no password to change."));
    };
    check_new_password(&new)?;
    let user_id = user.id;
    let stored = core.store.read(move |r| r.user_password_hash(user_id)).await?.unwrap_or_default();
    if !core.passwords.verify(current, stored).await? {
        return Err(Error::new(Code::UserValidation, "The current password is not right."));
    }
    let hash = core.passwords.hash(new).await?;
    core.store.write(move |w| w.set_user_password_hash(user_id, &hash)).await
}
