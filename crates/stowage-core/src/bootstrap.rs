//! The first start of an empty stack: one manage token, one project `Main` in the first organization, one
//! admin member of both.

use stowage_types::auth::Role;
use stowage_types::{time, Code, Error, Result};

use crate::manage::{find_or_create_user, insert_master_token, normalize_email};
use crate::{secrets, Core, Store};

const BOOTSTRAPPED: &str = "bootstrapped";

/// What the first start created, with the secrets to print once.
pub struct Bootstrapped {
    /// The generated manage token secret; `None` when the operator supplied one.
    pub generated_manage_token: Option<String>,
    pub project_id: i64,
    pub project_name: String,
    pub admin_email: String,
    pub admin_token: String,
    /// The admin's generated console password.
    pub admin_password: String,
}

/// Bootstraps the stack unless that was done before. Everything is created in one transaction:
/// a crash half way leaves an empty stack that bootstraps again on the next start.
pub async fn run(core: &Core, manage_token: Option<String>, admin_email: &str) -> Result<Option<Bootstrapped>> {
    let admin_email = normalize_email(admin_email)?;
    let (admin_password, password_hash) = crate::console::new_password_and_hash(&core.passwords).await?;
    core.store
        .write(move |w| {
            if w.stack_meta(BOOTSTRAPPED)?.is_some() {
                return Ok(None);
            }
            let now = time::now();
            let generated = manage_token.is_none();
            let manage_secret = manage_token.unwrap_or_else(secrets::new_manage_secret);
            w.insert_manage_token("bootstrap", &secrets::hash(&manage_secret), now)?;
            // The catalog's migrations made the stack's first organization.
            let organization = w
                .organizations(None)?
                .into_iter()
                .next()
                .ok_or_else(|| Error::internal("the catalog holds no organization"))?;
            let project = w.insert_project("Main", organization.id, now)?;
            let user = find_or_create_user(w, &admin_email, now)?;
            w.insert_organization_member(organization.id, user.id, now)?;
            w.insert_member(project.id, user.id, Role::Admin, now)?;
            let (_, admin_token) = insert_master_token(w, project.id, &user, now)?;
            w.set_user_password_hash(user.id, &password_hash)?;
            w.set_stack_meta(BOOTSTRAPPED, &now.to_string())?;
            Ok(Some(Bootstrapped {
                generated_manage_token: generated.then_some(manage_secret),
                project_id: project.id,
                project_name: project.name,
                admin_email,
                admin_token,
                admin_password,
            }))
        })
        .await
}

/// New secrets for an operator who lost the first start's: a new manage token, and a new console
/// password for one user. Nothing else changes; earlier manage tokens keep working.
pub struct Recovered {
    pub manage_token: String,
    pub email: String,
    pub password: String,
}

/// Issues [`Recovered`] secrets on a stack that was bootstrapped, for the user `email`.
pub async fn recover(store: &Store, email: &str) -> Result<Recovered> {
    let email = normalize_email(email)?;
    let (password, password_hash) =
        crate::console::new_password_and_hash(&crate::passwords::Passwords::default()).await?;
    store
        .write(move |w| {
            if w.stack_meta(BOOTSTRAPPED)?.is_none() {
                return Err(Error::new(
                    Code::UserValidation,
                    "The catalog holds no stack: run `stowage serve` first; its first start prints the secrets.",
                ));
            }
            let user = w
                .user_by_email(&email)?
                .ok_or_else(|| Error::new(Code::UserNotFound, format!("User \"{email}\" not found.")))?;
            let now = time::now();
            let manage_token = secrets::new_manage_secret();
            w.insert_manage_token("recovery", &secrets::hash(&manage_token), now)?;
            w.set_user_password_hash(user.id, &password_hash)?;
            Ok(Recovered { manage_token, email, password })
        })
        .await
}
