//! Rows of the catalog as plain structs. Tokens are `stowage_types::auth::Token`; events and jobs
//! are in `stowage_types` as well.

use stowage_types::time::Timestamp;

/// A project: the unit that owns buckets, tables, files, tokens and events.
#[derive(Debug, Clone)]
pub struct Project {
    pub id: i64,
    pub name: String,
    pub created: Timestamp,
    /// The organization the project lives in.
    pub organization_id: i64,
}

/// Who runs a set of organizations (a stack starts with one).
#[derive(Debug, Clone)]
pub struct Maintainer {
    pub id: i64,
    pub name: String,
    pub created: Timestamp,
}

/// A set of projects and the people who manage them; buckets are shared within one.
#[derive(Debug, Clone)]
pub struct Organization {
    pub id: i64,
    pub maintainer_id: i64,
    pub name: String,
    pub crm_id: String,
    pub allow_auto_join: bool,
    pub mfa_required: bool,
    pub created: Timestamp,
}

/// What may change on an organization; `None` keeps the field as it is.
#[derive(Debug, Clone, Default)]
pub struct OrganizationChanges {
    pub name: Option<String>,
    pub maintainer_id: Option<i64>,
    pub crm_id: Option<String>,
    pub allow_auto_join: Option<bool>,
    pub mfa_required: Option<bool>,
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

/// How a bucket is shared within its organization, and to whom.
#[derive(Debug, Clone)]
pub struct BucketSharing {
    pub project_id: i64,
    pub bucket_id: String,
    /// `organization`, `organization-project`, `selected-projects` or `selected-users`.
    pub sharing: String,
    /// The token that shared it: id and description.
    pub shared_by: (i64, String),
    pub shared: Timestamp,
    /// For `selected-projects`: (id, name) of each project it is shared to.
    pub projects: Vec<(i64, String)>,
    /// For `selected-users`: each user it is shared to.
    pub users: Vec<User>,
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
    /// How many imports the table has had (what triggers watch: a count, unlike a time, never
    /// misses two imports in one second).
    pub imports: i64,
    /// The column types of a typed table, in column order; `None` for untyped text columns.
    pub definition: Option<Vec<stowage_types::datatype::ColumnType>>,
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

/// A trigger: run a configuration, as a token, when every watched table has been imported to
/// since the last run and the cool-down has passed.
#[derive(Debug, Clone, Default)]
pub struct TriggerRecord {
    pub id: i64,
    pub project_id: i64,
    pub run_with_token_id: i64,
    pub component_id: String,
    pub configuration_id: String,
    pub cool_down_minutes: i64,
    /// The creation, then each run.
    pub last_run: Timestamp,
    pub creator: stowage_types::auth::TokenRef,
    /// In the order given.
    pub tables: Vec<TriggerTable>,
}

/// A table a trigger watches: what the trigger saw at its last run, and the table now.
#[derive(Debug, Clone, Default)]
pub struct TriggerTable {
    pub table_id: String,
    /// The table (its internal key) the trigger saw; a table dropped and created again is another.
    pub seen_pk: Option<i64>,
    /// Its import count then.
    pub seen_imports: i64,
    /// The table now (internal key, import count); `None` while no such table exists.
    pub current: Option<(i64, i64)>,
}

impl TriggerTable {
    /// True when the table has been imported to since the trigger last saw it.
    pub fn imported_since(&self) -> bool {
        match self.current {
            Some((pk, imports)) if Some(pk) == self.seen_pk => imports > self.seen_imports,
            Some((_, imports)) => imports > 0,
            None => false,
        }
    }
}

impl TriggerRecord {
    /// True when every watched table has been imported to since the last run (the cool-down is
    /// the reader's filter).
    pub fn is_due(&self) -> bool {
        !self.tables.is_empty() && self.tables.iter().all(TriggerTable::imported_since)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watched(seen: Option<(i64, i64)>, current: Option<(i64, i64)>) -> TriggerTable {
        TriggerTable {
            table_id: "in.c-a.t".into(),
            seen_pk: seen.map(|(pk, _)| pk),
            seen_imports: seen.map_or(0, |(_, imports)| imports),
            current,
        }
    }

    #[test]
    fn a_table_counts_as_imported_only_after_an_import_the_trigger_has_not_seen() {
        assert!(!watched(Some((1, 3)), Some((1, 3))).imported_since());
        assert!(watched(Some((1, 3)), Some((1, 4))).imported_since());
        assert!(!watched(Some((1, 3)), None).imported_since(), "a dropped table is never imported to");
        assert!(watched(Some((1, 3)), Some((2, 1))).imported_since(), "a table created again with data");
        assert!(!watched(Some((1, 3)), Some((2, 0))).imported_since(), "a table created again, empty");
    }

    #[test]
    fn a_trigger_is_due_when_every_table_was_imported_to() {
        let mut trigger = TriggerRecord {
            tables: vec![watched(Some((1, 1)), Some((1, 2))), watched(Some((2, 5)), Some((2, 5)))],
            ..TriggerRecord::default()
        };
        assert!(!trigger.is_due());
        trigger.tables[1].current = Some((2, 6));
        assert!(trigger.is_due());
        assert!(!TriggerRecord::default().is_due(), "a trigger without tables never runs");
    }
}

/// A schedule: run a configuration (or some of its rows), as a token, whenever a cron expression
/// matches in a time zone. Made from a `keboola.scheduler` configuration when it is activated.
#[derive(Debug, Clone, Default)]
pub struct ScheduleRecord {
    pub id: i64,
    pub project_id: i64,
    /// The `keboola.scheduler` configuration, and its version when activated.
    pub configuration_id: String,
    pub configuration_version: i64,
    pub run_with_token_id: i64,
    pub cron_tab: String,
    /// An IANA time zone, such as `Europe/Prague`.
    pub timezone: String,
    pub enabled: bool,
    pub target_component_id: String,
    pub target_configuration_id: String,
    /// Rows to run; empty runs the configuration's enabled rows.
    pub target_row_ids: Vec<String>,
    pub next_run: Timestamp,
    pub last_run: Option<Timestamp>,
    pub last_job_id: Option<i64>,
    pub creator: stowage_types::auth::TokenRef,
    pub created: Timestamp,
}
