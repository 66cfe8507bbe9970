//! Who may do what: roles, bucket access levels, the resolved [`Token`] and the [`Granted`] proof.
//!
//! Every use case in `stowage-core` takes a `&Granted<P>`. The only way to get one is
//! [`Token::authorize`], which checks the rule of `P` against the token. So an operation cannot be
//! reached without its permission check, whichever route or job calls it.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::names::{BucketId, TableId};
use crate::time::Timestamp;

/// The role of a project member. A member's master token gets its flags from the role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Guest,
    ReadOnly,
    Share,
}

/// How a bucket is shared within its organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// To the organization's members, from any of its projects.
    Organization,
    /// To every project of the organization.
    OrganizationProject,
    /// To chosen projects of the organization.
    SelectedProjects,
    /// To chosen users.
    SelectedUsers,
}

impl Sharing {
    /// The wire name, as the bucket's `sharing` field shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            Sharing::Organization => "organization",
            Sharing::OrganizationProject => "organization-project",
            Sharing::SelectedProjects => "selected-projects",
            Sharing::SelectedUsers => "selected-users",
        }
    }

    /// Reads a wire name.
    pub fn parse(name: &str) -> Option<Sharing> {
        [Sharing::Organization, Sharing::OrganizationProject, Sharing::SelectedProjects, Sharing::SelectedUsers]
            .into_iter()
            .find(|sharing| sharing.as_str() == name)
    }
}

impl Role {
    /// The wire name: `admin`, `guest`, `readOnly`, `share`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Guest => "guest",
            Role::ReadOnly => "readOnly",
            Role::Share => "share",
        }
    }

    /// Parses a wire name.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "admin" => Some(Role::Admin),
            "guest" => Some(Role::Guest),
            "readOnly" => Some(Role::ReadOnly),
            "share" => Some(Role::Share),
            _ => None,
        }
    }
}

/// How far a token may go with one bucket. Ordered: `Read < Write < Manage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BucketAccess {
    Read,
    Write,
    Manage,
}

impl BucketAccess {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            BucketAccess::Read => "read",
            BucketAccess::Write => "write",
            BucketAccess::Manage => "manage",
        }
    }

    /// Parses a wire name.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "read" => Some(BucketAccess::Read),
            "write" => Some(BucketAccess::Write),
            "manage" => Some(BucketAccess::Manage),
            _ => None,
        }
    }
}

/// The project member a master token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRef {
    /// The user's id.
    pub user_id: i64,
    /// The user's email, also the master token's description.
    pub email: String,
    /// The user's display name.
    pub name: String,
    /// The user's role in the token's project.
    pub role: Role,
    /// Whether the user is a member of the organization the token's project lives in.
    pub organization_member: bool,
}

/// A user as a token's `adminOwner` shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRef {
    pub id: i64,
    pub name: String,
    pub email: String,
}

/// A short reference to another token, as in `creatorToken`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenRef {
    pub id: i64,
    pub description: String,
}

/// A token as stored, without its secret. Built per request from the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub id: i64,
    pub project_id: i64,
    pub description: String,
    /// `Some` for master tokens: the member whose token this is.
    pub member: Option<MemberRef>,
    /// The `canManageBuckets` flag of a limited token. Master tokens take it from their role.
    pub can_manage_buckets_flag: bool,
    /// The `canReadAllFileUploads` flag of a limited token.
    pub can_read_all_file_uploads_flag: bool,
    /// The `canPurgeTrash` flag of a limited token.
    pub can_purge_trash_flag: bool,
    /// Component ids this token may configure and run.
    pub component_access: Vec<String>,
    /// Explicit bucket grants of a limited token (`read` or `write`), by bucket id.
    pub bucket_grants: BTreeMap<String, BucketAccess>,
    pub created: Timestamp,
    pub refreshed: Timestamp,
    pub expires: Option<Timestamp>,
    pub creator: Option<TokenRef>,
    /// The admin whose master token created this token.
    pub admin_owner: Option<UserRef>,
    pub last_used: Option<Timestamp>,
}

