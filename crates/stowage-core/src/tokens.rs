//! Storage API tokens: views, and the lifecycle (create, update, refresh, delete, share, expire).
//!
//! Secrets are generated here and leave the stack only in the create and refresh responses and
//! through a one-time share link. The catalog keeps a SHA-256 hash for authentication and, for
//! tokens that can be shared, a copy encrypted with the stack key.

use std::sync::Arc;

use serde_json::json;
use stowage_store::{Reader, Writer};
use stowage_types::auth::{
    AnyToken, BucketAccess, ControlToken, CreateTokens, Granted, ManageTokens, ReadToken, Token, TokenRef,
};
use stowage_types::{time, Code, Error, Result};

use crate::auth::ManageGrant;
use crate::events::{record, Happened};
use crate::manage::{normalize_email, project_not_found};
use crate::records::{NewToken, Project, TokenChanges, TokenShare};
use crate::{secrets, Core, Ctx};

/// How long a share link works.
pub const SHARE_LINK_TTL_SECS: i64 = 2 * 3600;
/// Longest accepted `expiresIn`: ten years.
pub const MAX_EXPIRES_IN_SECS: i64 = 10 * 365 * 24 * 3600;
/// Longest token description.
pub const MAX_DESCRIPTION_CHARS: usize = 1000;

/// A token with the project facts its views carry.
pub struct TokenView {
    pub token: Token,
    pub project: Project,
    /// Ids of all existing buckets, from which master and manage-all tokens derive their map.
    pub bucket_ids: Vec<String>,
}

fn token_not_found(id: i64) -> Error {
    Error::new(Code::TokenNotFound, format!("Token with id \"{id}\" was not found."))
}

fn view(r: &Reader<'_>, token: Token) -> Result<TokenView> {
    let (project, bucket_ids) =
        r.project_with_bucket_ids(token.project_id)?.ok_or_else(|| Error::internal("token of a missing project"))?;
    Ok(TokenView { token, project, bucket_ids })
}

fn load(r: &Reader<'_>, project_id: i64, id: i64) -> Result<Token> {
    r.token(project_id, id)?.ok_or_else(|| token_not_found(id))
}

/// The calling token, as `tokens/verify` shows it. Its project and the project's bucket ids are
/// read through the memo, as the token was (`memo`).
pub async fn verify(ctx: &Ctx, grant: &Granted<AnyToken>) -> Result<TokenView> {
    let token = (**grant.token()).clone();
    let (project, bucket_ids) = crate::memo::project_with_bucket_ids(&ctx.core, token.project_id)
        .await?
        .ok_or_else(|| Error::internal("token of a missing project"))?;
    Ok(TokenView { token, project, bucket_ids })
}

/// Tokens the caller may see: all of the project for token managers, otherwise itself.
pub async fn list(ctx: &Ctx, grant: &Granted<AnyToken>) -> Result<Vec<TokenView>> {
    let caller = grant.token().clone();
    ctx.core
        .store
        .read(move |r| {
            let tokens =
                if caller.can_manage_tokens() { r.tokens(caller.project_id)? } else { vec![(*caller).clone()] };
            let (project, bucket_ids) =
                r.project_with_bucket_ids(caller.project_id)?.ok_or_else(|| Error::internal("missing project"))?;
            Ok(tokens
                .into_iter()
                .map(|token| TokenView { token, project: project.clone(), bucket_ids: bucket_ids.clone() })
                .collect())
        })
        .await
}

/// One token.
pub async fn get(ctx: &Ctx, grant: &Granted<ReadToken>) -> Result<TokenView> {
    let (project_id, id) = (grant.project_id(), grant.scope().0);
    ctx.core.store.read(move |r| view(r, load(r, project_id, id)?)).await
}

/// A token create request, as the client sent it.
#[derive(Debug, Default)]
pub struct TokenRequest {
    pub description: Option<String>,
    /// (bucket id, permission) pairs; only `read` and `write` are settable.
    pub bucket_permissions: Option<Vec<(String, String)>>,
    pub component_access: Option<Vec<String>>,
    pub can_manage_buckets: Option<bool>,
    pub can_read_all_file_uploads: Option<bool>,
    pub can_purge_trash: Option<bool>,
    pub expires_in: Option<i64>,
}

