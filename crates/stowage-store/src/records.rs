//! Rows of the catalog as plain structs. Tokens are `stowage_types::auth::Token`; events and jobs
//! are in `stowage_types` as well.

use stowage_types::time::Timestamp;

/// A project: the unit that owns buckets, tables, files, tokens and events.
#[derive(Debug, Clone)]
pub struct Project {
    pub id: i64,
    pub name: String,
    pub created: Timestamp,
}

/// A development branch; every project has exactly one default branch for now.
#[derive(Debug, Clone)]
pub struct Branch {
    pub id: i64,
    pub project_id: i64,
    pub name: String,
    pub description: String,
    pub is_default: bool,
    pub created: Timestamp,
}

/// A person who can be a member of projects.
#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub created: Timestamp,
}

/// A user's membership in a project.
#[derive(Debug, Clone)]
pub struct Member {
    pub user: User,
    pub role: stowage_types::auth::Role,
    pub created: Timestamp,
}

/// A manage API token (secret stored hashed).
#[derive(Debug, Clone)]
pub struct ManageToken {
    pub id: i64,
    pub description: String,
    pub created: Timestamp,
}

/// A bucket of a project.
#[derive(Debug, Clone)]
pub struct Bucket {
    pub project_id: i64,
    /// E.g. `in.c-sales`.
    pub id: String,
    /// E.g. `c-sales`.
    pub name: String,
    pub display_name: String,
    pub stage: String,
    pub description: String,
    pub backend: String,
    pub color: Option<String>,
    pub created: Timestamp,
    pub updated: Option<Timestamp>,
    pub last_change: Option<Timestamp>,
}

/// One metadata entry of an object, upserted by (provider, key).
#[derive(Debug, Clone)]
pub struct MetadataEntry {
    pub id: i64,
    pub object_type: String,
    pub object_id: String,
    pub provider: String,
    pub key: String,
    pub value: String,
    pub timestamp: Timestamp,
}

/// A token about to be stored.
#[derive(Debug, Clone, Default)]
pub struct NewToken {
    pub project_id: i64,
    pub description: String,
    pub user_id: Option<i64>,
    pub can_manage_buckets: bool,
    pub can_read_all_file_uploads: bool,
    pub can_purge_trash: bool,
    pub component_access: Vec<String>,
    pub expires: Option<Timestamp>,
    pub creator: Option<stowage_types::auth::TokenRef>,
    /// The admin whose master token created this token.
    pub owner_user_id: Option<i64>,
    /// Explicit bucket grants: (bucket id, `read` or `write`).
    pub grants: Vec<(String, stowage_types::auth::BucketAccess)>,
    pub created: Timestamp,
}

/// Changes to a limited token; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TokenChanges {
    pub description: Option<String>,
    /// Replaces every explicit grant when given.
    pub grants: Option<Vec<(String, stowage_types::auth::BucketAccess)>>,
    pub component_access: Option<Vec<String>>,
    pub can_read_all_file_uploads: Option<bool>,
    pub can_purge_trash: Option<bool>,
}

/// A one-time link to retrieve a shared token.
#[derive(Debug, Clone)]
pub struct TokenShare {
    pub id: i64,
    pub token_id: i64,
    pub recipient_email: String,
    pub created: Timestamp,
    pub expires: Timestamp,
    pub retrieved: Option<Timestamp>,
}