impl Token {
    /// Whether this token may see and link a bucket shared as `sharing` from a project of its own
    /// organization: `organization` needs an organization member's master token;
    /// `organization-project` any token that manages buckets; `selected-projects` such a token of a
    /// project in `projects`; `selected-users` the master token of a user in `users`.
    pub fn may_link(&self, sharing: Sharing, projects: &[i64], users: &[i64]) -> bool {
        let member = self.member.as_ref();
        match sharing {
            Sharing::Organization => member.is_some_and(|m| m.organization_member),
            Sharing::OrganizationProject => self.can_manage_buckets(),
            Sharing::SelectedProjects => self.can_manage_buckets() && projects.contains(&self.project_id),
            Sharing::SelectedUsers => member.is_some_and(|m| users.contains(&m.user_id)),
        }
    }

    /// True for a project member's own token.
    pub fn is_master(&self) -> bool {
        self.member.is_some()
    }

    /// The member role, for master tokens.
    pub fn role(&self) -> Option<Role> {
        self.member.as_ref().map(|member| member.role)
    }

    /// Full access to every bucket, including buckets created later.
    pub fn can_manage_buckets(&self) -> bool {
        match self.role() {
            Some(role) => role != Role::ReadOnly,
            None => self.can_manage_buckets_flag,
        }
    }

    /// May list, create, change and delete other tokens: master tokens of admins and sharers.
    pub fn can_manage_tokens(&self) -> bool {
        matches!(self.role(), Some(Role::Admin | Role::Share))
    }

    /// May read files uploaded by any token.
    pub fn can_read_all_file_uploads(&self) -> bool {
        self.is_master() || self.can_read_all_file_uploads_flag
    }

    /// May purge configurations from the trash.
    pub fn can_purge_trash(&self) -> bool {
        match self.role() {
            Some(role) => matches!(role, Role::Admin | Role::Share),
            None => self.can_purge_trash_flag,
        }
    }

    /// Sees every event of the project, not only its own.
    pub fn sees_all_events(&self) -> bool {
        self.is_master()
    }

    /// The access this token has to `bucket_id`, if any. Callers pass ids of existing buckets;
    /// grants of deleted buckets are removed with them.
    pub fn bucket_access(&self, bucket_id: &str) -> Option<BucketAccess> {
        if self.role() == Some(Role::ReadOnly) {
            return Some(BucketAccess::Read);
        }
        if self.can_manage_buckets() {
            return Some(BucketAccess::Manage);
        }
        self.bucket_grants.get(bucket_id).copied()
    }

    /// True once `now` has reached the expiry time.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires.is_some_and(|expires| expires <= now)
    }

    /// True when every permission of `other` is also this token's: what lets this token have
    /// automated runs (triggers, schedules) made as `other` without reaching further than itself.
    /// Master tokens other than read-only ones cover every token; a limited token covers a limited
    /// token whose buckets, components and file access are within its own.
    pub fn covers(&self, other: &Token) -> bool {
        if self.is_master() && self.role() != Some(Role::ReadOnly) {
            return true;
        }
        if other.is_master() {
            return false;
        }
        let buckets = if other.can_manage_buckets() {
            self.can_manage_buckets()
        } else {
            other.bucket_grants.iter().all(|(bucket, access)| self.bucket_access(bucket) >= Some(*access))
        };
        let components = self.can_manage_buckets()
            || (!other.can_manage_buckets()
                && other.component_access.iter().all(|c| self.component_access.contains(c)));
        let files = !other.can_read_all_file_uploads() || self.can_read_all_file_uploads();
        buckets && components && files
    }

    /// Checks `permission` against this token and returns the proof core functions require.
    pub fn authorize<P: Permission>(self: &Arc<Self>, permission: P) -> Result<Granted<P>> {
        if permission.allows(self) {
            Ok(Granted { token: Arc::clone(self), scope: permission })
        } else {
            Err(Error::access_denied())
        }
    }
}

/// A rule a token must satisfy for one operation.
pub trait Permission {
    /// True when `token` may perform the operation.
    fn allows(&self, token: &Token) -> bool;
}

/// Proof that a token passed the check of `P`. Only [`Token::authorize`] builds one.
#[derive(Debug)]
pub struct Granted<P> {
    token: Arc<Token>,
    scope: P,
}

impl<P> Granted<P> {
    /// The token that was checked.
    pub fn token(&self) -> &Arc<Token> {
        &self.token
    }

    /// The permission, with the resource it was checked on.
    pub fn scope(&self) -> &P {
        &self.scope
    }

    /// The token's project.
    pub fn project_id(&self) -> i64 {
        self.token.project_id
    }
}

