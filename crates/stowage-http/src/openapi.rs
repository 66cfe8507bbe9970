//! The API contract: an OpenAPI 3.1 document generated from the route table.
//!
//! Every API route is registered with an [`Op`]: its summary, its request shapes and its response
//! shape, given as the Rust types the handler reads and writes. [`document`] walks the route table
//! and builds the document from those, so a route cannot be served without being described, and a
//! described shape is the one the handler serializes. Console pages (HTML for people) are not part
//! of the contract.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::Method;
use axum::Extension;
use utoipa::openapi::path::{HttpMethod, Operation, OperationBuilder, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, ObjectBuilder, OpenApi, OpenApiBuilder, Paths, Ref, RefOr,
    Required, ResponseBuilder, Schema, Tag, Type,
};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{BranchRef, Caller, ManageCaller, Wants};
use crate::input::{Input, Params};
use crate::AppState;

/// Schemas a shape refers to, by name.
type Schemas = Vec<(String, RefOr<Schema>)>;

/// What a successful call answers.
enum Reply {
    /// JSON of a type, with this status and when it comes.
    Json(u16, Box<RefOr<Schema>>, &'static str),
    /// No body, with this status.
    Status(u16, &'static str),
    /// Bytes of a file (a download).
    Bytes(&'static str),
    /// A page for a person (the share link's page).
    Html,
    /// A redirect (303) to where the work goes on.
    Redirect,
}

/// One route's part of the contract.
pub(crate) struct Op {
    summary: &'static str,
    replies: Vec<Reply>,
    query: Vec<Parameter>,
    body: Option<RequestBody>,
    schemas: Schemas,
}

enum RequestBody {
    /// JSON or a form, in the shape of a type.
    Fields(Box<RefOr<Schema>>),
    /// Raw bytes (a blob block or a whole blob).
    Bytes,
}

/// The schema of `T`, by reference when it is a named type; `T`'s named parts go to `schemas`.
fn shape<T: ToSchema>(schemas: &mut Schemas) -> RefOr<Schema> {
    T::schemas(schemas);
    let schema = T::schema();
    match &schema {
        // A named object: the document holds it once, under its name.
        RefOr::T(Schema::Object(_) | Schema::OneOf(_) | Schema::AllOf(_)) => {
            let name = T::name().into_owned();
            schemas.push((name.clone(), schema));
            RefOr::Ref(Ref::from_schema_name(name))
        }
        _ => schema,
    }
}

impl Op {
    fn new(summary: &'static str, reply: Reply, schemas: Schemas) -> Self {
        Op { summary, replies: vec![reply], query: Vec::new(), body: None, schemas }
    }

    fn json<T: ToSchema>(summary: &'static str, status: u16) -> Self {
        let mut schemas = Vec::new();
        let schema = shape::<T>(&mut schemas);
        Op::new(summary, Reply::Json(status, Box::new(schema), "Done."), schemas)
    }

    fn json_list<T: ToSchema>(summary: &'static str, status: u16) -> Self {
        let mut schemas = Vec::new();
        let items = utoipa::openapi::schema::ArrayBuilder::new().items(shape::<T>(&mut schemas)).build();
        let schema = Box::new(RefOr::T(Schema::Array(items)));
        Op::new(summary, Reply::Json(status, schema, "Done."), schemas)
    }

    /// Answers 200 with a `T`.
    pub(crate) fn ok<T: ToSchema>(summary: &'static str) -> Self {
        Op::json::<T>(summary, 200)
    }

    /// Answers 200 with a list of `T`.
    pub(crate) fn list<T: ToSchema>(summary: &'static str) -> Self {
        Op::json_list::<T>(summary, 200)
    }

    /// Answers 201 with the `T` it made.
    pub(crate) fn created<T: ToSchema>(summary: &'static str) -> Self {
        Op::json::<T>(summary, 201)
    }

    /// Answers 201 with a list of `T`.
    pub(crate) fn created_list<T: ToSchema>(summary: &'static str) -> Self {
        Op::json_list::<T>(summary, 201)
    }

    /// Answers 202 with a `T` that goes on in the background (a storage job).
    pub(crate) fn accepted<T: ToSchema>(summary: &'static str) -> Self {
        Op::json::<T>(summary, 202)
    }

    /// Answers 204 with no body.
    pub(crate) fn empty(summary: &'static str) -> Self {
        Op::new(summary, Reply::Status(204, "Done; no body."), Vec::new())
    }

    /// Answers `status` with no body.
    pub(crate) fn status(summary: &'static str, status: u16, description: &'static str) -> Self {
        Op::new(summary, Reply::Status(status, description), Vec::new())
    }

    /// Answers with a file's bytes.
    pub(crate) fn bytes(summary: &'static str, content_type: &'static str) -> Self {
        Op::new(summary, Reply::Bytes(content_type), Vec::new())
    }

    /// Answers with an HTML page.
    pub(crate) fn html(summary: &'static str) -> Self {
        Op::new(summary, Reply::Html, Vec::new())
    }

    /// Answers with a redirect.
    pub(crate) fn redirect(summary: &'static str) -> Self {
        Op::new(summary, Reply::Redirect, Vec::new())
    }

    /// Answers `status` with a `T` instead, when `when` holds.
    pub(crate) fn or<T: ToSchema>(mut self, status: u16, when: &'static str) -> Self {
        let schema = shape::<T>(&mut self.schemas);
        self.replies.push(Reply::Json(status, Box::new(schema), when));
        self
    }

    /// Takes a body of JSON or form fields in the shape of `T`.
    fn body<T: ToSchema>(&mut self) {
        let schema = shape::<T>(&mut self.schemas);
        self.body = Some(RequestBody::Fields(Box::new(schema)));
    }

    /// Takes the query parameters of `T`.
    fn query<T: IntoParams>(&mut self) {
        self.query.extend(T::into_params(|| Some(ParameterIn::Query)));
    }

    /// Takes a body of raw bytes.
    pub(crate) fn raw_body(mut self) -> Self {
        self.body = Some(RequestBody::Bytes);
        self
    }
}

/// What a handler's extractor adds to its operation: a typed body or typed query parameters add
/// their shapes, everything else (the caller, the path, the state) nothing. `Table::add` asks each
/// extractor of the handler it registers, so the document describes what the handler reads.
pub(crate) trait Describe {
    fn describe(_op: &mut Op) {}
}

impl<T: ToSchema> Describe for Input<T> {
    fn describe(op: &mut Op) {
        op.body::<T>();
    }
}

impl<T: IntoParams> Describe for Params<T> {
    fn describe(op: &mut Op) {
        op.query::<T>();
    }
}

impl Describe for State<AppState> {}
impl<T> Describe for Path<T> {}
impl Describe for Caller {}
impl<P> Describe for Wants<P> {}
impl Describe for ManageCaller {}
impl Describe for Option<Extension<BranchRef>> {}
impl Describe for axum::extract::Request {}

/// A handler's extractors, as axum's `Handler` sees them: `(marker, first, ..., last)`.
pub(crate) trait DescribeAll {
    fn describe_all(op: &mut Op);
}

macro_rules! describe_all {
    ($($extractor:ident),*) => {
        impl<M, $($extractor: Describe),*> DescribeAll for (M, $($extractor,)*) {
            fn describe_all(_op: &mut Op) {
                $($extractor::describe(_op);)*
            }
        }
    };
}

describe_all!();
describe_all!(T1);
describe_all!(T1, T2);
describe_all!(T1, T2, T3);
describe_all!(T1, T2, T3, T4);
describe_all!(T1, T2, T3, T4, T5);

/// How a route authenticates, from where it lives.
#[derive(Clone, Copy, PartialEq, Debug)]
pub(crate) enum Auth {
    /// `X-StorageApi-Token`.
    Storage,
    /// `X-KBC-ManageApiToken`.
    Manage,
    /// A shared access signature in the query string (the blob endpoint).
    Signature,
    /// Nothing.
    Public,
}

pub(crate) fn auth_of(method: &Method, path: &str) -> Auth {
    if path.starts_with("/abs/") {
        Auth::Signature
    } else if crate::PUBLIC.iter().any(|(m, p)| *m == method.as_str() && *p == path) {
        Auth::Public
    } else if path.starts_with("/manage/") {
        Auth::Manage
    } else {
        Auth::Storage
    }
}

/// The group an operation is listed under.
fn tag_of(path: &str) -> &'static str {
    let segment = |prefix: &str| path.strip_prefix(prefix).map(|rest| rest.split('/').next().unwrap_or(""));
    if let Some(resource) = segment("/v2/storage/") {
        return match resource {
            "buckets" if path.contains("/tables") => "Tables",
            "buckets" => "Buckets",
            "tables" | "columns" => "Tables",
            "tokens" => "Tokens",
            "files" => "Files",
            "events" => "Events",
            "jobs" => "Storage jobs",
            "components" => "Components",
            "triggers" => "Triggers",
            "dev-branches" | "metadata" => "Branches",
            _ => "Storage",
        };
    }
    match path.split('/').nth(1).unwrap_or("") {
        "manage" => "Manage API",
        "queue" | "sync-actions" => "Queue API",
        "scheduler" => "Scheduler API",
        "abs" => "Blob storage",
        "tokens" => "Token sharing",
        "health" => "Health",
        _ => "Storage",
    }
}

const TAGS: &[(&str, &str)] = &[
    ("Storage", "The API's index and the stack's entry points."),
    ("Buckets", "Buckets hold tables; their id is `{stage}.c-{name}`."),
    ("Tables", "Tables, their columns, keys, imports and exports. Imports and exports are storage jobs."),
    ("Storage jobs", "Asynchronous work on tables; poll a job until it ends."),
    ("Files", "Uploaded files: prepare, upload through the blob endpoint, download."),
    ("Tokens", "API tokens: least-privilege secrets shown once."),
    ("Events", "Every operation, recorded."),
    ("Components", "Configurations of the Storage Writer and Storage Extractor, with rows, versions and state."),
    ("Triggers", "Runs started when tables change."),
    ("Branches", "The default branch and its metadata."),
    ("Queue API", "Component jobs and synchronous actions."),
    ("Scheduler API", "Runs started on a cron schedule."),
    ("Manage API", "Projects and their members, with a manage token."),
    ("Token sharing", "One-time links that hand a token's secret to a person."),
    ("Blob storage", "The Azure-Blob-compatible endpoint file uploads and downloads go through."),
    ("Health", "Liveness and readiness for load balancers."),
];

fn http_method(method: &Method) -> HttpMethod {
    match *method {
        Method::GET => HttpMethod::Get,
        Method::POST => HttpMethod::Post,
        Method::PUT => HttpMethod::Put,
        Method::DELETE => HttpMethod::Delete,
        Method::PATCH => HttpMethod::Patch,
        Method::HEAD => HttpMethod::Head,
        _ => HttpMethod::Options,
    }
}

/// `/abs/{container}/{*blob}` as OpenAPI writes it, with the names of its parameters.
fn path_template(path: &str) -> (String, Vec<String>) {
    let mut names = Vec::new();
    let segments: Vec<String> = path
        .split('/')
        .map(|segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => {
                let name = name.trim_start_matches('*').to_string();
                names.push(name.clone());
                format!("{{{name}}}")
            }
            None => segment.to_string(),
        })
        .collect();
    (segments.join("/"), names)
}

fn string_schema() -> Schema {
    Schema::Object(ObjectBuilder::new().schema_type(Type::String).build())
}

/// The blob endpoint's query: the signature, and for an upload the block being put.
fn signature_parameters(method: &Method) -> Vec<Parameter> {
    let mut parameters = vec![
        ("sv", "Signed version.", true),
        ("sr", "Signed resource (`b`).", true),
        ("sp", "Signed permissions.", true),
        ("se", "When the signature expires.", true),
        ("sig", "The signature.", true),
    ];
    if method == Method::PUT {
        parameters.push((
            "comp",
            "`block` to put one block, `blocklist` to commit blocks; absent for a whole blob.",
            false,
        ));
        parameters.push(("blockid", "With `comp=block`: the block's id (base64).", false));
    }
    parameters
        .into_iter()
        .map(|(name, description, required)| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Query)
                .required(if required { Required::True } else { Required::False })
                .description(Some(description))
                .schema(Some(string_schema()))
                .build()
        })
        .collect()
}

