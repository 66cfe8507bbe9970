//! `tables/...` and `buckets/{id}/tables...`: create, list, detail, delete, import, export,
//! preview, primary key, events.

use axum::extract::State;
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use stowage_core::tables::csv::{write_row, CsvFormat};
use stowage_core::tables::typed::ColumnSpec;
use stowage_core::tables::{
    self, CreateRequest, DefinitionRequest, ImportRequest, Layout, OrderBy, Selection, TableView, WhereFilter,
};
use stowage_core::{events, Core};
use stowage_types::auth::{AnyToken, ReadBucket, ReadTable, WriteBucket, WriteTable};
use stowage_types::time::format;
use stowage_types::Code;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Allowed, Caller, Wants};
use crate::error::{ApiError, ApiResult};
use crate::input::{lenient, parameter_error, Input, Page, Params};
use crate::openapi::Op;
use crate::routes::events::EventQuery;
use crate::views::{self, BucketShape, BucketView, ColumnMetadata, EventView, JobView, MetadataView};
use crate::{AppState, Table};

pub(crate) fn register(t: Table) -> Table {
    let job = |summary| Op::accepted::<JobView>(summary);
    t.add(
        Method::POST,
        "/v2/storage/buckets/{id}/tables-async",
        create_table,
        job("Create a table from an uploaded file"),
    )
    .add(
        Method::POST,
        "/v2/storage/buckets/{id}/tables-definition",
        create_table_definition,
        job("Create a typed table from a definition"),
    )
    .add(Method::POST, "/v2/storage/tables/{id}/columns", add_column, job("Add a column"))
    .add(Method::GET, "/v2/storage/buckets/{id}/tables", list_bucket_tables, Op::list::<TableShow>("A bucket's tables"))
    .add(Method::GET, "/v2/storage/tables", list_tables, Op::list::<TableShow>("List tables"))
    .add(Method::GET, "/v2/storage/tables/{id}", get_table, Op::ok::<TableShow>("Table detail"))
    .add(
        Method::DELETE,
        "/v2/storage/tables/{id}",
        delete_table,
        Op::empty("Delete a table").or::<JobView>(202, "With `async`: the job that deletes it."),
    )
    .add(Method::POST, "/v2/storage/tables/{id}/import-async", import_table, job("Load an uploaded file into a table"))
    .add(Method::POST, "/v2/storage/tables/{id}/export-async", export_table, job("Export a table to a file"))
    .add(
        Method::GET,
        "/v2/storage/tables/{id}/data-preview",
        preview_table,
        Op::bytes("Preview a table's rows (CSV, or JSON with `format=json`)", "text/csv")
            .or::<Preview>(200, "With `format=json`."),
    )
    .add(Method::POST, "/v2/storage/tables/{id}/primary-key", add_primary_key, job("Set a table's primary key"))
    .add(Method::DELETE, "/v2/storage/tables/{id}/primary-key", remove_primary_key, job("Remove a table's primary key"))
    .add(
        Method::GET,
        "/v2/storage/tables/{id}/events",
        list_table_events,
        Op::list::<EventView>("A table's events"),
    )
}

/// Which optional parts of a table to show.
#[derive(Clone, Copy)]
struct TableShape {
    columns: bool,
    metadata: bool,
    column_metadata: bool,
    bucket: bool,
}

impl TableShape {
    const DETAIL: TableShape = TableShape { columns: true, metadata: true, column_metadata: true, bucket: true };

    fn from_include(include: &Option<Vec<String>>, bucket_by_default: bool) -> Self {
        let has = |part: &str| include.as_ref().is_some_and(|parts| parts.iter().any(|p| p == part));
        TableShape {
            columns: has("columns"),
            metadata: has("metadata"),
            column_metadata: has("columnMetadata"),
            bucket: bucket_by_default || has("buckets"),
        }
    }
}

