//! Authentication: from a presented secret to a [`Token`] or a [`ManageGrant`].
//!
//! Every failure answers the same 401 with a message that never contains what was presented.

use std::sync::Arc;

use stowage_types::auth::Token;
use stowage_types::time::{self, Timestamp};
use stowage_types::{Code, Error, Result};

use crate::records::ManageToken;
use crate::{secrets, Core};

/// `lastUsed` is written at most this often per token, so reads stay cheap.
pub const LAST_USED_RESOLUTION_SECS: Timestamp = 60;

fn invalid_token() -> Error {
    Error::new(Code::TokenInvalid, "Invalid access token")
}

/// Resolves a storage API secret to its token. Unknown, malformed, refreshed-away, deleted and
/// expired secrets all get the same 401.
pub async fn authenticate(core: &Core, secret: &str) -> Result<Arc<Token>> {
    let Some((project_id, token_id)) = secrets::token_id_of(secret) else {
        return Err(invalid_token());
    };
    let now = time::now();
    let Some((token, stored_hash)) = crate::memo::token_with_hash(core, token_id).await? else {
        return Err(invalid_token());
    };
    if token.project_id != project_id || !secrets::matches(secret, &stored_hash) || token.is_expired(now) {
        return Err(invalid_token());
    }
    if token.last_used.is_none_or(|last| now - last >= LAST_USED_RESOLUTION_SECS) {
        let id = token.id;
        // Failing to record use must not fail the request; the next request tries again.
        if let Err(error) = core.store.write(move |w| w.touch_token(id, now)).await {
            tracing::warn!(token_id = id, %error, "could not record token use");
        }
    }
    Ok(token)
}

/// Proof that the caller presented a valid manage API token.
#[derive(Debug)]
pub struct ManageGrant {
    pub token: ManageToken,
}

/// Resolves a manage API secret.
pub async fn authenticate_manage(core: &Core, secret: &str) -> Result<ManageGrant> {
    let hash = secrets::hash(secret);
    let token = core.store.lookup(move |r| r.manage_token_by_hash(&hash)).await?;
    token.map(|token| ManageGrant { token }).ok_or_else(|| Error::new(Code::ManageTokenInvalid, "Invalid manage token"))
}
