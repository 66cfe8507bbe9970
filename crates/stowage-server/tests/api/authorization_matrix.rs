//! Every route × every token kind, allowed or denied. Fails when a route of the router has no
//! case here, so a new route cannot ship without its authorization rule.
//!
//! "Allowed" means the request passed authentication and authorization: any status but 401, 403
//! and 5xx (a 404 for an object the token may not see, or a 400 for a master token that cannot be
//! deleted, are allowed answers). "Denied" means exactly 401 for missing or dead credentials and
//! 403 for a valid token without the permission.

use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::Method;
use serde_json::{json, Value};

use crate::console::Browser;
use crate::helpers::{blob_path, spawn_app, Payload, TestApp};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Admin,
    Share,
    Guest,
    ReadOnly,
    LimitedRead,
    LimitedWrite,
    NoPermission,
    ManageBuckets,
    ComponentAccess,
    Expired,
    RefreshedAway,
    Deleted,
    NoToken,
    Invalid,
    Manage,
}

use Kind::*;

const ALL_KINDS: &[Kind] = &[
    Admin,
    Share,
    Guest,
    ReadOnly,
    LimitedRead,
    LimitedWrite,
    NoPermission,
    ManageBuckets,
    ComponentAccess,
    Expired,
    RefreshedAway,
    Deleted,
    NoToken,
    Invalid,
    Manage,
];
const VALID: &[Kind] =
    &[Admin, Share, Guest, ReadOnly, LimitedRead, LimitedWrite, NoPermission, ManageBuckets, ComponentAccess];
const BUCKET_READERS: &[Kind] = &[Admin, Share, Guest, ReadOnly, LimitedRead, LimitedWrite, ManageBuckets];
const BUCKET_MANAGERS: &[Kind] = &[Admin, Share, Guest, ManageBuckets];
const BUCKET_WRITERS: &[Kind] = &[Admin, Share, Guest, LimitedWrite, ManageBuckets];
const TOKEN_CREATORS: &[Kind] = &[Admin, Share, Guest];
const TOKEN_MANAGERS: &[Kind] = &[Admin, Share];
const PROJECT_WRITERS: &[Kind] = &[Admin, Share, Guest];
const MASTERS: &[Kind] = &[Admin, Share, Guest, ReadOnly];
const FILE_CHANGERS: &[Kind] = &[Admin, Share, Guest];
const COMPONENT_READERS: &[Kind] = &[Admin, Share, Guest, ReadOnly, ManageBuckets, ComponentAccess];
const COMPONENT_WRITERS: &[Kind] = &[Admin, Share, Guest, ManageBuckets, ComponentAccess];
/// Creating a trigger takes changing its component's configurations and reading its tables.
const TRIGGER_CREATORS: &[Kind] = &[Admin, Share, Guest, ManageBuckets];
/// Activating or deleting a schedule takes changing the scheduler's and the target's configurations.
const SCHEDULERS: &[Kind] = &[Admin, Share, Guest, ManageBuckets];
/// Read-only members see the job but may not stop it; tokens that cannot read it get a 404.
const JOB_KILLERS: &[Kind] =
    &[Admin, Share, Guest, LimitedRead, LimitedWrite, NoPermission, ManageBuckets, ComponentAccess];
const PUBLIC: &[Kind] = ALL_KINDS;
/// Console routes called by a page's script: without a console session they answer 401 (JSON),
/// whatever API token is sent, because API tokens open nothing on the console.
const CONSOLE_SESSION_ONLY: &[Kind] = &[];
const MANAGE: &[Kind] = &[Manage];
/// The organization's members (the stack's first admin is one) and the `share` role.
const SHARERS: &[Kind] = &[Admin, Share];

const CONFIG: &str = "/v2/storage/components/{component}/configs/{config}";
const ROWS: &str = "/v2/storage/components/{component}/configs/{config}/rows";
const ROW: &str = "/v2/storage/components/{component}/configs/{config}/rows/{row}";
const CONFIG_METADATA: &str = "/v2/storage/components/{component}/configs/{config}/metadata";

/// One request: route as registered, concrete path template, body, and who may call it.
struct Case {
    method: Method,
    route: &'static str,
    path: &'static str,
    body: Option<Value>,
    allowed: &'static [Kind],
}

fn case(method: Method, route: &'static str, path: &'static str, allowed: &'static [Kind]) -> Case {
    Case { method, route, path, body: None, allowed }
}

fn with_body(mut c: Case, body: Value) -> Case {
    c.body = Some(body);
    c
}