/// A typed column's native type.
#[derive(Serialize, ToSchema)]
pub(crate) struct NativeType {
    /// The backend's type name, for example `VARCHAR` or `NUMERIC`.
    #[serde(rename = "type")]
    kind: &'static str,
    nullable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    length: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    default: Option<String>,
}

/// A typed column.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ColumnDefinition)]
pub(crate) struct ColumnDefinitionView {
    name: String,
    definition: NativeType,
    /// `STRING`, `INTEGER`, `NUMERIC`, `FLOAT`, `BOOLEAN`, `DATE` or `TIMESTAMP`.
    basetype: &'static str,
    can_be_filtered: bool,
}

/// A typed table's definition.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TableDefinition {
    primary_keys_names: Vec<String>,
    columns: Vec<ColumnDefinitionView>,
}

/// A table. `columns`, `metadata`, `columnMetadata` and `bucket` are there when asked for with
/// `include` (all of them in a table's detail).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Table)]
pub(crate) struct TableShow {
    uri: String,
    /// `{bucket id}.{name}`.
    id: String,
    name: String,
    display_name: String,
    transactional: bool,
    primary_key: Vec<String>,
    index_type: Option<String>,
    index_key: Vec<String>,
    distribution_type: Option<String>,
    distribution_key: Vec<String>,
    synthetic_primary_key_enabled: bool,
    created: String,
    last_import_date: Option<String>,
    last_change_date: Option<String>,
    rows_count: i64,
    data_size_bytes: i64,
    is_alias: bool,
    is_aliasable: bool,
    is_typed: bool,
    table_type: &'static str,
    timestamp_type: &'static str,
    path: String,
    attributes: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    columns: Option<Vec<String>>,
    /// Only on a typed table.
    #[serde(skip_serializing_if = "Option::is_none")]
    definition: Option<TableDefinition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Vec<MetadataView>>,
    /// Column name to its metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    column_metadata: Option<ColumnMetadata>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bucket: Option<BucketView>,
}

fn table_view(core: &Core, view: &TableView, shape: TableShape) -> TableShow {
    let table = &view.table;
    let definition = table.definition.as_ref().map(|definition| TableDefinition {
        primary_keys_names: table.primary_key.clone(),
        columns: definition
            .iter()
            .map(|column| ColumnDefinitionView {
                name: column.name.clone(),
                definition: NativeType {
                    kind: column.basetype.native(),
                    nullable: column.nullable,
                    length: column.length.clone(),
                    default: column.default.clone(),
                },
                basetype: column.basetype.name(),
                can_be_filtered: true,
            })
            .collect(),
    });
    let column_metadata = view
        .column_metadata
        .iter()
        .map(|(column, entries)| (column.clone(), entries.iter().map(views::metadata_entry).collect()))
        .collect();
    TableShow {
        uri: format!("{}/tables/{}", core.storage_url(), table.id),
        id: table.id.clone(),
        name: table.name.clone(),
        display_name: table.display_name.clone(),
        transactional: false,
        primary_key: table.primary_key.clone(),
        index_type: None,
        index_key: Vec::new(),
        distribution_type: None,
        distribution_key: Vec::new(),
        synthetic_primary_key_enabled: false,
        created: format(table.created),
        last_import_date: table.last_import.map(format),
        last_change_date: table.last_change.map(format),
        rows_count: table.rows_count,
        data_size_bytes: table.data_size_bytes,
        is_alias: false,
        is_aliasable: true,
        is_typed: table.definition.is_some(),
        table_type: "table",
        timestamp_type: "MANAGED",
        path: format!("/{}", table.id),
        attributes: Vec::new(),
        columns: shape.columns.then(|| table.columns.clone()),
        definition,
        metadata: shape.metadata.then(|| view.metadata.iter().map(views::metadata_entry).collect()),
        column_metadata: shape.column_metadata.then_some(ColumnMetadata(column_metadata)),
        bucket: shape
            .bucket
            .then(|| views::bucket(core, &view.bucket, None, None, BucketShape { detail: false, attributes: false })),
    }
}

