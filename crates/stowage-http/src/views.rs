//! Wire shapes: how domain records are shown as JSON. Field names follow the Keboola API.
//!
//! Each shape is a type that serializes to exactly what a route answers and describes itself in
//! the OpenAPI document (`ToSchema`), so the document cannot drift from the wire. Fields that
//! Keboola always sends as `null` or a constant are kept, typed as what Keboola would send.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};
use stowage_core::manage::PlacedProject;
use stowage_core::organizations::OrganizationDetail;
use stowage_core::records::{
    Branch, Bucket, BucketSharing, Maintainer, Member, MetadataEntry, Organization, Project, ScheduleRecord,
    TriggerRecord, User,
};
use stowage_core::tokens::TokenView;
use stowage_core::Core;
use stowage_types::auth::{BucketAccess, Token, TokenRef};
use stowage_types::event::Event;
use stowage_types::job::{Job, JobStatus};
use stowage_types::time::{self, format};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

fn opt_time(ts: Option<i64>) -> Option<String> {
    ts.map(format)
}

/// Which optional parts of a bucket to show.
#[derive(Default, Clone, Copy)]
pub struct BucketShape {
    /// Detail: `tables` is an array; list: a URL.
    pub detail: bool,
    pub attributes: bool,
}

/// A bucket's `tables`: the URL of its table list, or (in a bucket's detail) an array.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum BucketTables {
    Listed(Vec<Value>),
    Url(String),
}

/// A bucket.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Bucket)]
pub struct BucketView {
    pub uri: String,
    /// `{stage}.c-{name}`.
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub id_branch: Option<i64>,
    /// `in` or `out`.
    pub stage: String,
    pub description: String,
    pub tables: BucketTables,
    pub created: String,
    pub last_change_date: Option<String>,
    pub updated: Option<String>,
    pub is_read_only: bool,
    pub data_size_bytes: i64,
    pub rows_count: i64,
    pub is_maintenance: bool,
    pub backend: String,
    /// `organization`, `organization-project`, `selected-projects` or `selected-users`; null when not shared.
    pub sharing: Option<String>,
    /// The projects or users a bucket shared to selected ones is shared to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sharing_parameters: Option<Value>,
    /// The token that shared the bucket, and when.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_by: Option<Value>,
    pub has_external_schema: bool,
    pub database_name: String,
    pub path: String,
    pub backend_path: Vec<String>,
    pub is_linked_bucket: bool,
    pub linked_by: Vec<Value>,
    pub owner: Option<Value>,
    pub color: Option<String>,
    pub bucket_sharing_allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Vec<MetadataView>>,
}

/// A bucket.
pub fn bucket(
    core: &Core,
    bucket: &Bucket,
    metadata: Option<&[MetadataEntry]>,
    sharing: Option<&BucketSharing>,
    shape: BucketShape,
) -> BucketView {
    let uri = format!("{}/buckets/{}", core.storage_url(), bucket.id);
    BucketView {
        tables: if shape.detail {
            BucketTables::Listed(Vec::new())
        } else {
            BucketTables::Url(format!("{uri}/tables"))
        },
        uri,
        id: bucket.id.clone(),
        name: bucket.name.clone(),
        display_name: bucket.display_name.clone(),
        id_branch: None,
        stage: bucket.stage.clone(),
        description: bucket.description.clone(),
        created: format(bucket.created),
        last_change_date: opt_time(bucket.last_change),
        updated: opt_time(bucket.updated),
        is_read_only: false,
        data_size_bytes: 0,
        rows_count: 0,
        is_maintenance: false,
        backend: bucket.backend.clone(),
        sharing: sharing.map(|s| s.sharing.clone()),
        sharing_parameters: sharing.map(sharing_parameters),
        shared_by: sharing.map(shared_by),
        has_external_schema: false,
        database_name: String::new(),
        path: bucket.id.clone(),
        backend_path: vec![format!("STOWAGE_PRJ_{}", bucket.project_id), bucket.id.clone()],
        is_linked_bucket: false,
        linked_by: Vec::new(),
        owner: None,
        color: bucket.color.clone(),
        bucket_sharing_allowed: false,
        attributes: (shape.attributes || shape.detail).then(Vec::new),
        metadata: metadata.map(|entries| entries.iter().map(metadata_entry).collect()),
    }
}