fn operation(method: &Method, path: &str, op: &Op) -> Operation {
    let (_, names) = path_template(path);
    let auth = auth_of(method, path);
    let mut builder = OperationBuilder::new()
        .summary(Some(op.summary))
        .tag(tag_of(path))
        .operation_id(Some(operation_id(method, path)));
    for name in names {
        builder = builder.parameter(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(string_schema()))
                .build(),
        );
    }
    for parameter in op.query.iter().cloned() {
        builder = builder.parameter(parameter);
    }
    if auth == Auth::Signature {
        for parameter in signature_parameters(method) {
            builder = builder.parameter(parameter);
        }
    }
    match &op.body {
        Some(RequestBody::Fields(schema)) => {
            let content = || ContentBuilder::new().schema(Some(schema.as_ref().clone())).build();
            builder = builder.request_body(Some(
                RequestBodyBuilder::new()
                    .content("application/json", content())
                    .content("application/x-www-form-urlencoded", content())
                    .build(),
            ));
        }
        Some(RequestBody::Bytes) => {
            let bytes = ContentBuilder::new().schema(Some(binary_schema())).build();
            builder = builder.request_body(Some(
                RequestBodyBuilder::new()
                    .content("application/octet-stream", bytes)
                    .required(Some(Required::True))
                    .build(),
            ));
        }
        None => {}
    }
    // Replies with one status share its response, each with its content type.
    let mut responses: BTreeMap<u16, ResponseBuilder> = BTreeMap::new();
    for reply in &op.replies {
        let content = |schema: Schema| ContentBuilder::new().schema(Some(schema)).build();
        let json = |schema: &RefOr<Schema>| ContentBuilder::new().schema(Some(schema.clone())).build();
        let (status, description, body) = match reply {
            Reply::Json(status, schema, when) => (*status, *when, Some(("application/json", json(schema)))),
            Reply::Status(status, description) => (*status, *description, None),
            Reply::Bytes(content_type) => (200, "The bytes.", Some((*content_type, content(binary_schema())))),
            Reply::Html => (200, "A page.", Some(("text/html", content(string_schema())))),
            Reply::Redirect => (303, "Go on at `Location`.", None),
        };
        let response = responses.remove(&status).unwrap_or_else(|| ResponseBuilder::new().description(description));
        let response = match body {
            Some((content_type, content)) => response.content(content_type, content),
            None => response,
        };
        responses.insert(status, response);
    }
    for (status, response) in responses {
        builder = builder.response(status.to_string(), response.build());
    }
    let page = op.replies.iter().any(|reply| matches!(reply, Reply::Html));
    let error = if page {
        ResponseBuilder::new()
            .description("A page that says what went wrong (for example 410 for a used link).")
            .content("text/html", ContentBuilder::new().schema(Some(string_schema())).build())
            .build()
    } else if auth == Auth::Signature {
        ResponseBuilder::new()
            .description("Azure's error: an XML body and an `x-ms-error-code` header.")
            .content("application/xml", ContentBuilder::new().schema(Some(string_schema())).build())
            .build()
    } else {
        ResponseBuilder::new()
            .description("The Keboola error body: a 4xx for a client's mistake, 5xx only for the server's own failure.")
            .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("Error"))).build())
            .build()
    };
    builder = builder.response("default", error);
    match auth {
        Auth::Storage => builder.security(SecurityRequirement::new("storageApiToken", Vec::<String>::new())),
        Auth::Manage => builder.security(SecurityRequirement::new("manageApiToken", Vec::<String>::new())),
        Auth::Signature | Auth::Public => builder.securities(Some(Vec::new())),
    }
    .build()
}