/// One value of a preview row.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PreviewValue {
    column_name: String,
    value: String,
    /// The value was cut at 16,384 characters.
    is_truncated: bool,
}

/// A preview in JSON (`format=json`).
#[derive(Serialize, ToSchema)]
pub(crate) struct Preview {
    columns: Vec<String>,
    rows: Vec<Vec<PreviewValue>>,
}

/// How an uploaded CSV file is laid out.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LayoutInput {
    /// One character (default `,`).
    #[serde(default, deserialize_with = "lenient::text")]
    delimiter: Option<String>,
    /// One character or empty (default `"`).
    #[serde(default, deserialize_with = "lenient::text")]
    enclosure: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    escaped_by: Option<String>,
    /// The file has no header; `columns` names them.
    #[serde(default, deserialize_with = "lenient::flag")]
    without_headers: Option<bool>,
    #[serde(default, deserialize_with = "lenient::list")]
    columns: Option<Vec<String>>,
}

impl LayoutInput {
    fn layout(self) -> ApiResult<Layout> {
        let format =
            CsvFormat::parse(self.delimiter.as_deref(), self.enclosure.as_deref(), self.escaped_by.as_deref())?;
        Ok(Layout { format, without_headers: self.without_headers.unwrap_or(false), columns: self.columns })
    }
}

/// A table to create from an uploaded file.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NewTableInput {
    #[serde(default, deserialize_with = "lenient::text")]
    name: Option<String>,
    /// The uploaded file (see `files/prepare`).
    #[serde(default, deserialize_with = "lenient::int")]
    data_file_id: Option<i64>,
    #[serde(default, deserialize_with = "lenient::list")]
    primary_key: Option<Vec<String>>,
    #[serde(flatten)]
    layout: LayoutInput,
}

/// A load of an uploaded file into a table.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ImportInput {
    #[serde(default, deserialize_with = "lenient::int")]
    data_file_id: Option<i64>,
    /// Add and update rows by the key instead of replacing the table.
    #[serde(default, deserialize_with = "lenient::flag")]
    incremental: Option<bool>,
    #[serde(flatten)]
    layout: LayoutInput,
}

/// A typed column's native definition (read by `column_spec`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct ColumnDefinitionInput {
    /// The native type, for example `VARCHAR`.
    #[schema(rename = "type")]
    kind: Option<String>,
    /// `STRING`: most characters; `NUMERIC`: `precision,scale`.
    length: Option<String>,
    nullable: Option<bool>,
    default: Option<String>,
}

/// A typed column (read by `column_spec`, which names the field it refuses).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct ColumnInput {
    name: String,
    /// `STRING`, `INTEGER`, `NUMERIC`, `FLOAT`, `BOOLEAN`, `DATE` or `TIMESTAMP`.
    basetype: Option<String>,
    definition: Option<ColumnDefinitionInput>,
}

/// A column to add: a `ColumnInput`, read by `column_spec`.
#[derive(Deserialize)]
#[serde(transparent)]
pub(crate) struct ColumnBody(Value);

impl utoipa::PartialSchema for ColumnBody {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        utoipa::openapi::Ref::from_schema_name("ColumnInput").into()
    }
}

impl ToSchema for ColumnBody {
    fn schemas(schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::Schema>)>) {
        schemas.push(("ColumnInput".into(), <ColumnInput as utoipa::PartialSchema>::schema()));
        <ColumnInput as ToSchema>::schemas(schemas);
    }
}

/// A typed table to create from its definition.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DefinitionInput {
    #[serde(default, deserialize_with = "lenient::text")]
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient::list")]
    primary_keys_names: Option<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<ColumnInput>>)]
    columns: Option<Value>,
}

