//! Authentication extractors. A handler that needs a project takes a [`Caller`]; one on the
//! manage API takes a [`ManageCaller`]. Core operations require a `Granted<P>`, which only a
//! token can produce, so a storage handler cannot reach data without first taking a `Caller`.
//! The handlers that take neither are listed in `routes::PUBLIC`. A handler on one object takes an
//! [`Allowed<P>`]: the caller's token checked against the rule `P` on the object its path names, so
//! the route's rule is in its signature and core acts on that object only.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, RawPathParams};
use axum::http::header::{AUTHORIZATION, USER_AGENT};
use axum::http::request::Parts;
use stowage_core::auth::{authenticate, authenticate_manage, ManageGrant};
use stowage_core::Ctx;
use stowage_types::auth::{
    Granted, ManageBucket, Permission, ReadBucket, ReadColumn, ReadTable, ShareBucket, Token, WriteBucket, WriteColumn,
    WriteTable,
};
use stowage_types::{Code, Error};

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

/// The context of a request that needs no token (console pages, which have sessions): its caller's
/// address, user agent and run id, as API requests carry them into events.
pub(crate) struct RequestCtx(pub(crate) Ctx);

impl FromRequestParts<AppState> for RequestCtx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(RequestCtx(context(parts, state)))
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

/// A permission a route builds from the `{id}` segment of its path.
pub trait FromPath: Permission + Sized {
    /// The permission on the object `id` names, or that object's not-found error.
    fn from_path(project_id: i64, id: &str) -> Result<Self, Error>;
}

/// `FromPath` for permissions made from one id: the use case's parser gives the not-found error.
macro_rules! from_path {
    ($($permission:ident => $parse:path),* $(,)?) => {$(
        impl FromPath for $permission {
            fn from_path(project_id: i64, id: &str) -> Result<Self, Error> {
                $parse(project_id, id).map($permission)
            }
        }
    )*};
}

from_path! {
    ReadTable => stowage_core::tables::parse_id,
    WriteTable => stowage_core::tables::parse_id,
    ReadBucket => stowage_core::buckets::parse_id,
    WriteBucket => stowage_core::buckets::parse_id,
    ManageBucket => stowage_core::buckets::parse_id,
    ShareBucket => stowage_core::buckets::parse_id,
}

/// Splits a column id, `in.c-b.table.column`, into its table's id and the column: a 404 without a dot.
pub(crate) fn split_column(project_id: i64, id: &str) -> Result<(&str, &str), Error> {
    id.rsplit_once('.').ok_or_else(|| {
        Error::new(
            stowage_types::Code::TableNotFound,
            format!("The column \"{id}\" was not found in the project \"{project_id}\""),
        )
    })
}

impl FromPath for ReadColumn {
    fn from_path(project_id: i64, id: &str) -> Result<Self, Error> {
        let (table, column) = split_column(project_id, id)?;
        Ok(ReadColumn(stowage_core::tables::parse_id(project_id, table)?, column.to_string()))
    }
}

impl FromPath for WriteColumn {
    fn from_path(project_id: i64, id: &str) -> Result<Self, Error> {
        let (table, column) = split_column(project_id, id)?;
        Ok(WriteColumn(stowage_core::tables::parse_id(project_id, table)?, column.to_string()))
    }
}

/// A caller who asks for the rule `P` on the object the path's `{id}` names: 401 without a valid
/// token at once. The rule is checked by [`Wants::allowed`], which a handler calls after its other
/// extractors read the query and body, so a malformed request is a 400 whatever the token may do.
pub struct Wants<P> {
    caller: Caller,
    id: String,
    rule: std::marker::PhantomData<P>,
}

/// A caller whose token passed the rule `P` on the object the path names.
pub struct Allowed<P> {
    pub grant: Granted<P>,
    pub ctx: Ctx,
}

impl<P: FromPath> Wants<P> {
    /// The caller's project.
    pub fn project_id(&self) -> i64 {
        self.caller.token.project_id
    }

    /// The path's `{id}`, as sent.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The grant: 404 for an id that cannot name such an object, 403 when the rule refuses.
    pub fn allowed(self) -> Result<Allowed<P>, ApiError> {
        let Wants { caller, id, .. } = self;
        let permission = P::from_path(caller.token.project_id, &id)?;
        Ok(Allowed { grant: caller.token.authorize(permission)?, ctx: caller.ctx })
    }
}

impl<P: FromPath + Send> FromRequestParts<AppState> for Wants<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|error| ApiError(Error::internal(format!("path parameters: {error}"))))?;
        let id = params
            .iter()
            .find_map(|(name, value)| (name == "id").then(|| value.to_string()))
            .ok_or_else(|| ApiError(Error::internal("a route taking Wants has no {id} in its path")))?;
        Ok(Wants { caller, id, rule: std::marker::PhantomData })
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
