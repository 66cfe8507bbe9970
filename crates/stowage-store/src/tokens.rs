//! Storage API tokens: stored by the hash of their secret, loaded with member and grants.

use std::collections::BTreeMap;

use stowage_types::auth::{BucketAccess, MemberRef, Role, Token, TokenRef, UserRef};
use stowage_types::time::Timestamp;
use stowage_types::{Error, Result};

use crate::records::{NewToken, TokenChanges, TokenShare};
use crate::sql::{params, Row};
use crate::{Reader, Writer};

const TOKEN_COLUMNS: &str = "t.id, t.project_id, t.description, t.can_manage_buckets, t.can_read_all_file_uploads,
    t.can_purge_trash, t.component_access, t.created, t.refreshed, t.expires, t.creator_token_id,
    t.creator_token_description, t.last_used, u.id, u.email, u.name, m.role, t.secret_hash, o.id, o.name, o.email,
    om.user_id";

const TOKEN_FROM: &str = "tokens t
    LEFT JOIN users u ON u.id = t.user_id
    LEFT JOIN project_members m ON m.project_id = t.project_id AND m.user_id = t.user_id
    LEFT JOIN users o ON o.id = t.owner_user_id
    LEFT JOIN projects tp ON tp.id = t.project_id
    LEFT JOIN organization_members om ON om.organization_id = tp.organization_id AND om.user_id = t.user_id";

/// A token row plus its secret hash, before grants are attached.
fn token_row(row: &Row<'_>) -> Result<(Token, String, Option<String>)> {
    let component_access: String = row.get(6)?;
    let creator_id: Option<i64> = row.get(10)?;
    let user_id: Option<i64> = row.get(13)?;
    let member = match user_id {
        Some(user_id) => Some((user_id, row.get::<String>(14)?, row.get::<String>(15)?)),
        None => None,
    };
    let role: Option<String> = row.get(16)?;
    let token = Token {
        id: row.get(0)?,
        project_id: row.get(1)?,
        description: row.get(2)?,
        member: None,
        can_manage_buckets_flag: row.get(3)?,
        can_read_all_file_uploads_flag: row.get(4)?,
        can_purge_trash_flag: row.get(5)?,
        component_access: serde_json::from_str(&component_access).unwrap_or_default(),
        bucket_grants: BTreeMap::new(),
        created: row.get(7)?,
        refreshed: row.get(8)?,
        expires: row.get(9)?,
        creator: match creator_id {
            Some(id) => Some(TokenRef { id, description: row.get::<Option<String>>(11)?.unwrap_or_default() }),
            None => None,
        },
        admin_owner: match row.get::<Option<i64>>(18)? {
            Some(id) => Some(UserRef { id, name: row.get(19)?, email: row.get(20)? }),
            None => None,
        },
        last_used: row.get(12)?,
    };
    let mut token = token;
    if let Some((user_id, email, name)) = member {
        // A master token whose user left the project has no role; it is deleted with the
        // membership, so this only guards against a half-written row.
        let organization_member = row.get::<Option<i64>>(21)?.is_some();
        token.member = role.as_deref().and_then(Role::parse).map(|role| MemberRef {
            user_id,
            email,
            name,
            role,
            organization_member,
        });
    }
    Ok((token, row.get(17)?, role))
}