/// The targets of a bucket's sharing: `{projects: [{id, name}]}`, `{users: [{id, name, email}]}` or `{}`.
pub fn sharing_parameters(sharing: &BucketSharing) -> Value {
    if !sharing.projects.is_empty() {
        let projects: Vec<Value> = sharing.projects.iter().map(|(id, name)| json!({"id": id, "name": name})).collect();
        json!({ "projects": projects })
    } else if !sharing.users.is_empty() {
        let users: Vec<Value> =
            sharing.users.iter().map(|u| json!({"id": u.id, "name": u.name, "email": u.email})).collect();
        json!({ "users": users })
    } else {
        json!({})
    }
}

/// Who shared a bucket: `{id, name, date}` of the token.
pub fn shared_by(sharing: &BucketSharing) -> Value {
    json!({ "id": sharing.shared_by.0, "name": sharing.shared_by.1, "date": format(sharing.shared) })
}

/// A metadata entry of a bucket, table or column. `provider` is absent on branch metadata.
#[derive(Serialize, ToSchema)]
#[schema(as = Metadata)]
pub struct MetadataView {
    /// The entry's id, as a string.
    pub id: String,
    pub key: String,
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    pub timestamp: String,
}

/// A metadata entry (with `provider`, as objects other than branches show it).
pub fn metadata_entry(entry: &MetadataEntry) -> MetadataView {
    MetadataView { provider: Some(entry.provider.clone()), ..branch_metadata_entry(entry) }
}

/// A branch metadata entry (no provider).
pub fn branch_metadata_entry(entry: &MetadataEntry) -> MetadataView {
    MetadataView {
        id: entry.id.to_string(),
        key: entry.key.clone(),
        value: entry.value.clone(),
        provider: None,
        timestamp: format(entry.timestamp),
    }
}

/// A development branch (only the default one exists).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Branch)]
pub struct BranchView {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub created: String,
    pub is_default: bool,
    pub creator_token: Option<TokenRefView>,
}

/// A branch.
pub fn branch(branch: &Branch) -> BranchView {
    BranchView {
        id: branch.id,
        name: branch.name.clone(),
        description: branch.description.clone(),
        created: format(branch.created),
        is_default: branch.is_default,
        creator_token: None,
    }
}

/// A map keyed by strings that serializes as `[]` when empty, as PHP serializes an empty array:
/// `php_map!(Name, Value, "what it maps")`.
macro_rules! php_map {
    ($name:ident, $value:ty, $description:literal) => {
        #[doc = $description]
        pub struct $name(pub BTreeMap<String, $value>);

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                if self.0.is_empty() {
                    serializer.serialize_seq(Some(0)).and_then(serde::ser::SerializeSeq::end)
                } else {
                    self.0.serialize(serializer)
                }
            }
        }

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                let map = ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .additional_properties(Some(<$value as PartialSchema>::schema()))
                    .build();
                let empty = ArrayBuilder::new().max_items(Some(0)).build();
                let description = concat!($description, " An empty array when there is none.");
                OneOfBuilder::new().item(map).item(empty).description(Some(description)).into()
            }
        }

        impl ToSchema for $name {
            fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
                <$value as ToSchema>::schemas(schemas);
            }
        }
    };
}

php_map!(BucketPermissions, String, "Bucket id to the token's access: `read`, `write` or `manage`.");
php_map!(ColumnMetadata, Vec<MetadataView>, "Column name to its metadata.");

fn bucket_permissions(token: &Token, bucket_ids: &[String]) -> BucketPermissions {
    let mut map = BTreeMap::new();
    if token.is_master() || token.can_manage_buckets() {
        for id in bucket_ids {
            if let Some(access) = token.bucket_access(id) {
                map.insert(id.clone(), access.as_str().to_string());
            }
        }
    } else {
        for (id, access) in &token.bucket_grants {
            let access: BucketAccess = *access;
            map.insert(id.clone(), access.as_str().to_string());
        }
    }
    BucketPermissions(map)
}