/// A token with its secret, shown this once.
pub struct TokenWithSecret {
    pub view: TokenView,
    pub secret: String,
}

fn validate_description(description: &str) -> Result<()> {
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(Error::new(
            Code::TokenValidation,
            format!("Invalid data - description: at most {MAX_DESCRIPTION_CHARS} characters are allowed."),
        ));
    }
    Ok(())
}

fn validate_component_access(ids: &[String]) -> Result<()> {
    for id in ids {
        let valid =
            !id.is_empty() && id.len() <= 128 && id.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if !valid {
            return Err(Error::new(
                Code::TokenValidation,
                format!("Invalid data - componentAccess: \"{id}\" is not a component id."),
            ));
        }
    }
    Ok(())
}

/// Checks requested grants against the project's buckets. Nothing is stored when one is wrong.
fn resolve_grants(
    r: &Reader<'_>,
    project_id: i64,
    requested: &[(String, String)],
) -> Result<Vec<(String, BucketAccess)>> {
    let mut grants = Vec::new();
    for (bucket_id, permission) in requested {
        let Some(access @ (BucketAccess::Read | BucketAccess::Write)) = BucketAccess::parse(permission) else {
            return Err(Error::new(
                Code::TokenInvalidPermissions,
                format!("Invalid permission \"{permission}\" for bucket \"{bucket_id}\": use \"read\" or \"write\"."),
            ));
        };
        if r.bucket(project_id, bucket_id)?.is_none() {
            return Err(Error::new(
                Code::TokenInvalidPermissions,
                format!("Cannot grant \"{permission}\" on bucket \"{bucket_id}\": the bucket does not exist."),
            ));
        }
        grants.push((bucket_id.clone(), access));
    }
    Ok(grants)
}

/// Generates, hashes and (for shareable tokens) encrypts a new secret for token `id`.
fn store_new_secret(w: &Writer<'_>, core: &Core, token: &Token, refreshed: Option<i64>) -> Result<String> {
    let secret = secrets::new_storage_secret(token.project_id, token.id);
    w.set_token_secret_hash(token.id, &secrets::hash(&secret), refreshed)?;
    if !token.is_master() {
        w.set_token_secret_enc(token.id, &core.key.encrypt(&secret)?)?;
    }
    Ok(secret)
}

/// Creates a limited token. Guests get a minimal one: only the description and expiry count.
pub async fn create(ctx: &Ctx, grant: &Granted<CreateTokens>, request: TokenRequest) -> Result<TokenWithSecret> {
    let caller = grant.token().clone();
    let made_by = format!("Created by {}", caller.description);
    let full_options = caller.can_manage_tokens();
    create_in(ctx, caller.project_id, Some(caller), full_options, made_by, request).await
}

/// Creates a Storage token in a project with the Manage API (`POST /manage/projects/{id}/tokens`):
/// every option may be set, and it needs a description.
pub async fn create_with_manage_token(
    ctx: &Ctx,
    _grant: &ManageGrant,
    project_id: i64,
    request: TokenRequest,
) -> Result<TokenWithSecret> {
    if request.description.as_deref().is_none_or(|d| d.trim().is_empty()) {
        return Err(Error::new(Code::TokenValidation, "Invalid data - description: This value should not be blank."));
    }
    ctx.core.store.read(move |r| r.project(project_id)).await?.ok_or_else(|| project_not_found(project_id))?;
    create_in(ctx, project_id, None, true, String::new(), request).await
}

