//! Metadata of buckets, tables and columns: `{buckets,tables,columns}/{id}/metadata[/{entry}]`.

use std::collections::BTreeMap;

use axum::extract::Path;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use stowage_core::metadata;
use stowage_core::records::MetadataEntry;
use stowage_types::auth::{ReadBucket, ReadColumn, ReadTable, WriteBucket, WriteColumn, WriteTable};
use stowage_types::Code;
use utoipa::ToSchema;

use crate::auth::{split_column, Allowed, Wants};
use crate::error::{ApiError, ApiResult};
use crate::input::{lenient, Input, Page, Params};
use crate::openapi::Op;
use crate::routes::numeric_id;
use crate::views::{ColumnMetadata, MetadataView};
use crate::{views, Table};

/// A table's metadata and its columns' metadata, after a change.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TableMetadata {
    metadata: Vec<MetadataView>,
    /// Column name to its entries.
    columns_metadata: ColumnMetadata,
}

pub(crate) fn register(t: Table) -> Table {
    let list = |summary| Op::list::<MetadataView>(summary);
    let set = |summary| Op::created_list::<MetadataView>(summary);
    t.add(Method::GET, "/v2/storage/buckets/{id}/metadata", list_bucket_metadata, list("A bucket's metadata"))
        .add(Method::POST, "/v2/storage/buckets/{id}/metadata", create_bucket_metadata, set("Set bucket metadata"))
        .add(
            Method::DELETE,
            "/v2/storage/buckets/{id}/metadata/{entry}",
            delete_bucket_metadata,
            Op::empty("Delete a bucket metadata entry"),
        )
        .add(Method::GET, "/v2/storage/tables/{id}/metadata", list_table_metadata, list("A table's metadata"))
        .add(
            Method::POST,
            "/v2/storage/tables/{id}/metadata",
            create_table_metadata,
            Op::created::<TableMetadata>("Set table and column metadata"),
        )
        .add(
            Method::DELETE,
            "/v2/storage/tables/{id}/metadata/{entry}",
            delete_table_metadata,
            Op::empty("Delete a table metadata entry"),
        )
        .add(Method::GET, "/v2/storage/columns/{id}/metadata", list_column_metadata, list("A column's metadata"))
        .add(Method::POST, "/v2/storage/columns/{id}/metadata", create_column_metadata, set("Set column metadata"))
        .add(
            Method::DELETE,
            "/v2/storage/columns/{id}/metadata/{entry}",
            delete_column_metadata,
            Op::empty("Delete a column metadata entry"),
        )
}

fn invalid(what: &str) -> ApiError {
    ApiError::new(
        Code::MetadataValidation,
        format!("Invalid data - {what}: expected a list of {{key, value}} objects."),
    )
}

/// One `{key, value}` item; numbers and booleans count as text.
fn entry(item: &Value, what: &str) -> ApiResult<(String, String)> {
    let key = item.get("key").and_then(Value::as_str).ok_or_else(|| invalid(what))?;
    let value = match item.get("value") {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(number)) => number.to_string(),
        Some(Value::Bool(flag)) => flag.to_string(),
        _ => return Err(invalid(what)),
    };
    Ok((key.to_string(), value))
}

/// Reads `metadata: [{key, value}, ...]`; `None` when absent.
/// One metadata entry to set.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct EntryInput {
    key: String,
    /// Text; numbers and booleans are kept in their text form.
    value: String,
}

/// Metadata to set, by `provider` and key.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MetadataInput {
    #[serde(default, deserialize_with = "lenient::text")]
    provider: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<EntryInput>>)]
    metadata: Option<Value>,
    /// Only for a table: column name to its entries (or a list of lists with `columnName` in each item).
    #[serde(default)]
    #[schema(value_type = Option<BTreeMap<String, Vec<EntryInput>>>)]
    columns_metadata: Option<Value>,
}

impl MetadataInput {
    /// The `metadata` entries, as (key, value).
    pub(crate) fn entries(&self) -> ApiResult<Option<Vec<(String, String)>>> {
        entries(self.metadata.as_ref())
    }
}

fn entries(metadata: Option<&Value>) -> ApiResult<Option<Vec<(String, String)>>> {
    match metadata {
        None => Ok(None),
        Some(Value::Array(items)) => {
            items.iter().map(|item| entry(item, "metadata")).collect::<ApiResult<_>>().map(Some)
        }
        Some(_) => Err(invalid("metadata")),
    }
}

