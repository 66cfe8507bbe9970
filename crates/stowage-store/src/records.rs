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
#[derive(Debug, Clone, Default)]
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

/// A file: its record in the catalog; the bytes are in the object store under `blob_key`.
#[derive(Debug, Clone, Default)]
pub struct FileRecord {
    pub id: i64,
    pub project_id: i64,
    pub name: String,
    pub blob_key: String,
    /// `None` until uploaded.
    pub size_bytes: Option<i64>,
    pub content_type: Option<String>,
    pub is_public: bool,
    pub is_permanent: bool,
    pub is_encrypted: bool,
    pub created: Timestamp,
    pub uploaded: Option<Timestamp>,
    pub run_id: Option<String>,
    pub creator_token_id: i64,
    pub creator_token_description: String,
    pub max_age_days: i64,
    pub tags: Vec<String>,
}

/// Which files a listing returns.
#[derive(Debug, Clone, Default)]
pub struct FileFilter {
    pub project_id: i64,
    /// Only files created by this token (tokens that may not read all uploads).
    pub creator_token_id: Option<i64>,
    /// Files carrying any of these tags.
    pub any_tags: Vec<String>,
    /// Files carrying all of these tags (from `q`).
    pub all_tags: Vec<String>,
    pub since_id: Option<i64>,
    pub max_id: Option<i64>,
    pub run_id: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

/// A table: identity, its storage key, and the mirror of its stored schema and statistics.
#[derive(Debug, Clone, Default)]
pub struct TableRecord {
    /// Internal key.
    pub pk: i64,
    /// Where `table_data::TableStore` keeps the rows (column `data_file`).
    pub storage_key: String,
    pub project_id: i64,
    pub bucket_id: String,
    /// E.g. `in.c-sales.orders`.
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub columns: Vec<String>,
    pub primary_key: Vec<String>,
    pub rows_count: i64,
    pub data_size_bytes: i64,
    pub created: Timestamp,
    pub last_import: Option<Timestamp>,
    pub last_change: Option<Timestamp>,
}

/// A component configuration. `configuration` and `state` hold ciphertext for `#` keys.
#[derive(Debug, Clone, Default)]
pub struct ConfigRecord {
    pub pk: i64,
    pub project_id: i64,
    pub component_id: String,
    pub id: String,
    pub name: String,
    pub description: String,
    pub configuration: serde_json::Value,
    pub state: serde_json::Value,
    pub rows_sort_order: Vec<String>,
    pub is_disabled: bool,
    pub is_deleted: bool,
    pub version: i64,
    pub change_description: String,
    pub created: Timestamp,
    pub creator: Option<stowage_types::auth::TokenRef>,
    pub version_created: Timestamp,
    pub version_creator: Option<stowage_types::auth::TokenRef>,
}

/// A version of a configuration as it was when the version was made.
#[derive(Debug, Clone, Default)]
pub struct ConfigVersionRecord {
    pub configuration_pk: i64,
    pub version: i64,
    pub name: String,
    pub change_description: String,
    pub created: Timestamp,
    pub creator: Option<stowage_types::auth::TokenRef>,
    /// `{name, description, configuration, rowsSortOrder, isDisabled, rows}`, `#` values sealed.
    pub snapshot: serde_json::Value,
}

/// A row of a configuration.
#[derive(Debug, Clone, Default)]
pub struct RowRecord {
    pub pk: i64,
    pub configuration_pk: i64,
    pub id: String,
    pub name: String,
    pub description: String,
    pub configuration: serde_json::Value,
    pub state: serde_json::Value,
    pub is_disabled: bool,
    pub version: i64,
    pub change_description: String,
    pub created: Timestamp,
    pub creator: Option<stowage_types::auth::TokenRef>,
}

/// A component job.
#[derive(Debug, Clone, Default)]
pub struct QueueJobRecord {
    pub id: i64,
    pub project_id: i64,
    pub component_id: String,
    pub config_id: String,
    /// Rows asked for; empty means every enabled row.
    pub row_ids: Vec<String>,
    /// `created`, `processing`, `success`, `error`, `terminating`, `terminated`.
    pub status: String,
    pub token_id: i64,
    pub token_description: String,
    pub created: Timestamp,
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    pub result: serde_json::Value,
}

/// A stored console session.
#[derive(Debug, Clone)]
pub struct ConsoleSessionRecord {
    /// Set when a person signed in with email and password.
    pub user_id: Option<i64>,
    /// Set when a token was pasted into the sign-in page.
    pub token_id: Option<i64>,
    pub csrf: String,
    pub expires: Timestamp,
    /// SHA-256 of the token's secret hash or the person's password hash when the session opened.
    pub credential_hash: String,
}
