//! `tables/...` and `buckets/{id}/tables...`: create, list, detail, delete, import, export,
//! preview, primary key, events.

use axum::extract::{Path, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use stowage_core::tables::csv::{write_row, CsvFormat};
use stowage_core::tables::typed::{ColumnSpec, DefinitionRequest};
use stowage_core::tables::{self, CreateRequest, ImportRequest, Layout, OrderBy, Selection, TableView, WhereFilter};
use stowage_core::{buckets, events, Core};
use stowage_types::auth::{AnyToken, ReadBucket, WriteBucket};
use stowage_types::time::format;
use stowage_types::Code;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::input::{Body, Fields, Query};
use crate::routes::events::list_params;
use crate::views::{self, BucketShape};
use crate::{AppState, Table};

pub(crate) fn register(t: Table) -> Table {
    t.add(Method::POST, "/v2/storage/buckets/{id}/tables-async", create_table)
        .add(Method::POST, "/v2/storage/buckets/{id}/tables-definition", create_table_definition)
        .add(Method::POST, "/v2/storage/tables/{id}/columns", add_column)
        .add(Method::GET, "/v2/storage/buckets/{id}/tables", list_bucket_tables)
        .add(Method::GET, "/v2/storage/tables", list_tables)
        .add(Method::GET, "/v2/storage/tables/{id}", get_table)
        .add(Method::DELETE, "/v2/storage/tables/{id}", delete_table)
        .add(Method::POST, "/v2/storage/tables/{id}/import-async", import_table)
        .add(Method::POST, "/v2/storage/tables/{id}/export-async", export_table)
        .add(Method::GET, "/v2/storage/tables/{id}/data-preview", preview_table)
        .add(Method::POST, "/v2/storage/tables/{id}/primary-key", add_primary_key)
        .add(Method::DELETE, "/v2/storage/tables/{id}/primary-key", remove_primary_key)
        .add(Method::GET, "/v2/storage/tables/{id}/events", list_table_events)
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

fn table_view(core: &Core, view: &TableView, shape: TableShape) -> Value {
    let table = &view.table;
    let mut out = json!({
        "uri": format!("{}/tables/{}", core.storage_url(), table.id),
        "id": table.id,
        "name": table.name,
        "displayName": table.display_name,
        "transactional": false,
        "primaryKey": table.primary_key,
        "indexType": null,
        "indexKey": [],
        "distributionType": null,
        "distributionKey": [],
        "syntheticPrimaryKeyEnabled": false,
        "created": format(table.created),
        "lastImportDate": table.last_import.map(format),
        "lastChangeDate": table.last_change.map(format),
        "rowsCount": table.rows_count,
        "dataSizeBytes": table.data_size_bytes,
        "isAlias": false,
        "isAliasable": true,
        "isTyped": table.definition.is_some(),
        "tableType": "table",
        "timestampType": "MANAGED",
        "path": format!("/{}", table.id),
        "attributes": [],
    });
    if shape.columns {
        out["columns"] = json!(table.columns);
    }
    if let Some(definition) = &table.definition {
        let columns: Vec<Value> = definition
            .iter()
            .map(|column| {
                let mut native = json!({ "type": column.basetype.native(), "nullable": column.nullable });
                if let Some(length) = &column.length {
                    native["length"] = json!(length);
                }
                if let Some(default) = &column.default {
                    native["default"] = json!(default);
                }
                json!({ "name": column.name, "definition": native, "basetype": column.basetype.name(), "canBeFiltered": true })
            })
            .collect();
        out["definition"] = json!({ "primaryKeysNames": table.primary_key, "columns": columns });
    }
    if shape.metadata {
        out["metadata"] = Value::Array(view.metadata.iter().map(views::metadata_entry).collect());
    }
    if shape.column_metadata {
        // PHP serialises an empty map as `[]`.
        out["columnMetadata"] = if view.column_metadata.is_empty() {
            json!([])
        } else {
            Value::Object(
                view.column_metadata
                    .iter()
                    .map(|(column, entries)| {
                        (column.clone(), Value::Array(entries.iter().map(views::metadata_entry).collect()))
                    })
                    .collect::<Map<_, _>>(),
            )
        };
    }
    if shape.bucket {
        out["bucket"] = views::bucket(core, &view.bucket, None, BucketShape { detail: false, attributes: false });
    }
    out
}

fn table_id_grant<P>(
    caller: &Caller,
    id: &str,
    make: impl FnOnce(stowage_types::names::BucketId) -> P,
) -> ApiResult<stowage_types::auth::Granted<P>>
where
    P: stowage_types::auth::Permission,
{
    let (bucket, _) = tables::parse_id(caller.token.project_id, id)?;
    Ok(caller.token.authorize(make(bucket))?)
}

fn layout(body: &Fields) -> ApiResult<Layout> {
    let format = CsvFormat::parse(
        body.string("delimiter")?.as_deref(),
        body.string("enclosure")?.as_deref(),
        body.string("escapedBy")?.as_deref(),
    )?;
    Ok(Layout {
        format,
        without_headers: body.bool("withoutHeaders")?.unwrap_or(false),
        columns: body.list("columns")?,
    })
}

async fn create_table(
    State(state): State<AppState>,
    caller: Caller,
    Path(bucket_id): Path<String>,
    Body(body): Body,
) -> ApiResult<Response> {
    let request = CreateRequest {
        name: body.string("name")?,
        data_file_id: body.int("dataFileId")?,
        layout: layout(&body)?,
        primary_key: body.list("primaryKey")?.unwrap_or_default(),
    };
    let grant = caller.token.authorize(WriteBucket(buckets::parse_id(caller.token.project_id, &bucket_id)?))?;
    let job = tables::create(&caller.ctx, grant, request).await?;
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
        Some(other) => Some(Fields(json!({ "nullable": other })).bool("nullable")?.unwrap_or(false)),
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
    caller: Caller,
    Path(bucket_id): Path<String>,
    Body(body): Body,
) -> ApiResult<Response> {
    let columns = match body.raw("columns") {
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
    let request = DefinitionRequest {
        name: body.string("name")?,
        primary_key: body.list("primaryKeysNames")?.unwrap_or_default(),
        columns,
    };
    let grant = caller.token.authorize(WriteBucket(buckets::parse_id(caller.token.project_id, &bucket_id)?))?;
    let job = tables::typed::create_definition(&caller.ctx, grant, request).await?;
    Ok((StatusCode::ACCEPTED, Json(views::job(&state.core, &job))).into_response())
}

async fn add_column(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Response> {
    let spec = column_spec(&body.0, "")?;
    let grant = table_id_grant(&caller, &id, WriteBucket)?;
    let job = tables::typed::add_column(&caller.ctx, grant, id, spec).await?;
    Ok((StatusCode::ACCEPTED, Json(views::job(&state.core, &job))).into_response())
}

async fn list_bucket_tables(
    State(state): State<AppState>,
    caller: Caller,
    Path(bucket_id): Path<String>,
    Query(query): Query,
) -> ApiResult<Json<Value>> {
    let shape = TableShape::from_include(&query.list("include")?, false);
    let grant = caller.token.authorize(ReadBucket(buckets::parse_id(caller.token.project_id, &bucket_id)?))?;
    let list = query.page_of(tables::list_in_bucket(&caller.ctx, &grant).await?)?;
    Ok(Json(Value::Array(list.iter().map(|view| table_view(&state.core, view, shape)).collect())))
}

async fn list_tables(State(state): State<AppState>, caller: Caller, Query(query): Query) -> ApiResult<Json<Value>> {
    let shape = TableShape::from_include(&query.list("include")?, true);
    let grant = caller.token.authorize(AnyToken)?;
    let list = query.page_of(tables::list(&caller.ctx, &grant).await?)?;
    Ok(Json(Value::Array(list.iter().map(|view| table_view(&state.core, view, shape)).collect())))
}

async fn get_table(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let grant = table_id_grant(&caller, &id, ReadBucket)?;
    let view = tables::detail(&caller.ctx, &grant, &id).await?;
    Ok(Json(table_view(&state.core, &view, TableShape::DETAIL)))
}

async fn delete_table(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query,
) -> ApiResult<Response> {
    let run_async = query.bool("async")?.unwrap_or(false);
    let grant = table_id_grant(&caller, &id, WriteBucket)?;
    match tables::delete(&caller.ctx, grant, id, run_async).await? {
        Some(job) => Ok((StatusCode::ACCEPTED, Json(views::job(&state.core, &job))).into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

async fn import_table(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Response> {
    let request = ImportRequest {
        data_file_id: body.int("dataFileId")?,
        incremental: body.bool("incremental")?.unwrap_or(false),
        layout: layout(&body)?,
    };
    let grant = table_id_grant(&caller, &id, WriteBucket)?;
    let job = tables::import(&caller.ctx, grant, id, request).await?;
    Ok((StatusCode::ACCEPTED, Json(views::job(&state.core, &job))).into_response())
}

/// Reads `[{column, operator, values, dataType}]` (JSON, or `whereFilters[0][column]=` form keys).
fn where_filters(fields: &Fields) -> ApiResult<Vec<WhereFilter>> {
    let invalid = || {
        ApiError::new(
            Code::Validation,
            "Parameter \"whereFilters\" must be a list of {column, operator, values[], dataType} objects.",
        )
    };
    let Some(raw) = fields.raw("whereFilters") else { return Ok(vec![]) };
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

fn order_by(fields: &Fields) -> ApiResult<Vec<OrderBy>> {
    let invalid = || {
        ApiError::new(Code::Validation, "Parameter \"orderBy\" must be a list of {column, order, dataType} objects.")
    };
    let Some(raw) = fields.raw("orderBy") else { return Ok(vec![]) };
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

fn selection(fields: &Fields) -> ApiResult<Selection> {
    Ok(Selection {
        columns: fields.list("columns")?.unwrap_or_default().into_iter().filter(|c| !c.is_empty()).collect(),
        changed_since: fields.string("changedSince")?,
        changed_until: fields.string("changedUntil")?,
        where_column: fields.string("whereColumn")?,
        where_values: fields.list("whereValues")?.unwrap_or_default(),
        where_operator: fields.string("whereOperator")?,
        where_filters: where_filters(fields)?,
        order_by: order_by(fields)?,
        limit: fields.int("limit")?,
    })
}

fn check_format(fields: &Fields, allowed: &[&str]) -> ApiResult<String> {
    let format = fields.string("format")?.filter(|f| !f.is_empty()).unwrap_or_else(|| "rfc".into());
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
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Response> {
    check_format(&body, &["rfc", "raw", "escaped"])?;
    if let Some(file_type) = body.string("fileType")?.filter(|t| !t.is_empty() && t != "csv") {
        return Err(ApiError::new(
            Code::Validation,
            format!("Parameter \"fileType\" must be csv, \"{file_type}\" given."),
        ));
    }
    let gzip = body.bool("gzip")?.unwrap_or(false);
    let selection = selection(&body)?;
    let grant = table_id_grant(&caller, &id, ReadBucket)?;
    let job = tables::export(&caller.ctx, grant, id, selection, gzip).await?;
    Ok((StatusCode::ACCEPTED, Json(views::job(&state.core, &job))).into_response())
}

async fn preview_table(caller: Caller, Path(id): Path<String>, Query(query): Query) -> ApiResult<Response> {
    let format = check_format(&query, &["rfc", "json"])?;
    let selection = selection(&query)?;
    let grant = table_id_grant(&caller, &id, ReadBucket)?;
    let (columns, rows) = tables::preview(&caller.ctx, &grant, &id, selection).await?;
    if format == "json" {
        const TRUNCATE_AT: usize = 16_384;
        let rows: Vec<Value> = rows
            .iter()
            .map(|row| {
                Value::Array(
                    columns
                        .iter()
                        .zip(row)
                        .map(|(column, value)| {
                            let truncated = value.chars().count() > TRUNCATE_AT;
                            let shown: String =
                                if truncated { value.chars().take(TRUNCATE_AT).collect() } else { value.clone() };
                            json!({ "columnName": column, "value": shown, "isTruncated": truncated })
                        })
                        .collect(),
                )
            })
            .collect();
        return Ok(Json(json!({ "columns": columns, "rows": rows })).into_response());
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
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Response> {
    let columns = body.list("columns")?.unwrap_or_default();
    let grant = table_id_grant(&caller, &id, WriteBucket)?;
    let job = tables::change_primary_key(&caller.ctx, grant, id, Some(columns)).await?;
    Ok((StatusCode::ACCEPTED, Json(views::job(&state.core, &job))).into_response())
}

async fn remove_primary_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let grant = table_id_grant(&caller, &id, WriteBucket)?;
    let job = tables::change_primary_key(&caller.ctx, grant, id, None).await?;
    Ok((StatusCode::ACCEPTED, Json(views::job(&state.core, &job))).into_response())
}

async fn list_table_events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query,
) -> ApiResult<Json<Value>> {
    let grant = table_id_grant(&caller, &id, ReadBucket)?;
    let list = events::list_table(&caller.ctx, &grant, id, list_params(&query)?).await?;
    Ok(Json(Value::Array(list.iter().map(|event| views::event(&state.core, event)).collect())))
}