/// A project, as the token owner in `verify` shows it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = TokenOwner)]
pub struct OwnerView {
    pub id: i64,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub region: String,
    pub created: String,
    pub expires: Option<String>,
    pub features: Vec<String>,
    pub data_size_bytes: i64,
    pub rows_count: i64,
    pub has_redshift: bool,
    pub has_snowflake: bool,
    pub has_synapse: bool,
    pub has_exasol: bool,
    pub has_teradata: bool,
    pub has_bigquery: bool,
    pub has_mysql: bool,
    pub default_backend: &'static str,
    pub assigned_backends: Vec<&'static str>,
    pub has_try_mode_on: bool,
    pub limits: BTreeMap<String, Value>,
    pub metrics: BTreeMap<String, Value>,
    pub is_disabled: bool,
    pub billed_monthly_price: Option<f64>,
    pub data_retention_time_in_days: i64,
    pub file_storage_provider: &'static str,
}

/// A project, as the token owner in `verify` shows it.
pub fn owner(core: &Core, project: &Project) -> OwnerView {
    OwnerView {
        id: project.id,
        name: project.name.clone(),
        kind: "production",
        region: core.stack.name.clone(),
        created: format(project.created),
        expires: None,
        features: Vec::new(),
        data_size_bytes: 0,
        rows_count: 0,
        has_redshift: false,
        has_snowflake: false,
        has_synapse: false,
        has_exasol: false,
        has_teradata: false,
        has_bigquery: false,
        has_mysql: false,
        default_backend: stowage_core::buckets::BACKEND,
        assigned_backends: vec![stowage_core::buckets::BACKEND],
        has_try_mode_on: false,
        limits: BTreeMap::new(),
        metrics: BTreeMap::new(),
        is_disabled: false,
        billed_monthly_price: None,
        data_retention_time_in_days: 7,
        file_storage_provider: "azure",
    }
}

/// A token (or user) named by id and description.
#[derive(Serialize, ToSchema)]
#[schema(as = TokenRef)]
pub struct TokenRefView {
    /// The token's id, as a string.
    pub id: String,
    pub description: String,
}

impl From<&TokenRef> for TokenRefView {
    fn from(token: &TokenRef) -> Self {
        TokenRefView { id: token.id.to_string(), description: token.description.clone() }
    }
}

/// A person: the admin who owns a token.
#[derive(Serialize, ToSchema)]
pub struct UserRef {
    pub id: i64,
    pub name: String,
    pub email: String,
}

/// The project member a master token belongs to.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenAdmin {
    pub id: i64,
    pub name: String,
    /// `admin`, `share`, `guest` or `readOnly`.
    pub role: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub features: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_organization_member: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_activated: Option<bool>,
}

/// An organization, as `verify` names it.
#[derive(Serialize, ToSchema)]
pub struct OrganizationRef {
    /// The organization's id, as a string.
    pub id: String,
}