impl Reader<'_> {
    fn attach_grants(&self, token: &mut Token) -> Result<()> {
        let rows = self.conn.rows(
            "SELECT b.id, g.access FROM token_bucket_grants g JOIN buckets b ON b.pk = g.bucket_pk
                 WHERE g.token_id = ?1",
            params![token.id],
            |row| Ok((row.get::<String>(0)?, row.get::<String>(1)?)),
        )?;
        for (bucket_id, access) in rows {
            let access =
                BucketAccess::parse(&access).ok_or_else(|| Error::internal(format!("unknown access {access}")))?;
            token.bucket_grants.insert(bucket_id, access);
        }
        Ok(())
    }

    /// A token with its grants and the hash of its secret, in one query (every request reads
    /// its token): a row per grant, or one row without a grant.
    pub fn token_with_hash(&self, id: i64) -> Result<Option<(Token, String)>> {
        let rows = self.conn.rows(
            &format!(
                "SELECT {TOKEN_COLUMNS}, gb.id, g.access FROM {TOKEN_FROM}
                 LEFT JOIN token_bucket_grants g ON g.token_id = t.id
                 LEFT JOIN buckets gb ON gb.pk = g.bucket_pk
                 WHERE t.id = ?1"
            ),
            params![id],
            |row| {
                let grant = match row.get::<Option<String>>(22)? {
                    Some(bucket_id) => Some((bucket_id, row.get::<String>(23)?)),
                    None => None,
                };
                Ok((token_row(row)?, grant))
            },
        )?;
        let mut rows = rows.into_iter();
        let Some(((mut token, hash, _), first)) = rows.next() else { return Ok(None) };
        for (bucket_id, access) in first.into_iter().chain(rows.filter_map(|(_, grant)| grant)) {
            let access =
                BucketAccess::parse(&access).ok_or_else(|| Error::internal(format!("unknown access {access}")))?;
            token.bucket_grants.insert(bucket_id, access);
        }
        Ok(Some((token, hash)))
    }

    /// A token of a project.
    pub fn token(&self, project_id: i64, id: i64) -> Result<Option<Token>> {
        Ok(self.token_with_hash(id)?.map(|(token, _)| token).filter(|token| token.project_id == project_id))
    }

    /// All tokens of a project, oldest first.
    pub fn tokens(&self, project_id: i64) -> Result<Vec<Token>> {
        let rows = self.conn.rows(
            &format!("SELECT {TOKEN_COLUMNS} FROM {TOKEN_FROM} WHERE t.project_id = ?1 ORDER BY t.id"),
            params![project_id],
            token_row,
        )?;
        let mut tokens = Vec::new();
        for (mut token, _, _) in rows {
            self.attach_grants(&mut token)?;
            tokens.push(token);
        }
        Ok(tokens)
    }

    /// The encrypted secret of a shareable token.
    pub fn token_secret_enc(&self, id: i64) -> Result<Option<String>> {
        self.conn.row("SELECT secret_enc FROM tokens WHERE id = ?1", params![id], |row| row.get(0)).map(Option::flatten)
    }

    /// Tokens whose expiry time has passed, across all projects.
    pub fn expired_tokens(&self, now: Timestamp) -> Result<Vec<Token>> {
        let rows = self.conn.rows(
            &format!(
                "SELECT {TOKEN_COLUMNS} FROM {TOKEN_FROM} WHERE t.expires IS NOT NULL AND t.expires <= ?1 ORDER BY t.id"
            ),
            params![now],
            token_row,
        )?;
        Ok(rows.into_iter().map(|(token, _, _)| token).collect())
    }

    /// A share link by the hash of its secret part.
    pub fn token_share_by_hash(&self, link_hash: &str) -> Result<Option<TokenShare>> {
        self.conn.row(
            "SELECT id, token_id, recipient_email, created, expires, retrieved FROM token_shares WHERE link_hash = ?1",
            params![link_hash],
            |row| {
                Ok(TokenShare {
                    id: row.get(0)?,
                    token_id: row.get(1)?,
                    recipient_email: row.get(2)?,
                    created: row.get(3)?,
                    expires: row.get(4)?,
                    retrieved: row.get(5)?,
                })
            },
        )
    }

    /// The master token of a member.
    pub fn master_token_id(&self, project_id: i64, user_id: i64) -> Result<Option<i64>> {
        self.conn.row(
            "SELECT id FROM tokens WHERE project_id = ?1 AND user_id = ?2",
            params![project_id, user_id],
            |row| row.get(0),
        )
    }
}

