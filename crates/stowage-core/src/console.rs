//! Signing in to the web console: user passwords (argon2) and sessions.
//!
//! A person signs in with email and password and then acts in a project through their master
//! token there; a token holder can sign in by pasting a token and can then do what that token
//! can. The session cookie carries a random secret; only its SHA-256 is stored.

use std::net::IpAddr;
use std::sync::Arc;

use rand::RngCore;
use stowage_types::auth::{Role, Token};
use stowage_types::{time, Code, Error, Result};

use crate::auth::ManageGrant;
use crate::manage::normalize_email;
use crate::passwords::Passwords;
use crate::records::{Project, User};
use crate::{auth, secrets, Core, Ctx};

/// How long a session lasts.
pub const SESSION_TTL_SECS: i64 = 12 * 3600;
/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;

fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A generated password (for the first admin, or `stowage recover`).
fn new_password() -> String {
    secrets::new_manage_secret().chars().filter(char::is_ascii_alphanumeric).skip(10).take(24).collect()
}

/// A generated password and its hash.
pub async fn new_password_and_hash(passwords: &Passwords) -> Result<(String, String)> {
    let password = new_password();
    let hash = passwords.hash(password.clone()).await?;
    Ok((password, hash))
}

/// A hash of a password nobody knows, made once: checked against when an email has no password,
/// so timing does not tell which emails exist.
async fn throwaway_hash(passwords: &Passwords) -> Result<String> {
    static HASH: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    HASH.get_or_try_init(|| passwords.hash(random_secret())).await.cloned()
}

/// Sets a user's console password (manage API).
pub async fn set_password(ctx: &Ctx, _grant: &ManageGrant, email: &str, password: String) -> Result<()> {
    let email = normalize_email(email)?;
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Error::new(
            Code::UserValidation,
            format!("Invalid data - password: use at least {MIN_PASSWORD_CHARS} characters."),
        ));
    }
    let hash = ctx.core.passwords.hash(password).await?;
    ctx.core
        .store
        .write(move |w| {
            let user = w
                .user_by_email(&email)?
                .ok_or_else(|| Error::new(Code::UserNotFound, format!("User \"{email}\" not found.")))?;
            w.set_user_password_hash(user.id, &hash)
        })
        .await
}

/// A signed-in console session.
#[derive(Clone)]
pub struct Session {
    /// The person, for email sign-ins.
    pub user: Option<User>,
    /// The token, for token sign-ins.
    pub token: Option<Arc<Token>>,
    /// Must come back with every form that changes something.
    pub csrf: String,
}

/// The sign-in throttle: failed password sign-ins are counted per email in the catalog (so the
/// count holds across restarts and processes). After [`FREE_ATTEMPTS`] failures in a row, each next
/// attempt must wait (1 s, doubling up to [`MAX_WAIT`]) whether or not the password is right; a
/// success clears the count. It slows guessing to a crawl without locking the owner out for long.
pub mod throttle {
    use std::time::Duration;

    use stowage_types::Result;

    use crate::Core;

    /// Failures allowed before attempts have to wait.
    pub const FREE_ATTEMPTS: u32 = 5;
    /// The longest wait between attempts.
    pub const MAX_WAIT: Duration = Duration::from_secs(60);

    fn now_ms() -> i64 {
        let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        since_epoch.as_millis() as i64
    }

    /// How long `email` must still wait before its next attempt.
    pub(super) async fn wait(core: &Core, email: &str) -> Result<Duration> {
        let email = email.to_string();
        let Some((count, last_ms)) = core.store.read(move |r| r.sign_in_failures(&email)).await? else {
            return Ok(Duration::ZERO);
        };
        if count < FREE_ATTEMPTS {
            return Ok(Duration::ZERO);
        }
        let wait = Duration::from_secs(1u64 << (count - FREE_ATTEMPTS).min(6)).min(MAX_WAIT);
        let elapsed = Duration::from_millis(now_ms().saturating_sub(last_ms).max(0) as u64);
        Ok(wait.saturating_sub(elapsed))
    }

    pub(super) async fn failed(core: &Core, email: &str) -> Result<()> {
        let (email, at) = (email.to_string(), now_ms());
        core.store.write(move |w| w.record_sign_in_failure(&email, at)).await
    }

    pub(super) async fn succeeded(core: &Core, email: &str) -> Result<()> {
        let email = email.to_string();
        core.store.write(move |w| w.clear_sign_in_failures(&email)).await
    }

    /// Forgets failures old enough that they no longer slow anyone (maintenance).
    pub async fn prune(core: &Core) -> Result<usize> {
        let before = now_ms() - 24 * 3600 * 1000;
        core.store.write(move |w| w.prune_sign_in_failures(before)).await
    }
}

fn sign_in_failed() -> Error {
    Error::new(Code::SignInFailed, "Wrong email or password.")
}