/// How to delete a table.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DeleteQuery {
    /// Answer a job (202) at once instead of deleting before answering.
    #[serde(default, rename = "async", deserialize_with = "lenient::flag")]
    run_async: Option<bool>,
}

/// What to list tables with.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TableQuery {
    /// `columns`, `metadata`, `columnMetadata`, `buckets`.
    #[serde(default, deserialize_with = "lenient::list")]
    include: Option<Vec<String>>,
}

/// A filter of rows (read by `where_filters`).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct WhereFilterInput {
    column: String,
    /// `eq` (the default), `ne`, `lt`, `le`, `gt`, `ge`.
    operator: Option<String>,
    values: Vec<String>,
    data_type: Option<String>,
}

/// An order of rows (read by `order_by`).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct OrderByInput {
    column: String,
    /// `ASC` or `DESC`.
    order: Option<String>,
    data_type: Option<String>,
}

/// Which rows and columns of a table to read.
#[derive(Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SelectionInput {
    #[serde(default, deserialize_with = "lenient::list")]
    columns: Option<Vec<String>>,
    /// Rows changed since: a time, a Unix timestamp, or relative (`-2 days`).
    #[serde(default, deserialize_with = "lenient::text")]
    changed_since: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    changed_until: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    where_column: Option<String>,
    #[serde(default, deserialize_with = "lenient::list")]
    where_values: Option<Vec<String>>,
    /// `eq` or `ne`.
    #[serde(default, deserialize_with = "lenient::text")]
    where_operator: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<WhereFilterInput>>)]
    #[param(value_type = Option<Vec<WhereFilterInput>>)]
    where_filters: Option<Value>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<OrderByInput>>)]
    #[param(value_type = Option<Vec<OrderByInput>>)]
    order_by: Option<Value>,
    /// At most this many rows.
    #[serde(default, deserialize_with = "lenient::int")]
    limit: Option<i64>,
}

/// An export of a table to a file.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExportInput {
    /// `rfc` (the default), `raw` or `escaped`.
    #[serde(default, deserialize_with = "lenient::text")]
    format: Option<String>,
    /// Only `csv`.
    #[serde(default, deserialize_with = "lenient::text")]
    file_type: Option<String>,
    #[serde(default, deserialize_with = "lenient::flag")]
    gzip: Option<bool>,
    #[serde(flatten)]
    selection: SelectionInput,
}

/// The format of a preview.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PreviewQuery {
    /// `rfc` (CSV, the default) or `json`.
    #[serde(default, deserialize_with = "lenient::text")]
    format: Option<String>,
}

/// A primary key to set.
#[derive(Deserialize, ToSchema)]
pub(crate) struct PrimaryKeyInput {
    #[serde(default, deserialize_with = "lenient::list")]
    columns: Option<Vec<String>>,
}

async fn create_table(
    State(state): State<AppState>,
    wants: Wants<WriteBucket>,
    Input(body): Input<NewTableInput>,
) -> ApiResult<Response> {
    let request = CreateRequest {
        name: body.name,
        data_file_id: body.data_file_id,
        layout: body.layout.layout()?,
        primary_key: body.primary_key.unwrap_or_default(),
    };
    let Allowed { grant, ctx } = wants.allowed()?;
    let job = tables::create(&ctx, grant, request).await?;
    Ok((StatusCode::ACCEPTED, Json(views::job(&state.core, &job))).into_response())
}