/// Any valid token of the project: reading the project itself, its events, its own data.
#[derive(Debug)]
pub struct AnyToken;
impl Permission for AnyToken {
    fn allows(&self, _token: &Token) -> bool {
        true
    }
}

/// Creating buckets: tokens that manage buckets.
#[derive(Debug)]
pub struct CreateBuckets;
impl Permission for CreateBuckets {
    fn allows(&self, token: &Token) -> bool {
        token.can_manage_buckets()
    }
}

/// Reading one bucket and what is in it.
#[derive(Debug)]
pub struct ReadBucket(pub BucketId);
impl Permission for ReadBucket {
    fn allows(&self, token: &Token) -> bool {
        token.bucket_access(self.0.as_str()).is_some()
    }
}

/// Writing into one bucket: tables, imports, metadata.
#[derive(Debug)]
pub struct WriteBucket(pub BucketId);
impl Permission for WriteBucket {
    fn allows(&self, token: &Token) -> bool {
        token.bucket_access(self.0.as_str()) >= Some(BucketAccess::Write)
    }
}

/// A permission on one table: core loads the table it names, and only that one.
pub trait OnTable: Permission {
    /// The table the permission was checked on.
    fn table(&self) -> &TableId;
}

/// Reading one table: its detail, rows, events and metadata.
#[derive(Debug)]
pub struct ReadTable(pub TableId);
impl Permission for ReadTable {
    fn allows(&self, token: &Token) -> bool {
        token.bucket_access(self.0.bucket().as_str()).is_some()
    }
}
impl OnTable for ReadTable {
    fn table(&self) -> &TableId {
        &self.0
    }
}

/// Changing one table: loads, keys, columns, metadata, its deletion.
#[derive(Debug)]
pub struct WriteTable(pub TableId);
impl Permission for WriteTable {
    fn allows(&self, token: &Token) -> bool {
        token.bucket_access(self.0.bucket().as_str()) >= Some(BucketAccess::Write)
    }
}
impl OnTable for WriteTable {
    fn table(&self) -> &TableId {
        &self.0
    }
}

/// Reading the metadata of one column of a table: as reading the table.
#[derive(Debug)]
pub struct ReadColumn(pub TableId, pub String);
impl Permission for ReadColumn {
    fn allows(&self, token: &Token) -> bool {
        ReadTable(self.0.clone()).allows(token)
    }
}

/// Changing the metadata of one column of a table: as changing the table.
#[derive(Debug)]
pub struct WriteColumn(pub TableId, pub String);
impl Permission for WriteColumn {
    fn allows(&self, token: &Token) -> bool {
        WriteTable(self.0.clone()).allows(token)
    }
}

impl<P: OnTable> Granted<P> {
    /// The table the grant covers.
    pub fn table_id(&self) -> &TableId {
        self.scope.table()
    }
}

/// Reading one file, checked on its record: its uploader, or tokens that read every upload.
#[derive(Debug)]
pub struct ReadFile {
    /// The token that uploaded the file.
    pub creator_token_id: i64,
}
impl Permission for ReadFile {
    fn allows(&self, token: &Token) -> bool {
        token.can_read_all_file_uploads() || self.creator_token_id == token.id
    }
}

/// Changing one file (its tags, its deletion), checked on its record: its uploader, or master tokens
/// other than read-only ones.
#[derive(Debug)]
pub struct ChangeFile {
    /// The token that uploaded the file.
    pub creator_token_id: i64,
}
impl Permission for ChangeFile {
    fn allows(&self, token: &Token) -> bool {
        match token.role() {
            Some(role) => role != Role::ReadOnly,
            None => self.creator_token_id == token.id,
        }
    }
}

/// Seeing one storage job, checked on its record: the token that started it, or any master token.
#[derive(Debug)]
pub struct SeeJob {
    /// The token that started the job.
    pub creator_token_id: i64,
}
impl Permission for SeeJob {
    fn allows(&self, token: &Token) -> bool {
        token.is_master() || self.creator_token_id == token.id
    }
}

/// Changing or deleting one bucket.
#[derive(Debug)]
pub struct ManageBucket(pub BucketId);
impl Permission for ManageBucket {
    fn allows(&self, token: &Token) -> bool {
        token.bucket_access(self.0.as_str()) == Some(BucketAccess::Manage)
    }
}