fn cases() -> Vec<Case> {
    use Method as M;
    vec![
        case(M::GET, "/", "/", PUBLIC),
        case(M::GET, "/console/static/console.js", "/console/static/console.js", PUBLIC),
        case(M::GET, "/console/static/console.css", "/console/static/console.css", PUBLIC),
        case(M::GET, "/v2/storage", "/v2/storage", PUBLIC),
        case(M::GET, "/openapi.json", "/openapi.json", PUBLIC),
        case(M::GET, "/api-reference", "/api-reference", PUBLIC),
        case(M::GET, "/health/live", "/health/live", PUBLIC),
        case(M::GET, "/health/ready", "/health/ready", PUBLIC),
        case(M::GET, "/v2/storage/tokens/verify", "/v2/storage/tokens/verify", VALID),
        case(M::GET, "/v2/storage/tokens", "/v2/storage/tokens", VALID),
        with_body(
            case(M::POST, "/v2/storage/tokens", "/v2/storage/tokens", TOKEN_CREATORS),
            json!({"description": "new"}),
        ),
        case(M::GET, "/v2/storage/tokens/{id}", "/v2/storage/tokens/{self}", VALID),
        case(M::GET, "/v2/storage/tokens/{id}", "/v2/storage/tokens/{admin}", TOKEN_MANAGERS),
        with_body(
            case(M::PUT, "/v2/storage/tokens/{id}", "/v2/storage/tokens/{victim}", TOKEN_MANAGERS),
            json!({"description": "changed"}),
        ),
        case(M::DELETE, "/v2/storage/tokens/{id}", "/v2/storage/tokens/{victim}", TOKEN_MANAGERS),
        case(M::DELETE, "/v2/storage/tokens/{id}", "/v2/storage/tokens/{self}", VALID),
        case(M::POST, "/v2/storage/tokens/{id}/refresh", "/v2/storage/tokens/{victim}/refresh", TOKEN_MANAGERS),
        case(M::POST, "/v2/storage/tokens/{id}/refresh", "/v2/storage/tokens/{self}/refresh", VALID),
        with_body(
            case(M::POST, "/v2/storage/tokens/{id}/share", "/v2/storage/tokens/{victim}/share", TOKEN_MANAGERS),
            json!({"recipientEmail": "someone@example.com", "message": "for you"}),
        ),
        case(M::GET, "/v2/storage/tokens/{id}/events", "/v2/storage/tokens/{self}/events", VALID),
        case(M::GET, "/v2/storage/tokens/{id}/events", "/v2/storage/tokens/{admin}/events", TOKEN_MANAGERS),
        case(M::GET, "/v2/storage/buckets", "/v2/storage/buckets", VALID),
        with_body(
            case(M::POST, "/v2/storage/buckets", "/v2/storage/buckets", BUCKET_MANAGERS),
            json!({"name": "{unique}"}),
        ),
        case(M::GET, "/v2/storage/buckets/{id}", "/v2/storage/buckets/{bucket}", BUCKET_READERS),
        with_body(
            case(M::PUT, "/v2/storage/buckets/{id}", "/v2/storage/buckets/{bucket}", BUCKET_MANAGERS),
            json!({"description": "changed"}),
        ),
        case(M::DELETE, "/v2/storage/buckets/{id}", "/v2/storage/buckets/{bucket}", BUCKET_MANAGERS),
        case(M::DELETE, "/v2/storage/buckets/{id}", "/v2/storage/buckets/{bucket}?async=1", BUCKET_MANAGERS),
        case(M::GET, "/v2/storage/buckets/{id}/events", "/v2/storage/buckets/{bucket}/events", BUCKET_READERS),
        case(M::GET, "/v2/storage/events", "/v2/storage/events", VALID),
        with_body(
            case(M::POST, "/v2/storage/events", "/v2/storage/events", VALID),
            json!({"component": "c", "message": "m"}),
        ),
        case(M::GET, "/v2/storage/events/{id}", "/v2/storage/events/{event}", VALID),
        case(M::GET, "/v2/storage/dev-branches", "/v2/storage/dev-branches", VALID),
        case(M::GET, "/v2/storage/dev-branches/{id}", "/v2/storage/dev-branches/default", VALID),
        case(M::GET, "/v2/storage/metadata", "/v2/storage/branch/default/metadata", VALID),
        with_body(
            case(M::POST, "/v2/storage/metadata", "/v2/storage/branch/default/metadata", PROJECT_WRITERS),
            json!({"metadata": [{"key": "k", "value": "v"}]}),
        ),
        case(M::DELETE, "/v2/storage/metadata/{id}", "/v2/storage/branch/default/metadata/{metadata}", PROJECT_WRITERS),
        case(M::GET, "/v2/storage/jobs", "/v2/storage/jobs", VALID),
        case(M::GET, "/v2/storage/jobs/{id}", "/v2/storage/jobs/{job}", VALID),
        with_body(
            case(M::POST, "/v2/storage/files/prepare", "/v2/storage/files/prepare", VALID),
            json!({"name": "f.csv"}),
        ),
        case(M::GET, "/v2/storage/files", "/v2/storage/files", VALID),
        case(M::GET, "/v2/storage/files/{id}", "/v2/storage/files/{file}", MASTERS),
        case(M::GET, "/v2/storage/files/{id}", "/v2/storage/files/{file}?federationToken=1", MASTERS),
        case(M::DELETE, "/v2/storage/files/{id}", "/v2/storage/files/{file}", FILE_CHANGERS),
        with_body(
            case(M::POST, "/v2/storage/files/{id}/tags", "/v2/storage/files/{file}/tags", FILE_CHANGERS),
            json!({"tag": "t"}),
        ),
        case(M::DELETE, "/v2/storage/files/{id}/tags/{tag}", "/v2/storage/files/{file}/tags/setup-tag", FILE_CHANGERS),
        case(M::GET, "/v2/storage/files/{id}/download", "/v2/storage/files/{file}/download", MASTERS),
        case(M::PUT, "/abs/{container}/{*blob}", "{blob_write}", PUBLIC),
        case(M::GET, "/abs/{container}/{*blob}", "{blob_read}", PUBLIC),
        with_body(
            case(
                M::POST,
                "/v2/storage/buckets/{id}/tables-async",
                "/v2/storage/buckets/{bucket}/tables-async",
                BUCKET_WRITERS,
            ),
            json!({"name": "new", "dataFileId": "{own_file}"}),
        ),
        case(M::GET, "/v2/storage/buckets/{id}/tables", "/v2/storage/buckets/{bucket}/tables", BUCKET_READERS),
        case(M::GET, "/v2/storage/tables", "/v2/storage/tables?include=columns", VALID),
        case(M::GET, "/v2/storage/tables/{id}", "/v2/storage/tables/{table}", BUCKET_READERS),
        case(M::DELETE, "/v2/storage/tables/{id}", "/v2/storage/tables/{table}", BUCKET_WRITERS),
        with_body(
            case(
                M::POST,
                "/v2/storage/tables/{id}/import-async",
                "/v2/storage/tables/{table}/import-async",
                BUCKET_WRITERS,
            ),
            json!({"dataFileId": "{own_file}", "incremental": 1}),
        ),
        case(
            M::POST,
            "/v2/storage/tables/{id}/export-async",
            "/v2/storage/tables/{table}/export-async",
            BUCKET_READERS,
        ),
        case(M::GET, "/v2/storage/tables/{id}/data-preview", "/v2/storage/tables/{table}/data-preview", BUCKET_READERS),
        with_body(
            case(
                M::POST,
                "/v2/storage/tables/{id}/primary-key",
                "/v2/storage/tables/{table}/primary-key",
                BUCKET_WRITERS,
            ),
            json!({"columns": ["a"]}),
        ),
        case(
            M::DELETE,
            "/v2/storage/tables/{id}/primary-key",
            "/v2/storage/tables/{table}/primary-key",
            BUCKET_WRITERS,
        ),
        case(M::GET, "/v2/storage/tables/{id}/events", "/v2/storage/tables/{table}/events", BUCKET_READERS),
        case(M::GET, "/v2/storage/buckets/{id}/metadata", "/v2/storage/buckets/{bucket}/metadata", BUCKET_READERS),
        with_body(
            case(M::POST, "/v2/storage/buckets/{id}/metadata", "/v2/storage/buckets/{bucket}/metadata", BUCKET_WRITERS),
            json!({"provider": "p", "metadata": [{"key": "k", "value": "v"}]}),
        ),
        case(
            M::DELETE,
            "/v2/storage/buckets/{id}/metadata/{entry}",
            "/v2/storage/buckets/{bucket}/metadata/{bucket_metadata}",
            BUCKET_WRITERS,
        ),
        case(M::GET, "/v2/storage/tables/{id}/metadata", "/v2/storage/tables/{table}/metadata", BUCKET_READERS),
        with_body(
            case(M::POST, "/v2/storage/tables/{id}/metadata", "/v2/storage/tables/{table}/metadata", BUCKET_WRITERS),
            json!({"provider": "p", "metadata": [{"key": "k", "value": "v"}]}),
        ),
        case(
            M::DELETE,
            "/v2/storage/tables/{id}/metadata/{entry}",
            "/v2/storage/tables/{table}/metadata/{table_metadata}",
            BUCKET_WRITERS,
        ),
        case(M::GET, "/v2/storage/columns/{id}/metadata", "/v2/storage/columns/{table}.a/metadata", BUCKET_READERS),
        with_body(
            case(
                M::POST,
                "/v2/storage/columns/{id}/metadata",
                "/v2/storage/columns/{table}.a/metadata",
                BUCKET_WRITERS,
            ),
            json!({"provider": "p", "metadata": [{"key": "k", "value": "v"}]}),
        ),
        case(
            M::DELETE,
            "/v2/storage/columns/{id}/metadata/{entry}",
            "/v2/storage/columns/{table}.a/metadata/{column_metadata}",
            BUCKET_WRITERS,
        ),
        case(
            M::GET,
            "/v2/storage/components",
            "/v2/storage/components?include=configuration,rows,state",
            COMPONENT_READERS,
        ),
        case(
            M::GET,
            "/v2/storage/components/{component}",
            "/v2/storage/components/keboola.wr-storage",
            COMPONENT_READERS,
        ),
        case(
            M::GET,
            "/v2/storage/components/{component}/configs",
            "/v2/storage/components/keboola.wr-storage/configs",
            COMPONENT_READERS,
        ),
        with_body(
            case(
                M::POST,
                "/v2/storage/components/{component}/configs",
                "/v2/storage/components/keboola.wr-storage/configs",
                COMPONENT_WRITERS,
            ),
            json!({"name": "new", "configuration": {"parameters": {"#token": "secret"}}}),
        ),
        case(M::GET, CONFIG, "/v2/storage/components/keboola.wr-storage/configs/{config}", COMPONENT_READERS),
        with_body(
            case(M::PUT, CONFIG, "/v2/storage/components/keboola.wr-storage/configs/{config}", COMPONENT_WRITERS),
            json!({"name": "renamed"}),
        ),
        case(M::DELETE, CONFIG, "/v2/storage/components/keboola.wr-storage/configs/{config}", COMPONENT_WRITERS),
        case(
            M::POST,
            "/v2/storage/components/{component}/configs/{config}/restore",
            "/v2/storage/components/keboola.wr-storage/configs/{trashed}/restore",
            COMPONENT_WRITERS,
        ),
        with_body(
            case(
                M::PUT,
                "/v2/storage/components/{component}/configs/{config}/state",
                "/v2/storage/components/keboola.wr-storage/configs/{config}/state",
                COMPONENT_WRITERS,
            ),
            json!({"state": {"k": "v"}}),
        ),
        case(
            M::GET,
            "/v2/storage/components/{component}/configs/{config}/versions",
            "/v2/storage/components/keboola.wr-storage/configs/{config}/versions",
            COMPONENT_READERS,
        ),
        case(
            M::GET,
            "/v2/storage/components/{component}/configs/{config}/versions/{version}",
            "/v2/storage/components/keboola.wr-storage/configs/{config}/versions/1",
            COMPONENT_READERS,
        ),
        case(
            M::POST,
            "/v2/storage/components/{component}/configs/{config}/versions/{version}/rollback",
            "/v2/storage/components/keboola.wr-storage/configs/{config}/versions/1/rollback",
            COMPONENT_WRITERS,
        ),
        with_body(
            case(
                M::POST,
                "/v2/storage/components/{component}/configs/{config}/versions/{version}/create",
                "/v2/storage/components/keboola.wr-storage/configs/{config}/versions/1/create",
                COMPONENT_WRITERS,
            ),
            json!({"name": "copy"}),
        ),
        case(
            M::GET,
            "/v2/storage/components/{component}/configs/{config}/rows/{row}/versions",
            "/v2/storage/components/keboola.wr-storage/configs/{config}/rows/{row}/versions",
            COMPONENT_READERS,
        ),
        case(
            M::GET,
            "/v2/storage/components/{component}/configs/{config}/rows/{row}/versions/{version}",
            "/v2/storage/components/keboola.wr-storage/configs/{config}/rows/{row}/versions/1",
            COMPONENT_READERS,
        ),
        case(
            M::POST,
            "/v2/storage/components/{component}/configs/{config}/rows/{row}/versions/{version}/rollback",
            "/v2/storage/components/keboola.wr-storage/configs/{config}/rows/{row}/versions/1/rollback",
            COMPONENT_WRITERS,
        ),
        case(
            M::POST,
            "/v2/storage/components/{component}/configs/{config}/rows/{row}/versions/{version}/create",
            "/v2/storage/components/keboola.wr-storage/configs/{config}/rows/{row}/versions/1/create",
            COMPONENT_WRITERS,
        ),
        case(M::GET, ROWS, "/v2/storage/components/keboola.wr-storage/configs/{config}/rows", COMPONENT_READERS),
        with_body(
            case(M::POST, ROWS, "/v2/storage/components/keboola.wr-storage/configs/{config}/rows", COMPONENT_WRITERS),
            json!({"name": "r"}),
        ),
        case(M::GET, ROW, "/v2/storage/components/keboola.wr-storage/configs/{config}/rows/{row}", COMPONENT_READERS),
        with_body(
            case(
                M::PUT,
                ROW,
                "/v2/storage/components/keboola.wr-storage/configs/{config}/rows/{row}",
                COMPONENT_WRITERS,
            ),
            json!({"name": "r2"}),
        ),
        case(
            M::DELETE,
            ROW,
            "/v2/storage/components/keboola.wr-storage/configs/{config}/rows/{row}",
            COMPONENT_WRITERS,
        ),
        with_body(
            case(
                M::PUT,
                "/v2/storage/components/{component}/configs/{config}/rows/{row}/state",
                "/v2/storage/components/keboola.wr-storage/configs/{config}/rows/{row}/state",
                COMPONENT_WRITERS,
            ),
            json!({"state": {}}),
        ),
        case(
            M::GET,
            CONFIG_METADATA,
            "/v2/storage/components/keboola.wr-storage/configs/{config}/metadata",
            COMPONENT_READERS,
        ),
        with_body(
            case(
                M::POST,
                CONFIG_METADATA,
                "/v2/storage/components/keboola.wr-storage/configs/{config}/metadata",
                COMPONENT_WRITERS,
            ),
            json!({"metadata": [{"key": "k", "value": "v"}]}),
        ),
        case(
            M::DELETE,
            "/v2/storage/components/{component}/configs/{config}/metadata/{entry}",
            "/v2/storage/components/keboola.wr-storage/configs/{config}/metadata/{config_metadata}",
            COMPONENT_WRITERS,
        ),
        with_body(
            case(M::POST, "/queue/jobs", "/queue/jobs", COMPONENT_WRITERS),
            json!({"component": "keboola.wr-storage", "config": "{config}"}),
        ),
        case(M::GET, "/queue/jobs", "/queue/jobs?component=keboola.wr-storage", VALID),
        // Jobs of components a token cannot read are answered 404, as if they did not exist.
        case(M::GET, "/queue/jobs/{id}", "/queue/jobs/{queue_job}", VALID),
        case(M::POST, "/queue/jobs/{id}/kill", "/queue/jobs/{queue_job}/kill", JOB_KILLERS),
        with_body(
            case(M::POST, "/sync-actions/actions", "/sync-actions/actions", COMPONENT_WRITERS),
            json!({"componentId": "keboola.wr-storage", "action": "info", "configData": {"parameters": {}}}),
        ),
        with_body(
            case(
                M::POST,
                "/v2/storage/buckets/{id}/tables-definition",
                "/v2/storage/buckets/{bucket}/tables-definition",
                BUCKET_WRITERS,
            ),
            json!({"name": "typed{unique}", "columns": [{"name": "id", "basetype": "INTEGER"}]}),
        ),
        with_body(
            case(M::POST, "/v2/storage/tables/{id}/columns", "/v2/storage/tables/{table}/columns", BUCKET_WRITERS),
            json!({"name": "added{unique}"}),
        ),
        case(M::GET, "/v2/storage/triggers", "/v2/storage/triggers", VALID),
        with_body(
            case(M::POST, "/v2/storage/triggers", "/v2/storage/triggers", TRIGGER_CREATORS),
            json!({"component": "keboola.wr-storage", "configurationId": "1", "coolDownPeriodMinutes": 5,
                "runWithTokenId": "{victim}", "tableIds": ["{table}"]}),
        ),
        case(M::GET, "/v2/storage/triggers/{id}", "/v2/storage/triggers/{trigger}", VALID),
        with_body(
            case(M::PUT, "/v2/storage/triggers/{id}", "/v2/storage/triggers/{trigger}", COMPONENT_WRITERS),
            json!({"coolDownPeriodMinutes": "7"}),
        ),
        case(M::DELETE, "/v2/storage/triggers/{id}", "/v2/storage/triggers/{trigger}", COMPONENT_WRITERS),
        case(M::GET, "/scheduler/schedules", "/scheduler/schedules", VALID),
        with_body(
            case(M::POST, "/scheduler/schedules", "/scheduler/schedules", SCHEDULERS),
            json!({"configurationId": "{scheduler_config}"}),
        ),
        case(M::GET, "/scheduler/schedules/{id}", "/scheduler/schedules/{schedule}", VALID),
        case(M::DELETE, "/scheduler/schedules/{id}", "/scheduler/schedules/{schedule}", SCHEDULERS),
        // The console's credential is its session cookie; API tokens open nothing there.
        case(M::GET, "/console", "/console", PUBLIC),
        case(M::POST, "/console/sign-in", "/console/sign-in", PUBLIC),
        case(M::POST, "/console/sign-in-token", "/console/sign-in-token", PUBLIC),
        case(M::POST, "/console/sign-out", "/console/sign-out", PUBLIC),
        case(M::GET, "/console/projects", "/console/projects", PUBLIC),
        case(M::GET, "/console/projects/{id}", "/console/projects/1", PUBLIC),
        case(M::POST, "/console/projects/{id}/buckets", "/console/projects/1/buckets", PUBLIC),
        case(M::GET, "/console/projects/{id}/buckets/{bucket}", "/console/projects/1/buckets/in.c-x", PUBLIC),
        case(M::GET, "/console/projects/{id}/tables/{table}", "/console/projects/1/tables/in.c-x.t", PUBLIC),
        case(
            M::GET,
            "/console/projects/{id}/buckets/{bucket}/delete",
            "/console/projects/1/buckets/in.c-x/delete",
            PUBLIC,
        ),
        case(
            M::POST,
            "/console/projects/{id}/buckets/{bucket}/delete",
            "/console/projects/1/buckets/in.c-x/delete",
            PUBLIC,
        ),
        case(
            M::POST,
            "/console/projects/{id}/tables/{table}/primary-key",
            "/console/projects/1/tables/in.c-x.t/primary-key",
            PUBLIC,
        ),
        case(
            M::GET,
            "/console/projects/{id}/tables/{table}/delete",
            "/console/projects/1/tables/in.c-x.t/delete",
            PUBLIC,
        ),
        case(
            M::POST,
            "/console/projects/{id}/tables/{table}/delete",
            "/console/projects/1/tables/in.c-x.t/delete",
            PUBLIC,
        ),
        case(
            M::POST,
            "/console/projects/{id}/buckets/{bucket}/upload",
            "/console/projects/1/buckets/in.c-x/upload",
            CONSOLE_SESSION_ONLY,
        ),
        case(
            M::GET,
            "/console/projects/{id}/tables/{table}/download",
            "/console/projects/1/tables/in.c-x.t/download",
            PUBLIC,
        ),
        case(M::GET, "/console/projects/{id}/tokens", "/console/projects/1/tokens", PUBLIC),
        case(M::POST, "/console/projects/{id}/tokens", "/console/projects/1/tokens", PUBLIC),
        case(M::GET, "/console/projects/{id}/tokens/{token}", "/console/projects/1/tokens/1", PUBLIC),
        case(M::GET, "/console/projects/{id}/tokens/{token}/refresh", "/console/projects/1/tokens/1/refresh", PUBLIC),
        case(M::POST, "/console/projects/{id}/tokens/{token}/refresh", "/console/projects/1/tokens/1/refresh", PUBLIC),
        case(M::POST, "/console/projects/{id}/tokens/{token}/edit", "/console/projects/1/tokens/1/edit", PUBLIC),
        case(M::POST, "/console/projects/{id}/tokens/{token}/delete", "/console/projects/1/tokens/1/delete", PUBLIC),
        case(M::POST, "/console/projects/{id}/tokens/{token}/share", "/console/projects/1/tokens/1/share", PUBLIC),
        case(
            M::GET,
            "/console/projects/{id}/components/{component}",
            "/console/projects/1/components/keboola.wr-storage",
            PUBLIC,
        ),
        case(
            M::POST,
            "/console/projects/{id}/components/{component}",
            "/console/projects/1/components/keboola.wr-storage",
            PUBLIC,
        ),
        case(
            M::GET,
            "/console/projects/{id}/components/{component}/{config}",
            "/console/projects/1/components/keboola.wr-storage/1",
            PUBLIC,
        ),
        case(
            M::POST,
            "/console/projects/{id}/components/{component}/{config}/target",
            "/console/projects/1/components/keboola.wr-storage/1/target",
            PUBLIC,
        ),
        case(
            M::POST,
            "/console/projects/{id}/components/{component}/{config}/rows",
            "/console/projects/1/components/keboola.wr-storage/1/rows",
            PUBLIC,
        ),
        case(
            M::POST,
            "/console/projects/{id}/components/{component}/{config}/triggers",
            "/console/projects/1/components/keboola.wr-storage/1/triggers",
            PUBLIC,
        ),
        case(
            M::POST,
            "/console/projects/{id}/components/{component}/{config}/triggers/{trigger}/delete",
            "/console/projects/1/components/keboola.wr-storage/1/triggers/1/delete",
            PUBLIC,
        ),
        case(
            M::POST,
            "/console/projects/{id}/components/{component}/{config}/schedules",
            "/console/projects/1/components/keboola.wr-storage/1/schedules",
            PUBLIC,
        ),
        case(
            M::POST,
            "/console/projects/{id}/components/{component}/{config}/schedules/{schedule}/delete",
            "/console/projects/1/components/keboola.wr-storage/1/schedules/1/delete",
            PUBLIC,
        ),
        case(
            M::GET,
            "/console/projects/{id}/components/{component}/{config}/rows/{row}",
            "/console/projects/1/components/keboola.wr-storage/1/rows/2",
            PUBLIC,
        ),
        case(
            M::POST,
            "/console/projects/{id}/components/{component}/{config}/rows/{row}",
            "/console/projects/1/components/keboola.wr-storage/1/rows/2",
            PUBLIC,
        ),
        case(
            M::POST,
            "/console/projects/{id}/components/{component}/{config}/rows/{row}/enabled",
            "/console/projects/1/components/keboola.wr-storage/1/rows/2/enabled",
            PUBLIC,
        ),
        case(
            M::POST,
            "/console/projects/{id}/components/{component}/{config}/rows/{row}/move",
            "/console/projects/1/components/keboola.wr-storage/1/rows/2/move",
            PUBLIC,
        ),
        case(
            M::POST,
            "/console/projects/{id}/components/{component}/{config}/rows/{row}/delete",
            "/console/projects/1/components/keboola.wr-storage/1/rows/2/delete",
            PUBLIC,
        ),
        case(
            M::POST,
            "/console/projects/{id}/components/{component}/{config}/rows/{row}/run",
            "/console/projects/1/components/keboola.wr-storage/1/rows/2/run",
            PUBLIC,
        ),
        case(
            M::POST,
            "/console/projects/{id}/components/{component}/{config}/run",
            "/console/projects/1/components/keboola.wr-storage/1/run",
            PUBLIC,
        ),
        case(
            M::POST,
            "/console/projects/{id}/components/{component}/{config}/delete",
            "/console/projects/1/components/keboola.wr-storage/1/delete",
            PUBLIC,
        ),
        case(M::GET, "/console/projects/{id}/jobs/{job}", "/console/projects/1/jobs/1", PUBLIC),
        case(M::GET, "/console/projects/{id}/jobs", "/console/projects/1/jobs", PUBLIC),
        case(M::GET, "/console/projects/{id}/storage-jobs/{job}", "/console/projects/1/storage-jobs/1", PUBLIC),
        case(M::GET, "/console/projects/{id}/events", "/console/projects/1/events", PUBLIC),
        case(M::GET, "/console/projects/{id}/users", "/console/projects/1/users", PUBLIC),
        case(M::POST, "/console/projects/{id}/users", "/console/projects/1/users", PUBLIC),
        case(M::POST, "/console/projects/{id}/users/remove", "/console/projects/1/users/remove", PUBLIC),
        case(M::POST, "/console/projects/{id}/users/link", "/console/projects/1/users/link", PUBLIC),
        case(M::POST, "/console/projects/{id}/users/password", "/console/projects/1/users/password", PUBLIC),
        case(M::GET, "/console/password/{link}", "/console/password/no-such-link", PUBLIC),
        case(M::POST, "/console/password/{link}", "/console/password/no-such-link", PUBLIC),
        case(M::POST, "/console/projects/{id}/jobs/{job}/terminate", "/console/projects/1/jobs/1/terminate", PUBLIC),
        with_body(
            case(M::PUT, "/manage/users/{email}/password", "/manage/users/setup@example.com/password", MANAGE),
            json!({"password": "a-long-enough-password"}),
        ),
        case(M::GET, "/tokens/shared/{link}", "/tokens/shared/not-a-link", PUBLIC),
        case(M::POST, "/tokens/shared/{link}", "/tokens/shared/not-a-link", PUBLIC),
        case(M::GET, "/manage/projects", "/manage/projects", MANAGE),
        with_body(
            case(M::POST, "/manage/projects", "/manage/projects", MANAGE),
            json!({"name": "p", "organizationId": "{first_organization}"}),
        ),
        case(M::GET, "/manage/projects/{id}", "/manage/projects/{project}", MANAGE),
        case(M::DELETE, "/manage/projects/{id}", "/manage/projects/{project}", MANAGE),
        case(M::GET, "/manage/projects/{id}/users", "/manage/projects/{project}/users", MANAGE),
        with_body(
            case(M::POST, "/manage/projects/{id}/users", "/manage/projects/{project}/users", MANAGE),
            json!({"email": "{unique}@example.com", "role": "guest"}),
        ),
        case(M::DELETE, "/manage/projects/{id}/users/{email}", "/manage/projects/{project}/users/{member}", MANAGE),
        with_body(
            case(M::POST, "/manage/projects/{id}/organizations", "/manage/projects/{project}/organizations", MANAGE),
            json!({"organizationId": "{first_organization}"}),
        ),
        with_body(
            case(M::POST, "/manage/projects/{id}/tokens", "/manage/projects/{project}/tokens", MANAGE),
            json!({"description": "made with the manage token"}),
        ),
        case(
            M::POST,
            "/v2/storage/buckets/{id}/share-organization",
            "/v2/storage/buckets/{bucket}/share-organization",
            SHARERS,
        ),
        case(
            M::POST,
            "/v2/storage/buckets/{id}/share-organization-project",
            "/v2/storage/buckets/{bucket}/share-organization-project",
            SHARERS,
        ),
        with_body(
            case(
                M::POST,
                "/v2/storage/buckets/{id}/share-to-projects",
                "/v2/storage/buckets/{bucket}/share-to-projects",
                SHARERS,
            ),
            json!({"targetProjectIds": ["{first_project}"]}),
        ),
        with_body(
            case(
                M::POST,
                "/v2/storage/buckets/{id}/share-to-users",
                "/v2/storage/buckets/{bucket}/share-to-users",
                SHARERS,
            ),
            json!({"targetUsers": ["setup@example.com"]}),
        ),
        with_body(
            case(M::PUT, "/v2/storage/buckets/{id}/share", "/v2/storage/buckets/{bucket}/share", SHARERS),
            json!({"sharing": "organization"}),
        ),
        case(M::DELETE, "/v2/storage/buckets/{id}/share", "/v2/storage/buckets/{bucket}/share", SHARERS),
        case(M::GET, "/v2/storage/shared-buckets", "/v2/storage/shared-buckets", BUCKET_MANAGERS),
        case(M::GET, "/manage/maintainers", "/manage/maintainers", MANAGE),
        with_body(case(M::POST, "/manage/maintainers", "/manage/maintainers", MANAGE), json!({"name": "m"})),
        case(M::GET, "/manage/maintainers/{id}", "/manage/maintainers/{maintainer}", MANAGE),
        with_body(
            case(M::PATCH, "/manage/maintainers/{id}", "/manage/maintainers/{maintainer}", MANAGE),
            json!({"name": "renamed"}),
        ),
        case(M::DELETE, "/manage/maintainers/{id}", "/manage/maintainers/{maintainer}", MANAGE),
        case(
            M::GET,
            "/manage/maintainers/{id}/organizations",
            "/manage/maintainers/{maintainer}/organizations",
            MANAGE,
        ),
        with_body(
            case(
                M::POST,
                "/manage/maintainers/{id}/organizations",
                "/manage/maintainers/{maintainer}/organizations",
                MANAGE,
            ),
            json!({"name": "o"}),
        ),
        case(M::GET, "/manage/organizations", "/manage/organizations", MANAGE),
        case(M::GET, "/manage/organizations/{id}", "/manage/organizations/{organization}", MANAGE),
        with_body(
            case(M::PATCH, "/manage/organizations/{id}", "/manage/organizations/{organization}", MANAGE),
            json!({"name": "renamed"}),
        ),
        case(M::DELETE, "/manage/organizations/{id}", "/manage/organizations/{organization}", MANAGE),
        case(M::GET, "/manage/organizations/{id}/users", "/manage/organizations/{organization}/users", MANAGE),
        with_body(
            case(M::POST, "/manage/organizations/{id}/users", "/manage/organizations/{organization}/users", MANAGE),
            json!({"email": "{unique}@example.com"}),
        ),
        case(
            M::DELETE,
            "/manage/organizations/{id}/users/{userId}",
            "/manage/organizations/{organization}/users/{organization_member}",
            MANAGE,
        ),
        case(M::GET, "/manage/organizations/{id}/projects", "/manage/organizations/{organization}/projects", MANAGE),
        with_body(
            case(
                M::POST,
                "/manage/organizations/{id}/projects",
                "/manage/organizations/{organization}/projects",
                MANAGE,
            ),
            json!({"name": "p"}),
        ),
    ]
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn unique() -> String {
    format!("m{}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// The stack plus a setup admin that no case refreshes or deletes.
struct Matrix {
    app: TestApp,
    setup: String,
    masters: Vec<(Kind, String)>,
    dead: Vec<(Kind, String)>,
}

impl Matrix {
    async fn new() -> Self {
        let app = spawn_app().await;
        let setup = app.member_token("setup@example.com", "admin").await;
        let masters = vec![
            (Admin, app.admin.clone()),
            (Share, app.member_token("share@example.com", "share").await),
            (Guest, app.member_token("guest@example.com", "guest").await),
            (ReadOnly, app.member_token("readonly@example.com", "readOnly").await),
        ];
        let mut matrix = Matrix { app, setup, masters, dead: vec![] };
        let expired = matrix.limited(json!({"expiresIn": 1})).await;
        let refreshed = matrix.limited(json!({})).await;
        let path = format!("/v2/storage/tokens/{}/refresh", TestApp::token_id(&refreshed));
        matrix.app.post(&path, &matrix.setup, json!({})).await.expect(200);
        let deleted = matrix.limited(json!({})).await;
        matrix
            .app
            .delete(&format!("/v2/storage/tokens/{}", TestApp::token_id(&deleted)), &matrix.setup)
            .await
            .expect(204);
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        matrix.dead = vec![(Expired, expired), (RefreshedAway, refreshed), (Deleted, deleted)];
        matrix
    }

    /// A master that refreshed itself keeps working with its new secret.
    fn keep_refreshed(&mut self, kind: Kind, c: &Case, path: &str, reply: &crate::helpers::Reply) {
        if !(path.contains("/refresh") && reply.status == 200 && c.path.contains("{self}")) {
            return;
        }
        let secret = reply.body["token"].as_str().unwrap().to_string();
        if let Some(entry) = self.masters.iter_mut().find(|(k, _)| *k == kind) {
            entry.1 = secret.clone();
        }
        if kind == Admin {
            self.app.admin = secret;
        }
    }

    /// A new limited token with these options.
    async fn limited(&self, options: Value) -> String {
        let reply = self.app.post("/v2/storage/tokens", &self.setup, options).await.expect(201);
        reply.body["token"].as_str().unwrap().to_string()
    }

    /// The secret a kind presents; limited kinds get a fresh token whose grants cover `bucket`.
    async fn secret(&self, kind: Kind, bucket: &str) -> Option<String> {
        let grant = |access: &str| json!({"bucketPermissions": {bucket: access}});
        match kind {
            NoToken => None,
            Invalid => Some(format!("{}-999999-stowNotAValidSecretAtAll", self.app.project_id)),
            Manage => Some(self.app.manage.clone()),
            LimitedRead => Some(self.limited(grant("read")).await),
            LimitedWrite => Some(self.limited(grant("write")).await),
            NoPermission => Some(self.limited(json!({})).await),
            ManageBuckets => Some(self.limited(json!({"canManageBuckets": true})).await),
            ComponentAccess => Some(self.limited(json!({"componentAccess": ["keboola.wr-storage"]})).await),
            Expired | RefreshedAway | Deleted => self.dead.iter().find(|(k, _)| *k == kind).map(|(_, s)| s.clone()),
            Admin | Share | Guest | ReadOnly => self.masters.iter().find(|(k, _)| *k == kind).map(|(_, s)| s.clone()),
        }
    }

    /// A file uploaded by the setup admin, tagged `setup-tag`: (id, blob path with a read SAS).
    async fn uploaded_file(&self) -> (String, String) {
        self.upload_as(&self.setup).await
    }

    /// A CSV file `a,b` uploaded with `token`: (id, blob path with a read SAS).
    async fn upload_as(&self, token: &str) -> (String, String) {
        let app = &self.app;
        let body = json!({"name": "u.csv", "tags": ["setup-tag"]});
        let file = app.post("/v2/storage/files/prepare", token, body).await.expect(201).body;
        let put = app.client.put(format!("{}{}", app.url, blob_path(&file["absUploadParams"])));
        let put = put.header("x-ms-blob-type", "BlockBlob").body("a,b\n").send().await.unwrap();
        assert_eq!(put.status(), 201);
        let id = file["id"].to_string();
        let detail = app.get(&format!("/v2/storage/files/{id}?federationToken=1"), token).await.expect(200).body;
        let read = json!({"blobName": detail["absPath"]["name"], "container": detail["absPath"]["container"],
            "absCredentials": detail["absCredentials"]});
        (id, blob_path(&read))
    }

    /// Fills a template with fresh resources made by the setup admin or the manage token.
    async fn materialize(&self, template: &str, bucket: &str, caller: Option<&str>) -> String {
        let app = &self.app;
        let mut out = template.replace("{bucket}", bucket);
        let unique = unique();
        if out.contains("{self}") {
            let id = match caller {
                Some(secret) if secret.matches('-').count() >= 2 => TestApp::token_id(secret),
                _ => TestApp::token_id(&self.setup),
            };
            out = out.replace("{self}", &id);
        }
        out = out.replace("{admin}", &TestApp::token_id(&self.setup));
        if out.contains("{victim}") {
            out = out.replace("{victim}", &TestApp::token_id(&self.limited(json!({})).await));
        }
        if out.contains("{event}") {
            let created = app.post("/v2/storage/events", &self.setup, json!({"component": "c", "message": "m"})).await;
            out = out.replace("{event}", created.expect(201).body["id"].as_str().unwrap());
        }
        if out.contains("{metadata}") {
            let body = json!({"metadata": [{"key": unique, "value": "v"}]});
            let all = app.post("/v2/storage/branch/default/metadata", &self.setup, body).await.expect(201).body;
            let entry = all.as_array().unwrap().iter().find(|e| e["key"] == json!(unique)).unwrap().clone();
            out = out.replace("{metadata}", entry["id"].as_str().unwrap());
        }
        if out.contains("{job}") {
            let doomed = app.create_bucket(&format!("{unique}j")).await;
            let job = app.delete(&format!("/v2/storage/buckets/{doomed}?async=1"), &app.admin).await.expect(202);
            out = out.replace("{job}", &job.body["id"].to_string());
        }
        if out.contains("{file}") || out.contains("{blob_read}") {
            let (id, path) = self.uploaded_file().await;
            out = out.replace("{file}", &id).replace("{blob_read}", &path);
        }
        if out.contains("{table}") {
            let (file, _) = self.uploaded_file().await;
            let body = json!({"name": "t", "dataFileId": file});
            let job =
                app.post(&format!("/v2/storage/buckets/{bucket}/tables-async"), &self.setup, body).await.expect(202);
            assert_eq!(job.body["status"], "success", "{}", job.text);
            out = out.replace("{table}", &format!("{bucket}.t"));
        }
        for (placeholder, object) in [
            ("{bucket_metadata}", format!("buckets/{bucket}")),
            ("{table_metadata}", format!("tables/{bucket}.t")),
            ("{column_metadata}", format!("columns/{bucket}.t.a")),
        ] {
            if out.contains(placeholder) {
                let body = json!({"provider": "setup", "metadata": [{"key": unique, "value": "v"}]});
                let reply =
                    app.post(&format!("/v2/storage/{object}/metadata"), &self.setup, body).await.expect(201).body;
                let list = if reply.is_array() { reply } else { reply["metadata"].clone() };
                let entry = list.as_array().unwrap().iter().find(|e| e["key"] == json!(unique)).unwrap().clone();
                out = out.replace(placeholder, entry["id"].as_str().unwrap());
            }
        }
        if out.contains("{trigger}") {
            let (file, _) = self.uploaded_file().await;
            let body = json!({"name": "watched", "dataFileId": file});
            let job =
                app.post(&format!("/v2/storage/buckets/{bucket}/tables-async"), &self.setup, body).await.expect(202);
            assert_eq!(job.body["status"], "success", "{}", job.text);
            let run_with = TestApp::token_id(&self.limited(json!({})).await);
            let body = json!({"component": "keboola.wr-storage", "configurationId": "1", "coolDownPeriodMinutes": 5,
                "runWithTokenId": run_with, "tableIds": [format!("{bucket}.watched")]});
            let trigger = app.post("/v2/storage/triggers", &self.setup, body).await.expect(201).body;
            out = out.replace("{trigger}", trigger["id"].as_str().unwrap());
        }
        if out.contains("{scheduler_config}") || out.contains("{schedule}") {
            let path = "/v2/storage/components/keboola.wr-storage/configs";
            let target = app.post(path, &self.setup, json!({"name": unique})).await.expect(201).body;
            let configuration = json!({"schedule": {"cronTab": "0 0 1 1 *"},
                "target": {"componentId": "keboola.wr-storage", "configurationId": target["id"]}});
            let path = "/v2/storage/components/keboola.scheduler/configs";
            let body = json!({"name": unique, "configuration": configuration});
            let scheduler = app.post(path, &self.setup, body).await.expect(201).body;
            let id = scheduler["id"].as_str().unwrap();
            if out.contains("{schedule}") {
                let body = json!({"configurationId": id});
                let schedule = app.post("/scheduler/schedules", &self.setup, body).await.expect(201).body;
                out = out.replace("{schedule}", schedule["id"].as_str().unwrap());
            }
            out = out.replace("{scheduler_config}", id);
        }
        if out.contains("{queue_job}") {
            let path = "/v2/storage/components/keboola.wr-storage/configs";
            let config = app.post(path, &self.setup, json!({"name": unique})).await.expect(201).body;
            let body = json!({"component": "keboola.wr-storage", "config": config["id"]});
            let job = app.post("/queue/jobs", &self.setup, body).await.expect(201).body;
            out = out.replace("{queue_job}", job["id"].as_str().unwrap());
        }
        if out.contains("{config}") || out.contains("{trashed}") {
            let path = "/v2/storage/components/keboola.wr-storage/configs";
            let config = app.post(path, &self.setup, json!({"name": unique})).await.expect(201).body;
            let id = config["id"].as_str().unwrap().to_string();
            let row =
                app.post(&format!("{path}/{id}/rows"), &self.setup, json!({"name": "row"})).await.expect(201).body;
            if out.contains("{trashed}") {
                app.delete(&format!("{path}/{id}"), &self.setup).await.expect(204);
            }
            if out.contains("{config_metadata}") {
                let body = json!({"metadata": [{"key": "k", "value": "v"}]});
                let all = app.post(&format!("{path}/{id}/metadata"), &self.setup, body).await.expect(201).body;
                out = out.replace("{config_metadata}", all[0]["id"].as_str().unwrap());
            }
            out = out.replace("{config}", &id).replace("{trashed}", &id).replace("{row}", row["id"].as_str().unwrap());
        }
        if out.contains("{own_file}") {
            // Callers that cannot upload (dead or missing tokens) get the setup admin's file.
            let live = match caller {
                Some(secret) => app.get("/v2/storage/tokens/verify", secret).await.status == 200,
                None => false,
            };
            let (file, _) = self.upload_as(if live { caller.unwrap_or(&self.setup) } else { &self.setup }).await;
            out = out.replace("\"{own_file}\"", &file);
        }
        if out.contains("{blob_write}") {
            let file =
                app.post("/v2/storage/files/prepare", &self.setup, json!({"name": "w.csv"})).await.expect(201).body;
            out = out.replace("{blob_write}", &blob_path(&file["absUploadParams"]));
        }
        let first_organization = || async {
            let all = app.get("/manage/organizations", &app.manage).await.expect(200).body;
            all[0]["id"].as_i64().unwrap().to_string()
        };
        out = out.replace("{first_project}", &app.project_id.to_string());
        if out.contains("{first_organization}") {
            out = out.replace("{first_organization}", &first_organization().await);
        }
        if out.contains("{maintainer}") {
            let made = app.post("/manage/maintainers", &app.manage, json!({"name": unique})).await.expect(201).body;
            out = out.replace("{maintainer}", &made["id"].to_string());
        }
        if out.contains("{organization}") {
            let maintainer = app.get("/manage/maintainers", &app.manage).await.expect(200).body[0]["id"].to_string();
            let path = format!("/manage/maintainers/{maintainer}/organizations");
            let made = app.post(&path, &app.manage, json!({"name": unique})).await.expect(201).body;
            let id = made["id"].to_string();
            if out.contains("{organization_member}") {
                let users = format!("/manage/organizations/{id}/users");
                app.post(&users, &app.manage, json!({"email": format!("{unique}@example.com")})).await.expect(204);
                let member = app.get(&users, &app.manage).await.expect(200).body[0]["id"].to_string();
                out = out.replace("{organization_member}", &member);
            }
            out = out.replace("{organization}", &id);
        }
        if out.contains("{project}") {
            let path = format!("/manage/organizations/{}/projects", first_organization().await);
            let project = app.post(&path, &app.manage, json!({"name": unique})).await.expect(201).body;
            let id = project["id"].as_i64().unwrap();
            if out.contains("{member}") {
                let email = format!("{unique}@example.com");
                app.member_token_in(id, &email, "guest").await;
                out = out.replace("{member}", &email);
            }
            out = out.replace("{project}", &id.to_string());
        }
        out.replace("{unique}", &unique)
    }
}

#[tokio::test]
async fn every_route_allows_and_denies_each_token_kind_as_the_spec_says() {
    let mut matrix = Matrix::new().await;
    let mut failures = Vec::new();
    for c in cases() {
        for kind in ALL_KINDS {
            let bucket = matrix.app.create_bucket(&unique()).await;
            let token = matrix.secret(*kind, &bucket).await;
            let path = matrix.materialize(c.path, &bucket, token.as_deref()).await;
            let payload = match &c.body {
                Some(body) => Payload::Json(
                    serde_json::from_str(&matrix.materialize(&body.to_string(), &bucket, token.as_deref()).await)
                        .unwrap(),
                ),
                None => Payload::None,
            };
            let reply = matrix.app.call(c.method.clone(), &path, token.as_deref(), payload).await;
            let status = reply.status.as_u16();
            matrix.keep_refreshed(*kind, &c, &path, &reply);
            let denied_as_unauthenticated = c.route.starts_with("/manage") || c.route.starts_with("/console");
            let allowed = c.allowed.contains(kind);
            let expected_denial = match kind {
                NoToken | Invalid | Manage | Expired | RefreshedAway | Deleted => 401,
                _ if denied_as_unauthenticated => 401,
                _ => 403,
            };
            let ok = if allowed { status < 500 && status != 401 && status != 403 } else { status == expected_denial };
            if !ok {
                failures.push(format!("{} {path} as {kind:?}: got {status}, {}", c.method, reply.text));
            }
        }
    }
    assert!(failures.is_empty(), "authorization mismatches:\n{}", failures.join("\n"));
}

#[test]
fn every_registered_route_has_a_case_in_the_matrix() {
    let cases = cases();
    let missing: Vec<_> = stowage_http::route_table()
        .into_iter()
        .filter(|(method, path)| !cases.iter().any(|c| c.method == *method && c.route == path))
        .map(|(method, path)| format!("{method} {path}"))
        .collect();
    assert!(missing.is_empty(), "routes without an authorization case: {missing:?}");
    for (method, path) in stowage_http::PUBLIC {
        let public = cases.iter().find(|c| c.method.as_str() == *method && c.route == *path).expect("public route");
        assert!(public.allowed.contains(&NoToken), "{method} {path} is served without a token");
    }
    for (method, path) in stowage_http::SIGNED_IN {
        assert!(path.starts_with("/console/"), "{method} {path}: only console pages take a session");
        assert!(!stowage_http::PUBLIC.contains(&(method, path)), "{method} {path} is listed twice");
        let page = cases.iter().find(|c| c.method.as_str() == *method && c.route == *path).expect("console route");
        // API tokens open nothing there: every kind meets the sign-in page (or, for a script, a 401).
        assert!(page.allowed == PUBLIC || page.allowed == CONSOLE_SESSION_ONLY, "{method} {path}");
    }
}

/// How the credential behind a console session stops being the current one.
#[derive(Debug, Clone, Copy)]
enum CredentialDeath {
    TokenRefreshed,
    TokenDeleted,
    PasswordChanged,
    RemovedFromProject,
}

/// A signed-in console session that works, then its credential dies as `death` says.
async fn console_session_outlived_by(app: &TestApp, death: CredentialDeath) -> Browser {
    use CredentialDeath::*;
    let mut browser = Browser::new(app);
    let (_, _, page) = browser.get("/console").await;
    let csrf = Browser::csrf(&page);
    let project = format!("/console/projects/{}", app.project_id);
    match death {
        TokenRefreshed | TokenDeleted => {
            let (secret, body) = app.create_token(json!({"description": "pasted", "canManageBuckets": true})).await;
            let (status, ..) = browser.post("/console/sign-in-token", &[("token", &secret), ("csrf", &csrf)]).await;
            assert_eq!(status, 303);
            assert_eq!(browser.get(&project).await.0, 200, "the session works before its token dies");
            let path = format!("/v2/storage/tokens/{}", body["id"].as_str().unwrap());
            match death {
                TokenRefreshed => app.post(&format!("{path}/refresh"), &app.admin, json!({})).await.expect(200),
                _ => app.delete(&path, &app.admin).await.expect(204),
            };
        }
        PasswordChanged | RemovedFromProject => {
            let email = format!("{}@example.com", unique());
            let (password, password_path) = ("a-long-enough-password", format!("/manage/users/{email}/password"));
            app.member_token(&email, "admin").await;
            app.put(&password_path, &app.manage, json!({"password": password})).await.expect(204);
            let (status, ..) =
                browser.post("/console/sign-in", &[("email", &email), ("password", password), ("csrf", &csrf)]).await;
            assert_eq!(status, 303);
            assert_eq!(browser.get(&project).await.0, 200, "the session works before the password changes");
            match death {
                PasswordChanged => {
                    let body = json!({"password": "another-long-enough-password"});
                    app.put(&password_path, &app.manage, body).await.expect(204)
                }
                _ => {
                    let member = format!("/manage/projects/{}/users/{email}", app.project_id);
                    app.delete(&member, &app.manage).await.expect(204)
                }
            };
        }
    }
    browser
}

#[tokio::test]
async fn every_console_route_sends_a_session_back_to_sign_in_once_its_credential_is_refreshed_deleted_or_changed() {
    let app = spawn_app().await;
    let mut failures = Vec::new();
    for death in [
        CredentialDeath::TokenRefreshed,
        CredentialDeath::TokenDeleted,
        CredentialDeath::PasswordChanged,
        CredentialDeath::RemovedFromProject,
    ] {
        let mut browser = console_session_outlived_by(&app, death).await;
        let (_, _, page) = browser.get(&format!("/console/projects/{}", app.project_id)).await;
        // Whatever CSRF value a page showed before the credential died, it must not matter now.
        let csrf = page.split("name=\"csrf\" value=\"").nth(1).and_then(|rest| rest.split('"').next()).unwrap_or("");
        for c in cases().iter().filter(|c| c.route.starts_with("/console/")) {
            if [
                "/console/sign-in",
                "/console/sign-in-token",
                "/console/sign-out",
                "/console/static/console.js",
                "/console/static/console.css",
                // A password link is its own credential, whatever session comes with it.
                "/console/password/{link}",
            ]
            .contains(&c.route)
            {
                continue;
            }
            let (status, location) = if c.method == Method::GET {
                let (status, location, _) = browser.get(c.path).await;
                (status, location)
            } else {
                let (status, location, ..) = browser.post(c.path, &[("csrf", csrf), ("name", "x")]).await;
                (status, location)
            };
            let session_only = c.allowed.is_empty();
            let refused = if session_only { status == 401 } else { status == 303 && location == "/console" };
            if !refused {
                failures.push(format!("{death:?}: {} {} answered {status} {location}", c.method, c.path));
            }
        }
        // The picker, the one page without a project, sends the visitor back too.
        let (status, location, _) = browser.get("/console/projects").await;
        if (status, location.as_str()) != (303, "/console") {
            failures.push(format!("{death:?}: GET /console/projects answered {status} {location}"));
        }
    }
    assert!(failures.is_empty(), "stale console sessions still open pages:\n{}", failures.join("\n"));
}

/// `deep[a][a]...=1` with 65 brackets, one more than a parameter may nest.
fn too_deep_form() -> String {
    format!("deep{}=1", "[a]".repeat(65))
}

/// A JSON body whose `deep` parameter nests 65 levels.
fn too_deep_json() -> Value {
    json!({ "deep": (0..65).fold(json!(1), |inner, _| json!({ "a": inner })) })
}

#[tokio::test]
async fn every_route_refuses_parameters_nested_deeper_than_64_levels_in_its_query_and_body() {
    let mut matrix = Matrix::new().await;
    let document = stowage_http::api_document();
    let mut failures = Vec::new();
    let mut checked = (0, 0);
    for c in cases() {
        let operation = &document["paths"][c.route][c.method.as_str().to_lowercase()];
        let parameters = operation["parameters"].as_array().cloned().unwrap_or_default();
        let reads_query = parameters.iter().any(|parameter| parameter["in"] == "query");
        let content = &operation["requestBody"]["content"];
        let reads_body =
            content.get("application/json").is_some() || content.get("application/x-www-form-urlencoded").is_some();
        let mut requests = vec![("query", reads_query, Payload::None)];
        if c.method != Method::GET {
            requests.push(("form body", reads_body, Payload::Form(too_deep_form())));
            requests.push(("JSON body", reads_body, Payload::Json(too_deep_json())));
        }
        for (what, parsed, payload) in requests {
            // Fresh resources for each request (and the admin's secret again: a request before may
            // have refreshed it).
            let bucket = matrix.app.create_bucket(&unique()).await;
            let kind = if c.route.starts_with("/manage") { Manage } else { Admin };
            let token = matrix.secret(kind, &bucket).await;
            let mut path = matrix.materialize(c.path, &bucket, token.as_deref()).await;
            if what == "query" {
                path = format!("{path}{}{}", if path.contains('?') { '&' } else { '?' }, too_deep_form());
            }
            let reply = matrix.app.call(c.method.clone(), &path, token.as_deref(), payload).await;
            matrix.keep_refreshed(kind, &c, &path, &reply);
            let status = reply.status.as_u16();
            let refused = status == 400 && reply.body["code"] == "malformedRequest";
            if status >= 500 || (parsed && !refused) {
                failures.push(format!("{} {path} with a nested {what}: got {status}, {}", c.method, reply.text));
            }
            if parsed {
                if what == "query" {
                    checked.0 += 1;
                } else {
                    checked.1 += 1;
                }
            }
        }
    }
    assert!(failures.is_empty(), "nesting not refused:\n{}", failures.join("\n"));
    // The document describes most routes' parameters: this is no empty check.
    assert!(checked.0 >= 30 && checked.1 >= 60, "only {checked:?} queries and bodies were checked");
}