/// A token without its secret; `token` holds the secret only in the answer that made or refreshed
/// it. `verify` adds `owner`, `organization` and the admin's details.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Token)]
pub struct TokenShape {
    /// The token's id, as a string.
    pub id: String,
    pub description: String,
    pub created: String,
    pub refreshed: String,
    pub uri: String,
    pub is_master_token: bool,
    pub can_manage_buckets: bool,
    pub can_manage_tokens: bool,
    pub can_read_all_file_uploads: bool,
    pub can_purge_trash: bool,
    pub can_manage_protected_default_branch: bool,
    pub expires: Option<String>,
    pub is_expired: bool,
    pub is_disabled: bool,
    #[serde(rename = "isBYODB")]
    pub is_byodb: bool,
    pub daily_capacity: i64,
    pub bucket_permissions: BucketPermissions,
    pub last_used: Option<String>,
    /// The components this token may run and configure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component_access: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_owner: Option<UserRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creator_token: Option<TokenRefView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin: Option<TokenAdmin>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<OwnerView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<OrganizationRef>,
    /// The secret: only when the token was just made or refreshed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// A token without its secret. `verify` adds `owner`, `organization` and the admin details.
pub fn token(core: &Core, view: &TokenView, verify: bool) -> TokenShape {
    let token = &view.token;
    let mut admin_owner = token.admin_owner.as_ref().map(|owner| UserRef {
        id: owner.id,
        name: owner.name.clone(),
        email: owner.email.clone(),
    });
    let admin = token.member.as_ref().map(|member| {
        if verify {
            admin_owner = Some(UserRef { id: member.user_id, name: member.name.clone(), email: member.email.clone() });
        }
        TokenAdmin {
            id: member.user_id,
            name: member.name.clone(),
            role: member.role.as_str(),
            features: verify.then(Vec::new),
            is_organization_member: verify.then_some(member.organization_member),
            is_activated: verify.then_some(false),
        }
    });
    TokenShape {
        id: token.id.to_string(),
        description: token.description.clone(),
        created: format(token.created),
        refreshed: format(token.refreshed),
        uri: format!("{}/tokens/{}", core.storage_url(), token.id),
        is_master_token: token.is_master(),
        can_manage_buckets: token.can_manage_buckets(),
        can_manage_tokens: token.can_manage_tokens(),
        can_read_all_file_uploads: token.can_read_all_file_uploads(),
        can_purge_trash: token.can_purge_trash(),
        can_manage_protected_default_branch: false,
        expires: opt_time(token.expires),
        is_expired: token.is_expired(time::now()),
        is_disabled: false,
        is_byodb: false,
        daily_capacity: if token.is_master() { 0 } else { 5 },
        bucket_permissions: bucket_permissions(token, &view.bucket_ids),
        last_used: opt_time(token.last_used),
        component_access: (!token.component_access.is_empty()).then(|| token.component_access.clone()),
        admin_owner,
        creator_token: token.creator.as_ref().map(TokenRefView::from),
        admin,
        owner: (verify || token.is_master()).then(|| owner(core, &view.project)),
        organization: verify.then(|| OrganizationRef { id: view.project.organization_id.to_string() }),
        token: None,
    }
}

/// The token that recorded an event.
#[derive(Serialize, ToSchema)]
pub struct EventToken {
    /// The token's id, as a string.
    pub id: String,
    pub name: Option<String>,
}

/// An event: one recorded operation.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Event)]
pub struct EventView {
    pub id: i64,
    pub uuid: String,
    /// What happened, for example `storage.tableImportDone`.
    pub event: String,
    pub component: String,
    pub message: String,
    pub description: String,
    /// `info`, `success`, `warn` or `error`.
    #[serde(rename = "type")]
    pub kind: String,
    pub run_id: Option<String>,
    pub created: String,
    pub configuration_id: Option<String>,
    pub object_id: Option<String>,
    pub object_name: Option<String>,
    pub object_type: Option<String>,
    pub context: Value,
    pub params: Value,
    pub results: Value,
    pub performance: Value,
    pub token: Option<EventToken>,
    pub id_branch: i64,
    pub uri: String,
    pub attachments: Vec<Value>,
}

/// An event.
pub fn event(core: &Core, event: &Event) -> EventView {
    let data = &event.data;
    EventView {
        id: event.id,
        uuid: event.uuid.clone(),
        event: data.event.clone(),
        component: data.component.clone(),
        message: data.message.clone(),
        description: data.description.clone(),
        kind: data.kind.clone(),
        run_id: data.run_id.clone(),
        created: format(event.created),
        configuration_id: data.configuration_id.clone(),
        object_id: data.object_id.clone(),
        object_name: data.object_name.clone(),
        object_type: data.object_type.clone(),
        context: data.context.clone(),
        params: data.params.clone(),
        results: data.results.clone(),
        performance: data.performance.clone(),
        token: data.token_id.map(|id| EventToken { id: id.to_string(), name: data.token_name.clone() }),
        id_branch: data.branch_id,
        uri: format!("{}/events/{}", core.storage_url(), event.id),
        attachments: Vec::new(),
    }
}

/// A storage job: asynchronous work on a table (create, import, export, key and column changes).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = StorageJob)]
pub struct JobView {
    pub id: i64,
    /// `waiting`, `processing`, `success` or `error`.
    pub status: &'static str,
    pub url: String,
    pub table_id: Option<String>,
    /// For example `tableImport`.
    pub operation_name: String,
    pub operation_params: Value,
    pub created_time: String,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub run_id: Option<String>,
    /// What the job made (for an export, the file's id).
    pub results: Value,
    pub creator_token: TokenRefView,
    pub metrics: Value,
    /// Only on a job that ended in `error`: `{ code, message, exceptionId }`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
}

/// A storage job.
pub fn job(core: &Core, job: &Job) -> JobView {
    JobView {
        id: job.id,
        status: job.status.as_str(),
        url: format!("{}/jobs/{}", core.storage_url(), job.id),
        table_id: job.table_id.clone(),
        operation_name: job.operation_name.clone(),
        operation_params: job.operation_params.clone(),
        created_time: format(job.created),
        start_time: opt_time(job.start),
        end_time: opt_time(job.end),
        run_id: job.run_id.clone(),
        results: job.results.clone(),
        creator_token: TokenRefView {
            id: job.creator_token_id.to_string(),
            description: job.creator_token_description.clone(),
        },
        metrics: job.metrics.clone(),
        error: (job.status == JobStatus::Error).then(|| job.error.clone().unwrap_or(Value::Null)),
    }
}

/// A project, as the Manage API shows it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Project)]
pub struct ProjectView {
    pub id: i64,
    pub name: String,
    pub created: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub region: String,
    pub default_backend: &'static str,
    pub file_storage_provider: &'static str,
    pub is_disabled: bool,
    /// The organization the project lives in.
    pub organization: OrganizationView,
}

/// A project, as the manage API shows it.
pub fn project(core: &Core, placed: &PlacedProject) -> ProjectView {
    let project = &placed.project;
    ProjectView {
        id: project.id,
        name: project.name.clone(),
        created: format(project.created),
        kind: "production",
        region: core.stack.name.clone(),
        default_backend: stowage_core::buckets::BACKEND,
        file_storage_provider: "azure",
        is_disabled: false,
        organization: organization(&placed.organization, None, None),
    }
}

/// A maintainer of organizations.
#[derive(Serialize, ToSchema)]
#[schema(as = Maintainer)]
pub struct MaintainerView {
    pub id: i64,
    pub name: String,
    pub created: String,
}

/// A maintainer.
pub fn maintainer(maintainer: &Maintainer) -> MaintainerView {
    MaintainerView { id: maintainer.id, name: maintainer.name.clone(), created: format(maintainer.created) }
}

/// A project as an organization's detail lists it.
#[derive(Serialize, ToSchema)]
pub struct ProjectRef {
    pub id: i64,
    pub name: String,
    pub created: String,
}

/// An organization; its detail adds `maintainer` and `projects`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Organization)]
pub struct OrganizationView {
    pub id: i64,
    pub name: String,
    pub created: String,
    pub allow_auto_join: bool,
    pub crm_id: String,
    pub activity_center_project_id: Option<i64>,
    pub mfa_required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maintainer: Option<MaintainerView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub projects: Option<Vec<ProjectRef>>,
}

/// An organization, with its maintainer and projects where given.
pub fn organization(
    organization: &Organization,
    maintainer: Option<&Maintainer>,
    projects: Option<&[Project]>,
) -> OrganizationView {
    OrganizationView {
        id: organization.id,
        name: organization.name.clone(),
        created: format(organization.created),
        allow_auto_join: organization.allow_auto_join,
        crm_id: organization.crm_id.clone(),
        activity_center_project_id: None,
        mfa_required: organization.mfa_required,
        maintainer: maintainer.map(self::maintainer),
        projects: projects.map(|projects| {
            projects.iter().map(|p| ProjectRef { id: p.id, name: p.name.clone(), created: format(p.created) }).collect()
        }),
    }
}

/// An organization's detail.
pub fn organization_detail(detail: &OrganizationDetail) -> OrganizationView {
    organization(&detail.organization, Some(&detail.maintainer), Some(&detail.projects))
}

/// A user as the Manage API lists them.
#[derive(Serialize, ToSchema)]
#[schema(as = User)]
pub struct UserView {
    pub id: i64,
    pub name: String,
    pub email: String,
}

/// A user.
pub fn user(user: &User) -> UserView {
    UserView { id: user.id, name: user.name.clone(), email: user.email.clone() }
}

/// A project member. A member just added carries their new master `token`, with its secret.
#[derive(Serialize, ToSchema)]
#[schema(as = ProjectMember)]
pub struct MemberView {
    pub id: i64,
    pub email: String,
    pub name: String,
    /// `admin`, `share`, `guest` or `readOnly`.
    pub role: &'static str,
    pub created: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<TokenShape>,
}

/// A project member.
pub fn member(member: &Member) -> MemberView {
    MemberView {
        id: member.user.id,
        email: member.user.email.clone(),
        name: member.user.name.clone(),
        role: member.role.as_str(),
        created: format(member.created),
        token: None,
    }
}

/// A table a trigger watches.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TriggerTable {
    pub table_id: String,
}