/// A column as a `tables-definition` or `columns` request gives it: `name`, `basetype`, and
/// `definition {type, length, nullable, default}` (JSON, or form fields with PHP brackets).
fn column_spec(value: &Value, at: &str) -> ApiResult<ColumnSpec> {
    let path = |field: &str| if at.is_empty() { field.to_string() } else { format!("{at}.{field}") };
    let text = |value: &Value, field: &str| -> ApiResult<Option<String>> {
        match value.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(Value::Number(number)) => Ok(Some(number.to_string())),
            Some(_) => {
                Err(ApiError::new(Code::TableValidation, format!("Parameter \"{}\" must be a string.", path(field))))
            }
        }
    };
    if !value.is_object() {
        return Err(ApiError::new(Code::TableValidation, format!("Parameter \"{at}\" must be an object with a name.")));
    }
    let name = text(value, "name")?
        .filter(|name| !name.is_empty())
        .ok_or_else(|| ApiError::new(Code::TableValidation, format!("Parameter \"{}\" is required.", path("name"))))?;
    let definition = value.get("definition").cloned().unwrap_or(Value::Null);
    let nullable = match definition.get("nullable") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(flag)) => Some(*flag),
        Some(other) => {
            Some(lenient::read_flag(other).map_err(|message| parameter_error("nullable", &message))?.unwrap_or(false))
        }
    };
    Ok(ColumnSpec {
        name,
        basetype: text(value, "basetype")?.filter(|b| !b.is_empty()),
        type_name: text(&definition, "type")?.filter(|t| !t.is_empty()),
        length: text(&definition, "length")?.filter(|l| !l.is_empty()),
        nullable,
        default: text(&definition, "default")?,
    })
}

async fn create_table_definition(
    State(state): State<AppState>,
    wants: Wants<WriteBucket>,
    Input(body): Input<DefinitionInput>,
) -> ApiResult<Response> {
    let columns = match &body.columns {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(columns)) => columns
            .iter()
            .enumerate()
            .map(|(i, c)| column_spec(c, &format!("columns[{i}]")))
            .collect::<ApiResult<_>>()?,
        Some(_) => {
            return Err(ApiError::new(Code::TableValidation, "Parameter \"columns\" must be a list of columns."))
        }
    };
    let request =
        DefinitionRequest { name: body.name, primary_key: body.primary_keys_names.unwrap_or_default(), columns };
    let Allowed { grant, ctx } = wants.allowed()?;
    let job = tables::create_definition(&ctx, grant, request).await?;
    Ok((StatusCode::ACCEPTED, Json(views::job(&state.core, &job))).into_response())
}

async fn add_column(
    State(state): State<AppState>,
    wants: Wants<WriteTable>,
    Input(ColumnBody(body)): Input<ColumnBody>,
) -> ApiResult<Response> {
    let spec = column_spec(&body, "")?;
    let Allowed { grant, ctx } = wants.allowed()?;
    let job = tables::add_column(&ctx, grant, spec).await?;
    Ok((StatusCode::ACCEPTED, Json(views::job(&state.core, &job))).into_response())
}

async fn list_bucket_tables(
    State(state): State<AppState>,
    wants: Wants<ReadBucket>,
    Params(query): Params<TableQuery>,
    Params(page): Params<Page>,
) -> ApiResult<Json<Vec<TableShow>>> {
    let shape = TableShape::from_include(&query.include, false);
    let Allowed { grant, ctx } = wants.allowed()?;
    let list = page.of(tables::list_in_bucket(&ctx, &grant).await?)?;
    Ok(Json(list.iter().map(|view| table_view(&state.core, view, shape)).collect()))
}

async fn list_tables(
    State(state): State<AppState>,
    caller: Caller,
    Params(query): Params<TableQuery>,
    Params(page): Params<Page>,
) -> ApiResult<Json<Vec<TableShow>>> {
    let shape = TableShape::from_include(&query.include, true);
    let grant = caller.token.authorize(AnyToken)?;
    let list = page.of(tables::list(&caller.ctx, &grant).await?)?;
    Ok(Json(list.iter().map(|view| table_view(&state.core, view, shape)).collect()))
}

async fn get_table(State(state): State<AppState>, wants: Wants<ReadTable>) -> ApiResult<Json<TableShow>> {
    let Allowed { grant, ctx } = wants.allowed()?;
    let view = tables::detail(&ctx, &grant).await?;
    Ok(Json(table_view(&state.core, &view, TableShape::DETAIL)))
}

