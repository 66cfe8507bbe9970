//! The Storage Extractor (`keboola.ex-storage`): reads one table from the single bucket a
//! read-only token can read, in another project, into this project. The table lands in the bucket
//! `in.c-keboola-ex-storage-<configId>` unless the row's output mapping names another table id.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Map, Value};
use stowage_types::auth::{CreateBuckets, WriteBucket, WriteTable};
use stowage_types::names::BucketId;
use stowage_types::Result;

use super::{authorize, bool_param, endpoint, parameters, scalar_param, user_error, Target};
use crate::queue::RowRun;
use crate::tables::{self, CreateRequest, ImportRequest, Layout};
use crate::{buckets, files, jobs, metadata};
use stowage_client::outbound::Policy;
use stowage_client::remote::Remote;

/// The extractor's `parameters` keys.
const ALLOWED: &[&str] =
    &["#token", "url", "tableName", "changedSince", "extractMetadata", "fullSync", "primaryKey", "incremental"];

const WRONG: (&str, &str) = (
    "The token must have read-only permissions to a single bucket only.",
    "The token must have read-only permissions to the bucket",
);

fn remote(config: &Value, policy: &Arc<Policy>) -> Result<(Remote, Map<String, Value>)> {
    let parameters = parameters(config, ALLOWED)?;
    let (url, token) = endpoint(
        parameters,
        "The child config \"#token\" under \"root.parameters\" must be configured.",
        "The child config \"url\" under \"root.parameters\" must be configured.",
    )?;
    Ok((Remote::guarded(&url, &token, policy)?, parameters.clone()))
}

async fn authorized(config: &Value, policy: &Arc<Policy>) -> Result<(Remote, Map<String, Value>, Target)> {
    let (remote, parameters) = remote(config, policy)?;
    let target = authorize(&remote, "read", WRONG).await?;
    Ok((remote, parameters, target))
}

async fn table_list(remote: &Remote, target: &Target) -> Result<Value> {
    let tables = remote.bucket_tables(&target.bucket).await?;
    Ok(Value::Array(
        tables
            .as_array()
            .map(|list| list.iter().map(|t| json!({ "name": t["name"], "primaryKey": t["primaryKey"] })).collect())
            .unwrap_or_default(),
    ))
}

fn project(target: &Target) -> Value {
    json!({ "projectId": target.project_id, "projectName": target.project_name, "bucket": target.bucket })
}

/// Sync action `list`: the tables of the source bucket.
pub async fn list(config: &Value, policy: &Arc<Policy>) -> Result<Value> {
    let (remote, _, target) = authorized(config, policy).await?;
    Ok(json!({ "tables": table_list(&remote, &target).await? }))
}

/// Sync action `info`: the source project and bucket.
pub async fn info(config: &Value, policy: &Arc<Policy>) -> Result<Value> {
    let (_, _, target) = authorized(config, policy).await?;
    Ok(project(&target))
}

/// Sync action `sourceInfo`: `list` and `info` together.
pub async fn source_info(config: &Value, policy: &Arc<Policy>) -> Result<Value> {
    let (remote, _, target) = authorized(config, policy).await?;
    Ok(json!({ "tables": table_list(&remote, &target).await?, "project": project(&target) }))
}

fn strings(value: &Value) -> Vec<String> {
    value.as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()).unwrap_or_default()
}

