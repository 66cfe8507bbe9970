//! The `tableCreate` job: a table built from a file.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use stowage_store::table_data::Schema;
use stowage_types::auth::{Granted, WriteBucket};
use stowage_types::job::Job;
use stowage_types::names::BucketId;
use stowage_types::{time, Code, Error, Result};

use super::{csv, mirror, open_rows, primary_key, remove_storage, source_file, validate_table_name, Layout};
use crate::events::{record, Happened};
use crate::jobs::{self, Claim, JobDone, Kind};
use crate::records::TableRecord;
use crate::{files, Ctx};

/// The id a new table `name` in `bucket_id` gets, when the bucket exists and has no such table.
pub(super) async fn new_table_id(ctx: &Ctx, project_id: i64, bucket_id: &str, name: &str) -> Result<String> {
    let table_id = format!("{bucket_id}.{name}");
    let exists = {
        let (bucket_id, table_id) = (bucket_id.to_string(), table_id.clone());
        ctx.core.store.read(move |r| Ok((r.bucket(project_id, &bucket_id)?, r.table(project_id, &table_id)?))).await?
    };
    match exists {
        (None, _) => Err(crate::buckets::not_found(project_id, bucket_id)),
        (_, Some(_)) => Err(Error::new(
            Code::TableAlreadyExists,
            format!("The table \"{name}\" already exists in the bucket \"{bucket_id}\"."),
        )),
        _ => Ok(table_id),
    }
}

/// A table create request.
#[derive(Debug, Default)]
pub struct CreateRequest {
    pub name: Option<String>,
    pub data_file_id: Option<i64>,
    pub layout: Layout,
    pub primary_key: Vec<String>,
}

/// Creates a table from a file, as a job (`tableCreate`).
pub async fn create(ctx: &Ctx, grant: Granted<WriteBucket>, request: CreateRequest) -> Result<Job> {
    let name = request.name.unwrap_or_default();
    validate_table_name(&name)?;
    let primary_key = primary_key("primaryKey", request.primary_key)?;
    let bucket_id = grant.scope().0.clone();
    new_table_id(ctx, grant.project_id(), bucket_id.as_str(), &name).await?;
    let file = source_file(ctx, grant.token(), request.data_file_id).await?;
    let kind = TableCreate { name, bucket_id, file_id: file.id, layout: request.layout, primary_key };
    ctx.core.jobs.submit(ctx, grant.token(), kind).await
}

/// What a `tableCreate` job builds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TableCreate {
    name: String,
    bucket_id: BucketId,
    file_id: i64,
    layout: Layout,
    primary_key: Vec<String>,
}

impl Kind for TableCreate {
    const TAG: &'static str = "tableCreate";
    type Permission = WriteBucket;

    fn permission(&self) -> WriteBucket {
        WriteBucket(self.bucket_id.clone())
    }

    fn operation_params(&self) -> Value {
        json!({
            "name": self.name, "bucketId": self.bucket_id, "dataFileId": self.file_id, "primaryKey": self.primary_key,
            "delimiter": (self.layout.format.delimiter as char).to_string(),
        })
    }

    fn table_id(&self) -> Option<String> {
        Some(format!("{}.{}", self.bucket_id, self.name))
    }

    /// Builds the table's storage and registers it. A takeover simply runs again: the table is in
    /// the catalog only if the job ended (both commit together), and the storage of a cut-off
    /// attempt is owned by nothing, so the start-up sweep removes it.
    async fn run(self, ctx: &Ctx, grant: Granted<WriteBucket>, claim: &Claim) -> Result<JobDone> {
        let table_id = format!("{}.{}", self.bucket_id, self.name);
        let TableCreate { name, file_id, layout, primary_key, .. } = self;
        let file = source_file(ctx, grant.token(), Some(file_id)).await?;
        let job = claim.id;
        let core = &ctx.core;
        let storage_key = core.table_store.new_key();
        let input = files::sync_reader(core, &file).await?;
        let now = time::now();
        let (store, key) = (core.table_store.clone(), storage_key.clone());
        let built = tokio::task::spawn_blocking(move || -> Result<(Schema, (i64, i64), i64, csv::InputCounts)> {
            let (header, mut rows, counts) = open_rows(input, &layout, &[])?;
            let lower: Vec<String> = header.iter().map(|c| c.to_lowercase()).collect();
            let mut key_columns = Vec::new();
            for column in &primary_key {
                let index = lower.iter().position(|c| *c == column.to_lowercase()).ok_or_else(|| {
                    Error::new(
                        Code::TableValidation,
                        format!("The primary key column \"{column}\" is not a column of the file."),
                    )
                })?;
                key_columns.push(header[index].clone());
            }
            let schema = Schema { columns: header.clone(), primary_key: key_columns, types: None };
            let (data, stats) = store.create_loaded(&key, &schema, &header, now, &mut rows, Some(job))?;
            Ok((data.schema()?, data.stats()?, stats.rows_in_file, counts))
        })
        .await
        .map_err(Error::internal)
        .and_then(|result| result);
        let (schema, stats, rows_in_file, counts) = match built {
            Ok(built) => built,
            Err(error) => {
                remove_storage(core, vec![storage_key]).await;
                return Err(error);
            }
        };
        let bucket_id = grant.scope().0.to_string();
        let token = grant.token().clone();
        let mut table = TableRecord {
            project_id: token.project_id,
            bucket_id,
            id: table_id.clone(),
            name: name.clone(),
            display_name: name,
            created: now,
            storage_key: storage_key.clone(),
            ..TableRecord::default()
        };
        mirror(&mut table, &schema, stats, now, true);
        register_new_table(ctx, claim, table, move |w, ctx, table| {
            let created = Happened::about("storage.tableCreated", "table", &table.id, format!("Created table {}", table.id))
                .with_params(json!({ "columns": table.columns, "primaryKey": table.primary_key }));
            record(w, ctx, table.project_id, Some(&token), created)?;
            let imported = Happened::about("storage.tableImportDone", "table", &table.id, format!("Imported table {}", table.id))
                .with_params(json!({ "incremental": false, "rowsInFile": rows_in_file, "csvFile": { "id": file.id, "name": file.name } }));
            record(w, ctx, table.project_id, Some(&token), imported)?;
            Ok(JobDone {
                results: json!({
                    "id": table.id, "name": table.name, "columns": table.columns, "primaryKey": table.primary_key,
                    "rowsCount": table.rows_count,
                }),
                metrics: Some(jobs::metrics(Some(counts.metrics()), None)),
            })
        })
        .await
    }
}

/// Registers a table whose storage a job has just built, in the transaction that ends the job: its
/// record, what `then` records with it (returning the job's outcome), and the job's success. When
/// that fails, the storage is removed: no table owns it.
pub(super) async fn register_new_table<F>(ctx: &Ctx, claim: &Claim, mut table: TableRecord, then: F) -> Result<JobDone>
where
    F: FnOnce(&stowage_store::Writer<'_>, &Ctx, &TableRecord) -> Result<JobDone> + Send + 'static,
{
    let storage_key = table.storage_key.clone();
    let claim = claim.clone();
    let registered = ctx
        .write(move |w, ctx| {
            if w.table(table.project_id, &table.id)?.is_some() {
                return Err(Error::new(
                    Code::TableAlreadyExists,
                    format!("The table \"{}\" already exists.", table.id),
                ));
            }
            table.pk = w.insert_table(&table)?;
            let done = then(w, ctx, &table)?;
            claim.succeed(w, &done)?;
            Ok(done)
        })
        .await;
    if registered.is_err() {
        remove_storage(&ctx.core, vec![storage_key]).await;
    }
    registered
}