/// Stores a new limited token; `caller` is the token that made it (none for the Manage API), and
/// only with `full_options` may the request set grants, components and flags.
async fn create_in(
    ctx: &Ctx,
    project_id: i64,
    caller: Option<Arc<Token>>,
    full_options: bool,
    default_description: String,
    request: TokenRequest,
) -> Result<TokenWithSecret> {
    let description = request.description.filter(|d| !d.is_empty()).unwrap_or(default_description);
    validate_description(&description)?;
    let now = time::now();
    let expires = match request.expires_in {
        None => None,
        Some(seconds) if seconds < 1 => {
            return Err(Error::new(Code::TokenValidation, "Minimal expiration must be greater or equal to 1 second(s)"))
        }
        Some(seconds) => Some(now + seconds.min(MAX_EXPIRES_IN_SECS)),
    };
    let component_access = if full_options { request.component_access.unwrap_or_default() } else { vec![] };
    validate_component_access(&component_access)?;
    let requested_grants = if full_options { request.bucket_permissions.unwrap_or_default() } else { vec![] };
    let flag = |value: Option<bool>| full_options && value.unwrap_or(false);
    let new_token = NewToken {
        project_id,
        description,
        user_id: None,
        can_manage_buckets: flag(request.can_manage_buckets),
        can_read_all_file_uploads: flag(request.can_read_all_file_uploads),
        can_purge_trash: flag(request.can_purge_trash),
        component_access,
        expires,
        creator: caller.as_ref().map(|caller| TokenRef { id: caller.id, description: caller.description.clone() }),
        owner_user_id: caller.as_ref().and_then(|caller| caller.member.as_ref()).map(|member| member.user_id),
        grants: vec![],
        created: now,
    };
    ctx.write(move |w, ctx| {
        let mut new_token = new_token;
        new_token.grants = resolve_grants(w, project_id, &requested_grants)?;
        let id = w.insert_token(&new_token, "")?;
        let token = load(w, project_id, id)?;
        let secret = store_new_secret(w, &ctx.core, &token, None)?;
        let happened = Happened::about("storage.tokenCreated", "token", &id.to_string(), format!("Created token {id}"))
            .with_params(json!({ "description": token.description }));
        record(w, ctx, project_id, caller.as_deref(), happened)?;
        Ok(TokenWithSecret { view: view(w, token)?, secret })
    })
    .await
}

/// Changes a limited token. Absent fields stay as they are; `bucketPermissions` replaces the set.
pub async fn update(ctx: &Ctx, grant: &Granted<ManageTokens>, id: i64, request: TokenRequest) -> Result<TokenView> {
    if let Some(description) = &request.description {
        validate_description(description)?;
    }
    if let Some(ids) = &request.component_access {
        validate_component_access(ids)?;
    }
    let caller = grant.token().clone();
    ctx.write(move |w, ctx| {
        let target = load(w, caller.project_id, id)?;
        if target.is_master() {
            return Err(Error::new(
                Code::CannotModifyMasterToken,
                "Master tokens cannot be modified; change the user's role through the manage API instead.",
            ));
        }
        let grants = match &request.bucket_permissions {
            Some(requested) => Some(resolve_grants(w, caller.project_id, requested)?),
            None => None,
        };
        let changes = TokenChanges {
            description: request.description.filter(|d| !d.is_empty()),
            grants,
            component_access: request.component_access,
            can_read_all_file_uploads: request.can_read_all_file_uploads,
            can_purge_trash: request.can_purge_trash,
        };
        w.update_token(id, caller.project_id, &changes)?;
        let happened = Happened::about("storage.tokenUpdated", "token", &id.to_string(), format!("Updated token {id}"));
        record(w, ctx, caller.project_id, Some(&caller), happened)?;
        view(w, load(w, caller.project_id, id)?)
    })
    .await
}

/// Gives a token a new secret; the old one stops working at once.
pub async fn refresh(ctx: &Ctx, grant: &Granted<ControlToken>) -> Result<TokenWithSecret> {
    let caller = grant.token().clone();
    let id = grant.scope().0;
    ctx.write(move |w, ctx| {
        let target = load(w, caller.project_id, id)?;
        if target.is_master() && target.id != caller.id {
            // A master token is a person's own credential: only its holder refreshes it.
            return Err(Error::access_denied());
        }
        // `refreshed` always moves forward, also within the second of the previous change.
        let refreshed = time::now().max(target.refreshed + 1);
        let secret = store_new_secret(w, &ctx.core, &target, Some(refreshed))?;
        // A link sent before the refresh was for the old secret: it must not lead to the new one.
        w.delete_token_shares(id)?;
        let happened =
            Happened::about("storage.tokenRefreshed", "token", &id.to_string(), format!("Refreshed token {id}"));
        record(w, ctx, caller.project_id, Some(&caller), happened)?;
        Ok(TokenWithSecret { view: view(w, load(w, caller.project_id, id)?)?, secret })
    })
    .await
}