async fn delete_table(
    State(state): State<AppState>,
    wants: Wants<WriteTable>,
    Params(query): Params<DeleteQuery>,
) -> ApiResult<Response> {
    let run_async = query.run_async.unwrap_or(false);
    let Allowed { grant, ctx } = wants.allowed()?;
    match tables::delete(&ctx, grant, run_async).await? {
        Some(job) => Ok((StatusCode::ACCEPTED, Json(views::job(&state.core, &job))).into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

async fn import_table(
    State(state): State<AppState>,
    wants: Wants<WriteTable>,
    Input(body): Input<ImportInput>,
) -> ApiResult<Response> {
    let request = ImportRequest {
        data_file_id: body.data_file_id,
        incremental: body.incremental.unwrap_or(false),
        layout: body.layout.layout()?,
    };
    let Allowed { grant, ctx } = wants.allowed()?;
    let job = tables::import(&ctx, grant, request).await?;
    Ok((StatusCode::ACCEPTED, Json(views::job(&state.core, &job))).into_response())
}

/// Reads `[{column, operator, values, dataType}]` (JSON, or `whereFilters[0][column]=` form keys).
fn where_filters(raw: Option<&Value>) -> ApiResult<Vec<WhereFilter>> {
    let invalid = || {
        ApiError::new(
            Code::Validation,
            "Parameter \"whereFilters\" must be a list of {column, operator, values[], dataType} objects.",
        )
    };
    let Some(raw) = raw else { return Ok(vec![]) };
    let Value::Array(items) = raw else { return Err(invalid()) };
    items
        .iter()
        .map(|item| {
            let text = |name: &str| item.get(name).and_then(Value::as_str).map(str::to_string);
            let column = text("column").ok_or_else(invalid)?;
            let values = match item.get("values") {
                Some(Value::Array(values)) => values
                    .iter()
                    .map(|v| match v {
                        Value::String(s) => Ok(s.clone()),
                        Value::Number(n) => Ok(n.to_string()),
                        _ => Err(invalid()),
                    })
                    .collect::<ApiResult<Vec<_>>>()?,
                Some(Value::String(value)) => vec![value.clone()],
                Some(Value::Number(value)) => vec![value.to_string()],
                _ => return Err(invalid()),
            };
            Ok(WhereFilter {
                column,
                operator: text("operator").unwrap_or_else(|| "eq".into()),
                values,
                data_type: text("dataType"),
            })
        })
        .collect()
}

fn order_by(raw: Option<&Value>) -> ApiResult<Vec<OrderBy>> {
    let invalid = || {
        ApiError::new(Code::Validation, "Parameter \"orderBy\" must be a list of {column, order, dataType} objects.")
    };
    let Some(raw) = raw else { return Ok(vec![]) };
    let Value::Array(items) = raw else { return Err(invalid()) };
    items
        .iter()
        .map(|item| {
            let text = |name: &str| item.get(name).and_then(Value::as_str).map(str::to_string);
            Ok(OrderBy {
                column: text("column").ok_or_else(invalid)?,
                order: text("order").unwrap_or_default(),
                data_type: text("dataType"),
            })
        })
        .collect()
}

fn selection(input: SelectionInput) -> ApiResult<Selection> {
    Ok(Selection {
        where_filters: where_filters(input.where_filters.as_ref())?,
        order_by: order_by(input.order_by.as_ref())?,
        columns: input.columns.unwrap_or_default().into_iter().filter(|c| !c.is_empty()).collect(),
        changed_since: input.changed_since,
        changed_until: input.changed_until,
        where_column: input.where_column,
        where_values: input.where_values.unwrap_or_default(),
        where_operator: input.where_operator,
        limit: input.limit,
    })
}

fn check_format(format: Option<String>, allowed: &[&str]) -> ApiResult<String> {
    let format = format.filter(|f| !f.is_empty()).unwrap_or_else(|| "rfc".into());
    if !allowed.contains(&format.as_str()) {
        return Err(ApiError::new(
            Code::Validation,
            format!("Parameter \"format\" must be one of {}, \"{format}\" given.", allowed.join(", ")),
        ));
    }
    Ok(format)
}

async fn export_table(
    State(state): State<AppState>,
    wants: Wants<ReadTable>,
    Input(body): Input<ExportInput>,
) -> ApiResult<Response> {
    check_format(body.format, &["rfc", "raw", "escaped"])?;
    if let Some(file_type) = body.file_type.filter(|t| !t.is_empty() && t != "csv") {
        return Err(ApiError::new(
            Code::Validation,
            format!("Parameter \"fileType\" must be csv, \"{file_type}\" given."),
        ));
    }
    let gzip = body.gzip.unwrap_or(false);
    let selection = selection(body.selection)?;
    let Allowed { grant, ctx } = wants.allowed()?;
    let job = tables::export(&ctx, grant, selection, gzip).await?;
    Ok((StatusCode::ACCEPTED, Json(views::job(&state.core, &job))).into_response())
}

async fn preview_table(
    wants: Wants<ReadTable>,
    Params(query): Params<PreviewQuery>,
    Params(rows): Params<SelectionInput>,
) -> ApiResult<Response> {
    let format = check_format(query.format, &["rfc", "json"])?;
    let selection = selection(rows)?;
    let Allowed { grant, ctx } = wants.allowed()?;
    let (columns, rows) = tables::preview(&ctx, &grant, selection).await?;
    if format == "json" {
        const TRUNCATE_AT: usize = 16_384;
        let rows = rows
            .iter()
            .map(|row| {
                columns
                    .iter()
                    .zip(row)
                    .map(|(column, value)| {
                        let is_truncated = value.chars().count() > TRUNCATE_AT;
                        let value =
                            if is_truncated { value.chars().take(TRUNCATE_AT).collect() } else { value.clone() };
                        PreviewValue { column_name: column.clone(), value, is_truncated }
                    })
                    .collect()
            })
            .collect();
        return Ok(Json(Preview { columns, rows }).into_response());
    }
    let mut out = Vec::new();
    let header: Vec<&str> = columns.iter().map(String::as_str).collect();
    write_row(&mut out, &header).map_err(|error| ApiError(stowage_types::Error::internal(error)))?;
    for row in &rows {
        let values: Vec<&str> = row.iter().map(String::as_str).collect();
        write_row(&mut out, &values).map_err(|error| ApiError(stowage_types::Error::internal(error)))?;
    }
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], out).into_response())
}