/// Opens a session bound to `stored_credential`: the stored hash of the password or token secret
/// it was opened with. [`session`] compares it on every request, so a refreshed token or a changed
/// password ends every session opened with the old one.
async fn open_session(
    core: &Core,
    user_id: Option<i64>,
    token_id: Option<i64>,
    stored_credential: &str,
) -> Result<String> {
    let secret = random_secret();
    let (hash, csrf, bound) = (secrets::hash(&secret), random_secret(), secrets::hash(stored_credential));
    let now = time::now();
    core.store
        .write(move |w| {
            w.insert_console_session(&hash, (user_id, token_id, &bound), &csrf, (now, now + SESSION_TTL_SECS))
        })
        .await?;
    Ok(secret)
}

/// Signs a person in from `address` (the client's, when known); returns the session cookie's secret.
pub async fn sign_in(core: &Core, email: &str, password: String, address: Option<IpAddr>) -> Result<String> {
    let email = email.trim().to_lowercase();
    core.passwords.admit(address)?;
    let wait = throttle::wait(core, &email).await?;
    if !wait.is_zero() {
        let wait = crate::allowance::seconds(wait);
        return Err(Error::new(
            Code::SignInThrottled,
            format!("Too many failed sign-ins for this email: try again in {wait}."),
        ));
    }
    let found = core
        .store
        .read({
            let email = email.clone();
            move |r| match r.user_by_email(&email)? {
                Some(user) => Ok(Some((user.id, r.user_password_hash(user.id)?))),
                None => Ok(None),
            }
        })
        .await?;
    let (user_id, hash) = match found {
        Some((id, Some(hash))) => (Some(id), hash),
        // Verify against a throwaway hash anyway, so timing does not tell which emails exist.
        _ => (None, throwaway_hash(&core.passwords).await?),
    };
    let valid = core.passwords.verify(password, hash.clone()).await?;
    match (user_id, valid) {
        (Some(user_id), true) => {
            throttle::succeeded(core, &email).await?;
            open_session(core, Some(user_id), None, &hash).await
        }
        _ => {
            throttle::failed(core, &email).await?;
            Err(sign_in_failed())
        }
    }
}

/// Signs a token holder in; returns the session cookie's secret.
pub async fn sign_in_with_token(core: &Core, secret: &str) -> Result<String> {
    let secret = secret.trim();
    let token = auth::authenticate(core, secret)
        .await
        .map_err(|_| Error::new(Code::SignInFailed, "This token is not valid."))?;
    open_session(core, None, Some(token.id), &secrets::hash(secret)).await
}

/// The session behind a cookie secret, if it is valid.
pub async fn session(core: &Core, secret: &str) -> Result<Option<Session>> {
    let hash = secrets::hash(secret);
    let now = time::now();
    core.store
        .read(move |r| {
            let Some(stored) = r.console_session(&hash)? else { return Ok(None) };
            if stored.expires <= now {
                return Ok(None);
            }
            // The credential the session was opened with must still be the current one.
            let bound = |current: &str| secrets::matches(current, &stored.credential_hash);
            let session = match (stored.user_id, stored.token_id) {
                (Some(user_id), None) => match r.user_password_hash(user_id)? {
                    Some(current) if bound(&current) => {
                        r.users_by_id(user_id)?.map(|user| Session { user: Some(user), token: None, csrf: stored.csrf })
                    }
                    _ => None,
                },
                (None, Some(token_id)) => match r.token_with_hash(token_id)? {
                    Some((token, current)) if bound(&current) && !token.is_expired(now) => {
                        Some(Session { user: None, token: Some(Arc::new(token)), csrf: stored.csrf })
                    }
                    _ => None,
                },
                _ => None,
            };
            Ok(session)
        })
        .await
}

/// Ends a session.
pub async fn sign_out(core: &Core, secret: &str) -> Result<()> {
    let hash = secrets::hash(secret);
    core.store.write(move |w| w.delete_console_session(&hash, time::now())).await
}

/// The projects a session can open, with the role in each (token sessions: the token's project).
pub async fn projects(core: &Core, session: &Session) -> Result<Vec<(Project, Option<Role>)>> {
    let session = session.clone();
    core.store
        .read(move |r| {
            if let Some(user) = &session.user {
                return Ok(r.projects_of_user(user.id)?.into_iter().map(|(p, role)| (p, Some(role))).collect());
            }
            let token = session.token.as_ref().expect("a session has a user or a token");
            Ok(r.project(token.project_id)?.into_iter().map(|p| (p, token.role())).collect())
        })
        .await
}

/// A member's master token in a project, for acting there from the console.
pub async fn member_token(core: &Core, user_id: i64, project_id: i64) -> Result<Option<Arc<Token>>> {
    core.store
        .read(move |r| {
            let Some(id) = r.master_token_id(project_id, user_id)? else { return Ok(None) };
            Ok(r.token_with_hash(id)?.map(|(token, _)| Arc::new(token)))
        })
        .await
}
