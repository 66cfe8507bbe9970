//! Authentication extractors. A handler that needs a project takes a [`Caller`]; one on the
//! manage API takes a [`ManageCaller`]. Core operations require a `Granted<P>`, which only a
//! token can produce, so a storage handler cannot reach data without first taking a `Caller`.
//! The handlers that take neither are listed in `routes::PUBLIC`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::{AUTHORIZATION, USER_AGENT};
use axum::http::request::Parts;
use stowage_core::auth::{authenticate, authenticate_manage, ManageGrant};
use stowage_core::Ctx;
use stowage_types::auth::Token;
use stowage_types::Code;

use crate::error::ApiError;
use crate::AppState;

/// The branch a request was addressed to through `/v2/storage/branch/{branch}/...`.
#[derive(Debug, Clone)]
pub struct BranchRef(pub String);

/// An authenticated storage API caller.
pub struct Caller {
    pub token: Arc<Token>,
    pub ctx: Ctx,
}

fn header<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts.headers.get(name).and_then(|value| value.to_str().ok()).map(str::trim).filter(|value| !value.is_empty())
}

fn context(parts: &Parts, state: &AppState) -> Ctx {
    Ctx {
        core: state.core.clone(),
        run_id: header(parts, "x-kbc-runid").map(str::to_string),
        remote_addr: parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip().to_string()),
        user_agent: header(parts, USER_AGENT.as_str()).map(str::to_string),
    }
}

/// The address a request came from, when the listener knows it.
pub(crate) struct ClientAddress(pub(crate) Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip())))
    }
}

/// The secret a request presents: `X-StorageApi-Token`, or `Authorization: Bearer`.
fn presented_token(parts: &Parts) -> Option<&str> {
    header(parts, "x-storageapi-token").or_else(|| {
        header(parts, AUTHORIZATION.as_str())
            .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
            .map(str::trim)
    })
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let secret =
            presented_token(parts).ok_or_else(|| ApiError::new(Code::TokenInvalid, "Access token must be set"))?;
        let token = authenticate(&state.core, secret).await?;
        let ctx = context(parts, state);
        if let Some(BranchRef(branch)) = parts.extensions.get::<BranchRef>() {
            stowage_core::branches::resolve(&ctx, token.project_id, branch).await?;
        }
        Ok(Caller { token, ctx })
    }
}

/// An authenticated manage API caller.
pub struct ManageCaller {
    pub grant: ManageGrant,
    pub ctx: Ctx,
}

impl FromRequestParts<AppState> for ManageCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let secret = header(parts, "x-kbc-manageapitoken").ok_or_else(|| {
            ApiError::new(Code::ManageTokenInvalid, "Manage token must be set in the X-KBC-ManageApiToken header")
        })?;
        let grant = authenticate_manage(&state.core, secret).await?;
        Ok(ManageCaller { grant, ctx: context(parts, state) })
    }
}