/// A trigger as Keboola shows it: `runWithTokenId` and `coolDownPeriodMinutes` are numbers, the
/// ids of the trigger and of its creator's token strings.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Trigger)]
pub struct TriggerView {
    pub id: String,
    pub run_with_token_id: i64,
    pub component: String,
    pub configuration_id: String,
    pub last_run: String,
    pub cool_down_period_minutes: i64,
    pub creator_token: TokenRefView,
    pub tables: Vec<TriggerTable>,
}

/// A trigger.
pub fn trigger(trigger: &TriggerRecord) -> TriggerView {
    TriggerView {
        id: trigger.id.to_string(),
        run_with_token_id: trigger.run_with_token_id,
        component: trigger.component_id.clone(),
        configuration_id: trigger.configuration_id.clone(),
        last_run: format(trigger.last_run),
        cool_down_period_minutes: trigger.cool_down_minutes,
        creator_token: TokenRefView::from(&trigger.creator),
        tables: trigger.tables.iter().map(|table| TriggerTable { table_id: table.table_id.clone() }).collect(),
    }
}

/// When a schedule runs.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleTiming {
    pub cron_tab: String,
    pub timezone: String,
    /// `enabled` or `disabled`.
    pub state: &'static str,
}

/// What a schedule runs.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleTarget {
    pub component_id: String,
    pub configuration_id: String,
    pub configuration_row_ids: Vec<String>,
    /// Always `run`.
    pub mode: &'static str,
}