/// Deletes a limited token: itself, or any by a token manager.
pub async fn delete(ctx: &Ctx, grant: &Granted<ControlToken>) -> Result<()> {
    let caller = grant.token().clone();
    let id = grant.scope().0;
    ctx.write(move |w, ctx| {
        let target = load(w, caller.project_id, id)?;
        if target.is_master() {
            return Err(Error::new(
                Code::CannotModifyMasterToken,
                "Master tokens cannot be deleted; remove the user from the project through the manage API instead.",
            ));
        }
        if let Some(trigger) = w.triggers_run_with(id)?.first() {
            return Err(Error::new(
                Code::TokenUsedByTrigger,
                format!(
                    "Cannot delete token, because it's used for event trigger inside component \"{}\" with configuration id \"{}\"",
                    trigger.component_id, trigger.configuration_id
                ),
            ));
        }
        if let Some(schedule) = w.schedules_run_with(id)?.first() {
            return Err(Error::new(
                Code::TokenUsedByTrigger,
                format!(
                    "Cannot delete token, because it's used for schedule {} of component \"{}\" with configuration id \"{}\"",
                    schedule.id, schedule.target_component_id, schedule.target_configuration_id
                ),
            ));
        }
        w.delete_token(id)?;
        let happened = Happened::about("storage.tokenDeleted", "token", &id.to_string(), format!("Deleted token {id}"));
        record(w, ctx, caller.project_id, Some(&caller), happened)
    })
    .await
}

/// Emails a one-time link to the token (never the token itself) with the sender's message.
pub async fn share(
    ctx: &Ctx,
    grant: &Granted<ManageTokens>,
    id: i64,
    recipient: Option<String>,
    message: Option<String>,
) -> Result<crate::mail::Delivery> {
    let recipient = normalize_email(recipient.as_deref().unwrap_or_default())
        .map_err(|error| Error::new(Code::TokenValidation, error.message.replace("email", "recipientEmail")))?;
    let message = message
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty())
        .ok_or_else(|| Error::new(Code::TokenValidation, "Invalid data - message: This value should not be blank."))?;
    if message.chars().count() > 10_000 {
        return Err(Error::new(Code::TokenValidation, "Invalid data - message: at most 10000 characters are allowed."));
    }
    let caller = grant.token().clone();
    let link_secret = secrets::new_link_secret();
    let now = time::now();
    let share = TokenShare {
        id: 0,
        token_id: id,
        recipient_email: recipient.clone(),
        created: now,
        expires: now + SHARE_LINK_TTL_SECS,
        retrieved: None,
    };
    let link_hash = secrets::hash(&link_secret);
    let project_id = caller.project_id;
    let (share_id, target, project) = ctx
        .core
        .store
        .write(move |w| {
            let target = load(w, project_id, id)?;
            if target.is_master() {
                return Err(Error::new(Code::CannotShareMasterToken, "Master token cannot be shared."));
            }
            let project = w.project(project_id)?.ok_or_else(|| Error::internal("missing project"))?;
            Ok((w.insert_token_share(&share, &link_hash)?, target, project))
        })
        .await?;
    let link = format!("{}/tokens/shared/{link_secret}", ctx.core.stack.public_url);
    let subject = format!("An API token for project \"{}\" was shared with you", project.name);
    let body = format!(
        "{} shared a Stowage API token with you.\n\n{message}\n\nToken: \"{}\" in project \"{}\" (id {}) on stack \"{}\".\n\
         Open this link to see the token. It works once and expires at {} (in 2 hours):\n\n{link}\n",
        caller.description,
        target.description,
        project.name,
        project.id,
        ctx.core.stack.name,
        time::format(now + SHARE_LINK_TTL_SECS),
    );
    let delivery = match ctx.core.mailer.send(&recipient, &subject, body).await {
        Ok(delivery) => delivery,
        Err(error) => {
            // No mail, no link: remove it so nothing that grants access is left behind.
            let cleanup = ctx.core.store.write(move |w| w.mark_token_share_retrieved(share_id, time::now())).await;
            if let Err(cleanup) = cleanup {
                tracing::error!(%cleanup, "could not disable an undelivered share link");
            }
            return Err(error);
        }
    };
    ctx.write(move |w, ctx| {
        let happened = Happened::about("storage.tokenShared", "token", &id.to_string(), format!("Shared token {id}"))
            .with_params(json!({ "recipientEmail": recipient }));
        record(w, ctx, project_id, Some(&caller), happened)
    })
    .await?;
    Ok(delivery)
}