fn binary_schema() -> Schema {
    Schema::Object(
        ObjectBuilder::new().schema_type(Type::String).content_media_type("application/octet-stream").build(),
    )
}

/// `get_v2_storage_buckets_id`: unique per (method, path).
fn operation_id(method: &Method, path: &str) -> String {
    let mut id = method.as_str().to_ascii_lowercase();
    for part in path.split(|c: char| !c.is_ascii_alphanumeric()).filter(|part| !part.is_empty()) {
        id.push('_');
        id.push_str(part);
    }
    id
}

/// The document of every API route in `routes` (console pages are left out).
pub(crate) fn document<'a>(routes: impl Iterator<Item = (&'a Method, &'a str, &'a Op)>) -> OpenApi {
    let mut paths = Paths::new();
    let mut schemas: BTreeMap<String, RefOr<Schema>> = BTreeMap::new();
    let mut error = Vec::new();
    shape::<crate::error::ErrorBody>(&mut error);
    for (method, path, op) in routes {
        let (template, _) = path_template(path);
        paths.add_path_operation(template, vec![http_method(method)], operation(method, path, op));
        for (name, schema) in op.schemas.iter().chain(&error) {
            schemas.entry(name.clone()).or_insert_with(|| schema.clone());
        }
    }
    let mut components = ComponentsBuilder::new()
        .security_scheme(
            "storageApiToken",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-StorageApi-Token",
                "A Storage API token of the project (shown once when made).",
            ))),
        )
        .security_scheme(
            "manageApiToken",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-KBC-ManageApiToken",
                "A Manage API token of the stack.",
            ))),
        );
    for (name, schema) in schemas {
        components = components.schema(name, schema);
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Stowage: Keboola Connection Storage API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "The Storage API (v2) with the Queue, Scheduler and Manage APIs and the Azure-Blob-compatible \
                     file endpoint, as this stack serves them. Every Storage API path is also served below \
                     `/v2/storage/branch/{branch}/` for the default branch. Bodies are JSON or \
                     `application/x-www-form-urlencoded` with PHP's array conventions (`x[]=a`, `a[b]=c`); booleans \
                     may be `1`/`0` or `true`/`false`.",
                ))
                .build(),
        )
        .paths(paths)
        .components(Some(components.build()))
        .tags(Some(TAGS.iter().map(|(name, description)| {
            let mut tag = Tag::new(*name);
            tag.description = Some(description.to_string());
            tag
        })))
        .build()
}