/// A run a schedule started.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleExecution {
    pub job_id: String,
    pub execution_time: String,
}

/// A schedule in the shape of Keboola's Scheduler API, with when it runs next.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Schedule)]
pub struct ScheduleView {
    pub id: String,
    pub token_id: String,
    pub configuration_id: String,
    pub configuration_version_id: String,
    pub schedule: ScheduleTiming,
    pub target: ScheduleTarget,
    pub executions: Vec<ScheduleExecution>,
    pub next_run: Option<String>,
    pub creator_token: TokenRefView,
}

/// A schedule.
pub fn schedule(schedule: &ScheduleRecord) -> ScheduleView {
    let executions = match (schedule.last_job_id, schedule.last_run) {
        (Some(job), Some(at)) => vec![ScheduleExecution { job_id: job.to_string(), execution_time: format(at) }],
        _ => vec![],
    };
    ScheduleView {
        id: schedule.id.to_string(),
        token_id: schedule.run_with_token_id.to_string(),
        configuration_id: schedule.configuration_id.clone(),
        configuration_version_id: schedule.configuration_version.to_string(),
        schedule: ScheduleTiming {
            cron_tab: schedule.cron_tab.clone(),
            timezone: schedule.timezone.clone(),
            state: if schedule.enabled { "enabled" } else { "disabled" },
        },
        target: ScheduleTarget {
            component_id: schedule.target_component_id.clone(),
            configuration_id: schedule.target_configuration_id.clone(),
            configuration_row_ids: schedule.target_row_ids.clone(),
            mode: "run",
        },
        executions,
        next_run: (schedule.enabled && schedule.next_run < i64::MAX).then(|| format(schedule.next_run)),
        creator_token: TokenRefView::from(&schedule.creator),
    }
}