/// Reads `columnsMetadata` in each shape clients send: a list of lists (columns named inside the
/// items), an object keyed by index (the same), or an object keyed by column name.
fn columns_metadata(given: Option<&Value>) -> ApiResult<BTreeMap<String, Vec<(String, String)>>> {
    let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut add = |key: Option<&str>, items: &Value| -> ApiResult<()> {
        let Value::Array(items) = items else { return Err(invalid("columnsMetadata")) };
        for item in items {
            let named = item.get("columnName").and_then(Value::as_str);
            let column = named.or(key.filter(|k| k.parse::<usize>().is_err())).ok_or_else(|| {
                ApiError::new(
                    Code::MetadataValidation,
                    "Invalid data - columnsMetadata: every item needs a columnName.",
                )
            })?;
            out.entry(column.to_string()).or_default().push(entry(item, "columnsMetadata")?);
        }
        Ok(())
    };
    match given {
        None => {}
        Some(Value::Array(lists)) => {
            for list in lists {
                add(None, list)?;
            }
        }
        Some(Value::Object(map)) => {
            for (key, list) in map {
                add(Some(key), list)?;
            }
        }
        Some(_) => return Err(invalid("columnsMetadata")),
    }
    Ok(out)
}

fn list_json(entries: &[MetadataEntry]) -> Vec<MetadataView> {
    entries.iter().map(views::metadata_entry).collect()
}

async fn list_bucket_metadata(
    wants: Wants<ReadBucket>,
    Params(page): Params<Page>,
) -> ApiResult<Json<Vec<MetadataView>>> {
    let Allowed { grant, ctx } = wants.allowed()?;
    Ok(Json(list_json(&page.of(metadata::list(&ctx, &grant).await?)?)))
}

async fn create_bucket_metadata(wants: Wants<WriteBucket>, Input(body): Input<MetadataInput>) -> ApiResult<Response> {
    let entries = body.entries()?.unwrap_or_default();
    let provider = body.provider.unwrap_or_default();
    let Allowed { grant, ctx } = wants.allowed()?;
    let (all, _) = metadata::upsert(&ctx, &grant, provider, entries, BTreeMap::new()).await?;
    Ok((StatusCode::CREATED, Json(list_json(&all))).into_response())
}

async fn delete_bucket_metadata(
    wants: Wants<WriteBucket>,
    Path((_, entry)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let entry = numeric_id(&entry)?;
    let Allowed { grant, ctx } = wants.allowed()?;
    metadata::delete(&ctx, &grant, entry).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_table_metadata(
    wants: Wants<ReadTable>,
    Params(page): Params<Page>,
) -> ApiResult<Json<Vec<MetadataView>>> {
    let Allowed { grant, ctx } = wants.allowed()?;
    Ok(Json(list_json(&page.of(metadata::list(&ctx, &grant).await?)?)))
}

async fn create_table_metadata(wants: Wants<WriteTable>, Input(body): Input<MetadataInput>) -> ApiResult<Response> {
    let entries = body.entries()?.unwrap_or_default();
    let columns = columns_metadata(body.columns_metadata.as_ref())?;
    let provider = body.provider.unwrap_or_default();
    let Allowed { grant, ctx } = wants.allowed()?;
    let (all, by_column) = metadata::upsert(&ctx, &grant, provider, entries, columns).await?;
    let body = TableMetadata {
        metadata: list_json(&all),
        columns_metadata: ColumnMetadata(
            by_column.iter().map(|(column, list)| (column.clone(), list_json(list))).collect(),
        ),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn delete_table_metadata(
    wants: Wants<WriteTable>,
    Path((_, entry)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let entry = numeric_id(&entry)?;
    let Allowed { grant, ctx } = wants.allowed()?;
    metadata::delete(&ctx, &grant, entry).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_column_metadata(
    wants: Wants<ReadColumn>,
    Params(page): Params<Page>,
) -> ApiResult<Json<Vec<MetadataView>>> {
    let Allowed { grant, ctx } = wants.allowed()?;
    Ok(Json(list_json(&page.of(metadata::list(&ctx, &grant).await?)?)))
}

async fn create_column_metadata(wants: Wants<WriteColumn>, Input(body): Input<MetadataInput>) -> ApiResult<Response> {
    // A column id without a dot names no column, whatever the body holds.
    split_column(wants.project_id(), wants.id())?;
    let entries = body.entries()?.unwrap_or_default();
    let provider = body.provider.unwrap_or_default();
    let Allowed { grant, ctx } = wants.allowed()?;
    let (all, _) = metadata::upsert(&ctx, &grant, provider, entries, BTreeMap::new()).await?;
    Ok((StatusCode::CREATED, Json(list_json(&all))).into_response())
}

async fn delete_column_metadata(
    wants: Wants<WriteColumn>,
    Path((_, entry)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let entry = numeric_id(&entry)?;
    let Allowed { grant, ctx } = wants.allowed()?;
    metadata::delete(&ctx, &grant, entry).await?;
    Ok(StatusCode::NO_CONTENT)
}