async fn add_primary_key(
    State(state): State<AppState>,
    wants: Wants<WriteTable>,
    Input(body): Input<PrimaryKeyInput>,
) -> ApiResult<Response> {
    let columns = body.columns.unwrap_or_default();
    let Allowed { grant, ctx } = wants.allowed()?;
    let job = tables::change_primary_key(&ctx, grant, Some(columns)).await?;
    Ok((StatusCode::ACCEPTED, Json(views::job(&state.core, &job))).into_response())
}

async fn remove_primary_key(State(state): State<AppState>, wants: Wants<WriteTable>) -> ApiResult<Response> {
    let Allowed { grant, ctx } = wants.allowed()?;
    let job = tables::change_primary_key(&ctx, grant, None).await?;
    Ok((StatusCode::ACCEPTED, Json(views::job(&state.core, &job))).into_response())
}

async fn list_table_events(
    State(state): State<AppState>,
    wants: Wants<ReadTable>,
    Params(query): Params<EventQuery>,
    Params(page): Params<Page>,
) -> ApiResult<Json<Vec<EventView>>> {
    let Allowed { grant, ctx } = wants.allowed()?;
    let list = events::list_table(&ctx, &grant, query.params(&page)).await?;
    Ok(Json(list.iter().map(|event| views::event(&state.core, event)).collect()))
}