impl Writer<'_> {
    /// Stores a new token with the hash of its secret and returns its id.
    ///
    /// The secret embeds the id, so callers insert with a placeholder hash and then call
    /// [`Writer::set_token_secret_hash`] inside the same transaction.
    pub fn insert_token(&self, token: &NewToken, secret_hash: &str) -> Result<i64> {
        let id = self.conn().one(
            "INSERT INTO tokens (project_id, description, secret_hash, user_id, can_manage_buckets,
                    can_read_all_file_uploads, can_purge_trash, component_access, created, refreshed, expires,
                    creator_token_id, creator_token_description, owner_user_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11, ?12, ?13) RETURNING id",
            params![
                token.project_id,
                token.description,
                secret_hash,
                token.user_id,
                token.can_manage_buckets,
                token.can_read_all_file_uploads,
                token.can_purge_trash,
                serde_json::to_string(&token.component_access).map_err(Error::internal)?,
                token.created,
                token.expires,
                token.creator.as_ref().map(|creator| creator.id),
                token.creator.as_ref().map(|creator| creator.description.as_str()),
                token.owner_user_id,
            ],
            |row| row.get(0),
        )?;
        self.set_token_grants(id, token.project_id, &token.grants)?;
        Ok(id)
    }

    /// Replaces the explicit bucket grants of a token. Every bucket must exist (callers check).
    pub fn set_token_grants(&self, token_id: i64, project_id: i64, grants: &[(String, BucketAccess)]) -> Result<()> {
        self.conn().execute("DELETE FROM token_bucket_grants WHERE token_id = ?1", params![token_id])?;
        for (bucket_id, access) in grants {
            // A missing bucket leaves `bucket_pk` NULL, which the schema refuses: callers check first.
            self.conn().execute(
                "INSERT INTO token_bucket_grants (token_id, bucket_pk, access)
                 VALUES (?1, (SELECT pk FROM buckets WHERE project_id = ?2 AND id = ?3), ?4)",
                params![token_id, project_id, bucket_id, access.as_str()],
            )?;
        }
        Ok(())
    }

    /// Applies changes to a token.
    pub fn update_token(&self, token_id: i64, project_id: i64, changes: &TokenChanges) -> Result<()> {
        let component_access =
            changes.component_access.as_ref().map(serde_json::to_string).transpose().map_err(Error::internal)?;
        self.conn().execute(
            "UPDATE tokens SET description = COALESCE(?2, description),
                    component_access = COALESCE(?3, component_access),
                    can_read_all_file_uploads = COALESCE(?4, can_read_all_file_uploads),
                    can_purge_trash = COALESCE(?5, can_purge_trash)
                 WHERE id = ?1",
            params![
                token_id,
                changes.description,
                component_access,
                changes.can_read_all_file_uploads,
                changes.can_purge_trash
            ],
        )?;
        if let Some(grants) = &changes.grants {
            self.set_token_grants(token_id, project_id, grants)?;
        }
        Ok(())
    }

    /// Stores the encrypted secret of a shareable token.
    pub fn set_token_secret_enc(&self, id: i64, secret_enc: &str) -> Result<()> {
        self.conn().execute("UPDATE tokens SET secret_enc = ?2 WHERE id = ?1", params![id, secret_enc])?;
        Ok(())
    }

    /// Records a share link.
    pub fn insert_token_share(&self, share: &TokenShare, link_hash: &str) -> Result<i64> {
        self.conn().one(
            "INSERT INTO token_shares (token_id, link_hash, recipient_email, created, expires)
             VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
            params![share.token_id, link_hash, share.recipient_email, share.created, share.expires],
            |row| row.get(0),
        )
    }

    /// Marks a share link as used.
    pub fn mark_token_share_retrieved(&self, id: i64, at: Timestamp) -> Result<()> {
        self.conn().execute("UPDATE token_shares SET retrieved = ?2 WHERE id = ?1", params![id, at])?;
        Ok(())
    }

    /// Deletes every share link of a token (its secret changed: a link sent before must not
    /// reveal the new one).
    pub fn delete_token_shares(&self, token_id: i64) -> Result<usize> {
        self.conn().execute("DELETE FROM token_shares WHERE token_id = ?1", params![token_id])
    }

    /// Deletes share links past their expiry or already used; returns how many.
    pub fn prune_token_shares(&self, now: Timestamp) -> Result<usize> {
        self.conn().execute("DELETE FROM token_shares WHERE expires <= ?1 OR retrieved IS NOT NULL", params![now])
    }

    /// Replaces the secret hash of a token; `refreshed` is set when this is a refresh.
    pub fn set_token_secret_hash(&self, id: i64, secret_hash: &str, refreshed: Option<Timestamp>) -> Result<()> {
        self.conn().execute(
            "UPDATE tokens SET secret_hash = ?2, refreshed = COALESCE(?3, refreshed) WHERE id = ?1",
            params![id, secret_hash, refreshed],
        )?;
        Ok(())
    }

    /// Records that the token was used at `at`.
    pub fn touch_token(&self, id: i64, at: Timestamp) -> Result<()> {
        self.conn().execute("UPDATE tokens SET last_used = ?2 WHERE id = ?1", params![id, at])?;
        Ok(())
    }

    /// Deletes a token and its grants.
    pub fn delete_token(&self, id: i64) -> Result<bool> {
        let deleted = self.conn().execute("DELETE FROM tokens WHERE id = ?1", params![id])?;
        Ok(deleted > 0)
    }
}