/// Sharing one bucket, changing how it is shared or stopping: the master token of a member of the
/// project's organization, or of a member with the `share` role (Keboola's organization
/// administrators). Limited tokens never share, even with `canManageBuckets`.
#[derive(Debug)]
pub struct ShareBucket(pub BucketId);
impl Permission for ShareBucket {
    fn allows(&self, token: &Token) -> bool {
        token.member.as_ref().is_some_and(|member| member.organization_member || member.role == Role::Share)
    }
}

/// Listing the buckets shared to the project: tokens that manage buckets (which of them a token sees
/// depends on the sharing kind, see [`Token::may_link`]).
#[derive(Debug)]
pub struct ListSharedBuckets;
impl Permission for ListSharedBuckets {
    fn allows(&self, token: &Token) -> bool {
        token.can_manage_buckets()
    }
}

/// Writing project-level (branch) metadata: master tokens other than read-only ones.
#[derive(Debug)]
pub struct WriteProjectMetadata;
impl Permission for WriteProjectMetadata {
    fn allows(&self, token: &Token) -> bool {
        token.is_master() && token.role() != Some(Role::ReadOnly)
    }
}

/// Listing components: master tokens, tokens that manage buckets, tokens with component access.
#[derive(Debug)]
pub struct ListComponents;
impl Permission for ListComponents {
    fn allows(&self, token: &Token) -> bool {
        token.is_master() || token.can_manage_buckets() || !token.component_access.is_empty()
    }
}

/// Reading the configurations of one component.
#[derive(Debug)]
pub struct ReadComponent(pub String);
impl Permission for ReadComponent {
    fn allows(&self, token: &Token) -> bool {
        token.is_master() || token.can_manage_buckets() || token.component_access.contains(&self.0)
    }
}

/// Changing and running the configurations of one component. Read-only members may not.
#[derive(Debug)]
pub struct WriteComponent(pub String);
impl Permission for WriteComponent {
    fn allows(&self, token: &Token) -> bool {
        token.role() != Some(Role::ReadOnly) && (token.can_manage_buckets() || token.component_access.contains(&self.0))
    }
}

/// Creating tokens: master tokens except read-only ones (guests get a minimal token).
#[derive(Debug)]
pub struct CreateTokens;
impl Permission for CreateTokens {
    fn allows(&self, token: &Token) -> bool {
        token.is_master() && token.role() != Some(Role::ReadOnly)
    }
}

/// Changing and sharing other tokens: token managers.
#[derive(Debug)]
pub struct ManageTokens;
impl Permission for ManageTokens {
    fn allows(&self, token: &Token) -> bool {
        token.can_manage_tokens()
    }
}

/// Refreshing or deleting one token: the token itself, or a token manager.
#[derive(Debug)]
pub struct ControlToken(pub i64);
impl Permission for ControlToken {
    fn allows(&self, token: &Token) -> bool {
        token.id == self.0 || token.can_manage_tokens()
    }
}