/// Runs one row: the source table is exported there and imported here.
pub async fn run_row(run: &RowRun<'_>) -> Result<Value> {
    let (remote, parameters, target) = authorized(&run.config, &run.ctx.core.stack.outbound).await?;
    let table_name = scalar_param(&parameters, "tableName").unwrap_or(None).unwrap_or_default();
    if table_name.is_empty() {
        return Err(user_error("The tableName parameter must be provided."));
    }
    let full_sync = bool_param(&parameters, "fullSync")?.unwrap_or(false);
    let incremental = bool_param(&parameters, "incremental")?.unwrap_or(false);
    let extract_metadata = bool_param(&parameters, "extractMetadata")?.unwrap_or(false);
    let requested_key = match parameters.get("primaryKey") {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(items)) => crate::tables::primary_key(
            "primaryKey",
            items.iter().map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).collect(),
        )
        .map_err(|error| user_error(error.message))?,
        Some(_) => return Err(user_error("Invalid type for path \"root.parameters.primaryKey\". Expected \"array\".")),
    };
    let changed_since = match parameters.get("changedSince") {
        Some(Value::String(text)) if !text.is_empty() && text != "0" => Some(text.clone()),
        Some(Value::Number(number)) if number.as_i64() != Some(0) => Some(number.to_string()),
        _ => None,
    };
    run.log(format!("Processing table \"{table_name}\".")).await?;

    let source_id = format!("{}.{table_name}", target.bucket);
    let source = remote.table(&source_id).await?.ok_or_else(|| {
        user_error(format!("The table \"{table_name}\" was not found in the bucket \"{}\"", target.bucket))
    })?;
    let columns = strings(&source["columns"]);
    let (primary_key, incremental) =
        if full_sync { (strings(&source["primaryKey"]), false) } else { (requested_key, incremental) };

    let file_id = remote.export(&source_id, &columns, changed_since.as_deref(), true).await?;
    let download = remote.download(file_id).await?;
    let local = files::create_for(
        &run.ctx.core,
        run.token,
        format!("{table_name}.csv.gz"),
        vec!["ex-storage".into()],
        run.ctx.run_id.clone(),
    )
    .await?;
    let size = run.ctx.core.blobs.put_stream(&local.blob_key, download).await.map_err(|error| match error {
        crate::blobs::PutError::Source(error) | crate::blobs::PutError::Store(error) => error,
    })?;
    let local = files::finish_upload(&run.ctx.core, &local, size).await?;

    let destination = run.config["storage"]["output"]["tables"][0]["destination"].as_str().filter(|d| !d.is_empty());
    let (bucket_id, name) = match destination {
        Some(id) => {
            let id = tables::parse_id(run.token.project_id, id)
                .map_err(|_| user_error(format!("Invalid destination table \"{id}\".")))?;
            (id.bucket().clone(), id.name().to_string())
        }
        None => {
            let bucket = BucketId::parse(&format!("in.c-keboola-ex-storage-{}", run.config_id))
                .ok_or_else(|| user_error("The configuration id cannot name a bucket."))?;
            (bucket, table_name.clone())
        }
    };
    let table_id = format!("{bucket_id}.{name}");
    let bucket_exists = {
        let (project_id, id) = (run.token.project_id, bucket_id.to_string());
        run.ctx.core.store.read(move |r| r.bucket(project_id, &id)).await?.is_some()
    };
    if !bucket_exists {
        let grant = run.token.authorize(CreateBuckets)?;
        let stage = bucket_id.stage().as_str().to_string();
        let bare = bucket_id.name().trim_start_matches("c-").to_string();
        let new = buckets::NewBucket { name: Some(bare), stage: Some(stage), ..buckets::NewBucket::default() };
        buckets::create(run.ctx, &grant, new).await?;
    }
    let layout = Layout { without_headers: true, columns: Some(columns.clone()), ..Layout::default() };
    let existing = {
        let (project_id, id) = (run.token.project_id, table_id.clone());
        run.ctx.core.store.read(move |r| r.table(project_id, &id)).await?
    };
    let job = match existing {
        None => {
            let grant = run.token.authorize(WriteBucket(bucket_id.clone()))?;
            let request = CreateRequest {
                name: Some(name.clone()),
                data_file_id: Some(local.id),
                layout,
                primary_key: primary_key.clone(),
            };
            tables::create(run.ctx, grant, request).await?
        }
        Some(existing) => {
            if !primary_key.is_empty() && existing.primary_key != primary_key {
                return Err(user_error(format!(
                    "The primary key of the table \"{table_id}\" is {}, the row asks for {}.",
                    serde_json::to_string(&existing.primary_key).unwrap_or_default(),
                    serde_json::to_string(&primary_key).unwrap_or_default()
                )));
            }
            let grant = run.token.authorize(WriteTable(tables::parse_id(run.token.project_id, &table_id)?))?;
            tables::import(run.ctx, grant, ImportRequest { data_file_id: Some(local.id), incremental, layout }).await?
        }
    };
    let job = jobs::wait(&run.ctx.core, job).await?;
    if let Some(error) = &job.error {
        return Err(user_error(error["message"].as_str().unwrap_or("The import failed.")));
    }

    if extract_metadata {
        let key_values = |list: Value| -> Vec<(String, String)> {
            list.as_array()
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|item| {
                            Some((item["key"].as_str()?.to_string(), item["value"].as_str().unwrap_or("").to_string()))
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let table_metadata = key_values(remote.metadata(&format!("tables/{source_id}")).await?);
        let mut column_metadata = BTreeMap::new();
        for column in &columns {
            let entries = key_values(remote.metadata(&format!("columns/{source_id}.{column}")).await?);
            if !entries.is_empty() {
                column_metadata.insert(column.clone(), entries);
            }
        }
        if !table_metadata.is_empty() || !column_metadata.is_empty() {
            let grant = run.token.authorize(WriteTable(tables::parse_id(run.token.project_id, &table_id)?))?;
            metadata::upsert(run.ctx, &grant, "keboola.ex-storage".into(), table_metadata, column_metadata).await?;
        }
    }
    let moved = super::moved(&job.results, &job.metrics);
    run.log(format!("Table \"{table_name}\" processed{moved}.")).await?;
    Ok(Value::Null)
}