/// What a share link leads to.
pub struct SharedToken {
    pub secret: String,
    pub token: Token,
    pub project: Project,
    pub stack_name: String,
}

/// True when the link is valid and not yet used (the page before retrieval).
pub async fn share_is_available(core: &Core, link_secret: &str) -> Result<bool> {
    let hash = secrets::hash(link_secret);
    let now = time::now();
    let share = core.store.read(move |r| r.token_share_by_hash(&hash)).await?;
    Ok(share.is_some_and(|share| share.retrieved.is_none() && share.expires > now))
}

/// Retrieves a shared token once; `None` when the link is unknown, used or expired.
pub async fn retrieve_shared(core: &Core, link_secret: &str) -> Result<Option<SharedToken>> {
    let hash = secrets::hash(link_secret);
    let key = Arc::clone(&core.key);
    let stack_name = core.stack.name.clone();
    core.store
        .write(move |w| {
            let now = time::now();
            let Some(share) = w.token_share_by_hash(&hash)? else { return Ok(None) };
            if share.retrieved.is_some() || share.expires <= now {
                return Ok(None);
            }
            w.mark_token_share_retrieved(share.id, now)?;
            let Some((token, _)) = w.token_with_hash(share.token_id)? else { return Ok(None) };
            if token.is_expired(now) {
                return Ok(None);
            }
            let Some(sealed) = w.token_secret_enc(token.id)? else { return Ok(None) };
            let secret = key.decrypt(&sealed)?;
            let project = w.project(token.project_id)?.ok_or_else(|| Error::internal("missing project"))?;
            Ok(Some(SharedToken { secret, token, project, stack_name }))
        })
        .await
}

/// Deletes tokens past their expiry (recording `storage.tokenExpired`) and dead share links.
/// Returns how many tokens were deleted.
pub async fn delete_expired(core: &Core) -> Result<usize> {
    let ctx = Ctx::internal(core);
    core.store
        .write(move |w| {
            let now = time::now();
            let expired = w.expired_tokens(now)?;
            for token in &expired {
                w.delete_token(token.id)?;
                let id = token.id.to_string();
                let happened = Happened::about(
                    "storage.tokenExpired",
                    "token",
                    &id,
                    format!("Token {id} expired and was deleted"),
                )
                .with_params(json!({ "description": token.description }));
                record(w, &ctx, token.project_id, None, happened)?;
            }
            // One-time links (token shares, console password links) that are used or expired.
            w.prune_token_shares(now)?;
            w.prune_password_links(now)?;
            Ok(expired.len())
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testing::core;

    /// Stores a limited token and a share link for it created `age` seconds ago.
    async fn share_of_age(core: &Core, link: &str, age: i64) -> String {
        let key = Arc::clone(&core.key);
        let link_hash = secrets::hash(link);
        core.store
            .write(move |w| {
                let project = w.insert_project("p", 1, 0)?;
                let new_token =
                    NewToken { project_id: project.id, description: "shared".into(), ..NewToken::default() };
                let id = w.insert_token(&new_token, "")?;
                let secret = secrets::new_storage_secret(project.id, id);
                w.set_token_secret_enc(id, &key.encrypt(&secret)?)?;
                let created = time::now() - age;
                let share = TokenShare {
                    id: 0,
                    token_id: id,
                    recipient_email: "r@example.com".into(),
                    created,
                    expires: created + SHARE_LINK_TTL_SECS,
                    retrieved: None,
                };
                w.insert_token_share(&share, &link_hash)?;
                Ok(secret)
            })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_share_link_older_than_two_hours_reveals_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let core = core(dir.path());
        share_of_age(&core, "old-link", SHARE_LINK_TTL_SECS + 1).await;
        assert!(!share_is_available(&core, "old-link").await.unwrap());
        assert!(retrieve_shared(&core, "old-link").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_share_link_younger_than_two_hours_reveals_the_secret_once() {
        let dir = tempfile::tempdir().unwrap();
        let core = core(dir.path());
        let secret = share_of_age(&core, "fresh-link", SHARE_LINK_TTL_SECS - 60).await;
        assert!(share_is_available(&core, "fresh-link").await.unwrap());
        assert_eq!(retrieve_shared(&core, "fresh-link").await.unwrap().unwrap().secret, secret);
        assert!(retrieve_shared(&core, "fresh-link").await.unwrap().is_none());
    }
}
