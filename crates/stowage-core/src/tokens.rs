//! Token views: what `tokens/verify` and token details show.

use stowage_types::auth::{AnyToken, Granted, Token};
use stowage_types::Result;

use crate::records::Project;
use crate::Ctx;

/// A token with the project facts its views carry.
pub struct TokenView {
    pub token: Token,
    pub project: Project,
    /// Ids of all existing buckets, from which master and manage-all tokens derive their map.
    pub bucket_ids: Vec<String>,
}

/// The calling token, as `tokens/verify` shows it.
pub async fn verify(ctx: &Ctx, grant: &Granted<AnyToken>) -> Result<TokenView> {
    let token = (**grant.token()).clone();
    ctx.core
        .store
        .read(move |r| {
            let project = r
                .project(token.project_id)?
                .ok_or_else(|| stowage_types::Error::internal("token of a missing project"))?;
            let bucket_ids = r.buckets(token.project_id)?.into_iter().map(|bucket| bucket.id).collect();
            Ok(TokenView { token, project, bucket_ids })
        })
        .await
}