/// Reading one token (its detail and its event feed): the token itself, or a token manager.
#[derive(Debug)]
pub struct ReadToken(pub i64);
impl Permission for ReadToken {
    fn allows(&self, token: &Token) -> bool {
        token.id == self.0 || token.can_manage_tokens()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(role: Option<Role>) -> Token {
        Token {
            id: 1,
            project_id: 1,
            description: "t".into(),
            member: role.map(|role| MemberRef {
                user_id: 1,
                email: "a@b".into(),
                name: "a".into(),
                role,
                organization_member: false,
            }),
            can_manage_buckets_flag: false,
            can_read_all_file_uploads_flag: false,
            can_purge_trash_flag: false,
            component_access: vec![],
            bucket_grants: BTreeMap::new(),
            created: 0,
            refreshed: 0,
            expires: None,
            creator: None,
            admin_owner: None,
            last_used: None,
        }
    }

    #[test]
    fn a_token_covers_tokens_with_at_most_its_own_permissions() {
        let limited = |grants: &[(&str, BucketAccess)], components: &[&str], manage: bool| Token {
            id: 2,
            member: None,
            can_manage_buckets_flag: manage,
            component_access: components.iter().map(|c| c.to_string()).collect(),
            bucket_grants: grants.iter().map(|(b, a)| (b.to_string(), *a)).collect(),
            ..token(None)
        };
        let reader = limited(&[("in.c-a", BucketAccess::Read)], &["keboola.wr-storage"], false);
        let writer = limited(&[("in.c-a", BucketAccess::Write)], &["keboola.wr-storage"], false);
        let manager = limited(&[], &[], true);
        assert!(token(Some(Role::Guest)).covers(&manager), "a master token covers any limited token");
        assert!(!token(Some(Role::ReadOnly)).covers(&reader), "a read-only member covers none");
        assert!(writer.covers(&reader));
        assert!(!reader.covers(&writer), "write access is more than read");
        assert!(manager.covers(&writer), "managing buckets covers every bucket and component");
        assert!(!writer.covers(&manager));
        let elsewhere = limited(&[("in.c-a", BucketAccess::Read)], &["keboola.ex-storage"], false);
        assert!(!writer.covers(&elsewhere), "a component the caller cannot configure");
        assert!(!manager.covers(&token(Some(Role::Admin))), "only a master token covers a master token");
    }

    #[test]
    fn role_flags_follow_the_spec_table() {
        let flags = |role| {
            let t = token(Some(role));
            (t.can_manage_buckets(), t.can_manage_tokens(), t.can_read_all_file_uploads(), t.can_purge_trash())
        };
        assert_eq!(flags(Role::Admin), (true, true, true, true));
        assert_eq!(flags(Role::Share), (true, true, true, true));
        assert_eq!(flags(Role::Guest), (true, false, true, false));
        assert_eq!(flags(Role::ReadOnly), (false, false, true, false));
    }

    #[test]
    fn read_only_members_read_every_bucket_and_manage_none() {
        let t = Arc::new(token(Some(Role::ReadOnly)));
        let bucket = BucketId::parse("in.c-a").unwrap();
        assert!(t.authorize(ReadBucket(bucket.clone())).is_ok());
        assert!(t.authorize(WriteBucket(bucket.clone())).is_err());
        assert!(t.authorize(ManageBucket(bucket)).is_err());
    }

    #[test]
    fn a_write_grant_allows_reading_and_writing_but_not_managing() {
        let mut t = token(None);
        t.bucket_grants.insert("in.c-a".into(), BucketAccess::Write);
        let t = Arc::new(t);
        let granted = BucketId::parse("in.c-a").unwrap();
        assert!(t.authorize(ReadBucket(granted.clone())).is_ok());
        assert!(t.authorize(WriteBucket(granted.clone())).is_ok());
        assert!(t.authorize(ManageBucket(granted)).is_err());
        assert!(t.authorize(ReadBucket(BucketId::parse("in.c-b").unwrap())).is_err());
    }

    #[test]
    fn limited_tokens_cannot_create_buckets_unless_flagged() {
        let mut t = token(None);
        assert!(Arc::new(t.clone()).authorize(CreateBuckets).is_err());
        t.can_manage_buckets_flag = true;
        assert!(Arc::new(t).authorize(CreateBuckets).is_ok());
    }

    #[test]
    fn a_file_is_read_by_its_uploader_or_all_readers_and_changed_by_its_uploader_or_a_writing_master() {
        let (own, others) = (1, 2);
        let limited = token(None);
        assert!(ReadFile { creator_token_id: own }.allows(&limited));
        assert!(!ReadFile { creator_token_id: others }.allows(&limited));
        assert!(ChangeFile { creator_token_id: own }.allows(&limited));
        assert!(!ChangeFile { creator_token_id: others }.allows(&limited));
        let all_reader = Token { can_read_all_file_uploads_flag: true, ..token(None) };
        assert!(ReadFile { creator_token_id: others }.allows(&all_reader));
        assert!(!ChangeFile { creator_token_id: others }.allows(&all_reader), "reading all is not changing all");
        let read_only = token(Some(Role::ReadOnly));
        assert!(ReadFile { creator_token_id: others }.allows(&read_only));
        assert!(!ChangeFile { creator_token_id: own }.allows(&read_only), "not even its own");
        assert!(ChangeFile { creator_token_id: others }.allows(&token(Some(Role::Guest))));
    }

    #[test]
    fn a_job_is_seen_by_the_token_that_started_it_and_by_master_tokens() {
        assert!(SeeJob { creator_token_id: 1 }.allows(&token(None)));
        assert!(!SeeJob { creator_token_id: 2 }.allows(&token(None)));
        assert!(SeeJob { creator_token_id: 2 }.allows(&token(Some(Role::ReadOnly))));
    }
}
