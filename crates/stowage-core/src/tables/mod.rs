//! Tables: create from a file, import (full or incremental), export, preview, detail, list,
//! delete, primary keys.
//!
//! Bulk work runs as storage jobs. A job checks what it can before it is queued (so a wrong
//! column name is a 400, not a failed job), then streams the file from the object store through
//! the CSV reader into the table's own SQLite file in one transaction. The catalog mirror
//! (columns, primary key, row count, size, dates) and the event are written right after the data
//! commits.

pub mod csv;
pub mod typed;
pub mod when;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use stowage_store::table_data::{
    write_record, Cast, Filter, FilterOp, ImportMode, PackedRows, RowQuery, RowSource, Schema, TableData,
};
use stowage_types::auth::{AnyToken, Granted, OnTable, ReadBucket, ReadTable, Token, WriteBucket, WriteTable};
use stowage_types::job::Job;
use stowage_types::names::{is_simple_name, TableId};
use stowage_types::{time, Code, Error, Result};

use crate::events::{record, Happened};
use crate::jobs::{self, Claim, JobDone, Work};
use crate::records::{Bucket, FileRecord, MetadataEntry, TableRecord};
use crate::{files, Core, Ctx};
use csv::{CsvFormat, CsvReader};

/// Longest table name, as in Keboola.
pub use stowage_types::names::MAX_TABLE_NAME_LEN;
/// Longest column name.
pub const MAX_COLUMN_NAME_LEN: usize = 64;
/// Most columns a table may have.
pub const MAX_COLUMNS: usize = 1000;
/// Default and largest row count of a preview.
pub const PREVIEW_DEFAULT_LIMIT: i64 = 100;
pub const PREVIEW_MAX_LIMIT: i64 = 1000;

/// Checks a table name.
pub fn validate_table_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_TABLE_NAME_LEN || !is_simple_name(name) {
        return Err(Error::new(
            Code::TableValidation,
            format!(
                "Invalid table name \"{name}\": use 1 to {MAX_TABLE_NAME_LEN} characters of letters, digits, dash and underscore."
            ),
        ));
    }
    Ok(())
}

/// Checks column names (from a CSV header or a request): valid, unique, not too many.
pub fn validate_columns(columns: &[String]) -> Result<()> {
    if columns.is_empty() {
        return Err(Error::new(Code::TableValidation, "The table needs at least one column."));
    }
    if columns.len() > MAX_COLUMNS {
        return Err(Error::new(
            Code::TableValidation,
            format!("A table may have at most {MAX_COLUMNS} columns, {} given.", columns.len()),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for column in columns {
        let valid = !column.is_empty()
            && column.len() <= MAX_COLUMN_NAME_LEN
            && is_simple_name(column)
            && !column.starts_with(['_', '-'])
            && !column.ends_with(['_', '-']);
        if !valid {
            return Err(Error::new(
                Code::TableValidation,
                format!(
                    "Invalid column name \"{column}\": use 1 to {MAX_COLUMN_NAME_LEN} letters, digits, dashes and underscores, \
                     not starting or ending with a dash or an underscore."
                ),
            ));
        }
        if !seen.insert(column.to_lowercase()) {
            return Err(Error::new(
                Code::TableValidation,
                format!("The column \"{column}\" is given more than once (names ignore case)."),
            ));
        }
    }
    Ok(())
}

/// Primary key columns as a client names them (`primaryKey`, `columns`, an extractor's setting):
/// trimmed, empty names dropped, and no column twice (names ignore case).
pub fn primary_key(parameter: &str, given: Vec<String>) -> Result<Vec<String>> {
    let mut key: Vec<String> = Vec::new();
    for column in given.iter().map(|column| column.trim()).filter(|column| !column.is_empty()) {
        if key.iter().any(|seen| seen.eq_ignore_ascii_case(column)) {
            return Err(Error::new(
                Code::TableValidation,
                format!("Parameter \"{parameter}\" names the column \"{column}\" more than once."),
            ));
        }
        key.push(column.to_string());
    }
    Ok(key)
}

fn not_found(project_id: i64, id: &str) -> Error {
    Error::new(Code::TableNotFound, format!("The table \"{id}\" was not found in the project \"{project_id}\""))
}

/// A table id (`in.c-sales.orders`) from a request; an id that cannot exist is simply not found.
pub fn parse_id(project_id: i64, id: &str) -> Result<TableId> {
    TableId::parse(id).ok_or_else(|| not_found(project_id, id))
}

/// A table with what its views show.
pub struct TableView {
    pub table: TableRecord,
    pub bucket: Bucket,
    pub metadata: Vec<MetadataEntry>,
    /// Column metadata by column name.
    pub column_metadata: BTreeMap<String, Vec<MetadataEntry>>,
}

fn view(r: &stowage_store::Reader<'_>, table: TableRecord) -> Result<TableView> {
    let bucket =
        r.bucket(table.project_id, &table.bucket_id)?.ok_or_else(|| Error::internal("table of a missing bucket"))?;
    let metadata = r.metadata(table.project_id, "table", &table.id)?;
    let mut column_metadata = BTreeMap::new();
    for column in &table.columns {
        let entries = r.metadata(table.project_id, "column", &format!("{}.{column}", table.id))?;
        if !entries.is_empty() {
            column_metadata.insert(column.clone(), entries);
        }
    }
    Ok(TableView { table, bucket, metadata, column_metadata })
}

/// The table a grant covers: the only table a use case given that grant acts on.
async fn load<P: OnTable>(ctx: &Ctx, grant: &Granted<P>) -> Result<TableRecord> {
    let (project_id, id) = (grant.project_id(), grant.table_id().to_string());
    ctx.core.store.read(move |r| r.table(project_id, &id)?.ok_or_else(|| not_found(project_id, &id))).await
}

/// A table's record and its rows, opened. A full load that replaces the table's storage (or a
/// drop) may commit between reading the record and opening the storage it names, and remove that
/// storage: then the record is read again. Storage, once opened, stays readable.
async fn open_current<P: OnTable>(ctx: &Ctx, grant: &Granted<P>) -> Result<(TableRecord, TableData)> {
    let mut missing: Option<String> = None;
    loop {
        let table = load(ctx, grant).await?;
        if missing.as_ref() == Some(&table.storage_key) {
            return Err(Error::internal(format!("the rows of table storage {} are missing", table.storage_key)));
        }
        let (store, key) = (ctx.core.table_store.clone(), table.storage_key.clone());
        let opened =
            tokio::task::spawn_blocking(move || store.open_existing(&key)).await.map_err(Error::internal)??;
        match opened {
            Some(data) => return Ok((table, data)),
            None => missing = Some(table.storage_key),
        }
    }
}

/// A file the token may read and that has bytes.
async fn source_file(ctx: &Ctx, token: &Arc<Token>, data_file_id: Option<i64>) -> Result<FileRecord> {
    let id = data_file_id.ok_or_else(|| Error::validation("Parameter \"dataFileId\" is required."))?;
    let grant = token.authorize(AnyToken)?;
    let file = files::get(ctx, &grant, id).await?;
    if file.uploaded.is_none() {
        return Err(Error::validation(format!("File {id} has no content yet: upload it before importing it.")));
    }
    Ok(file)
}

/// Reads the header and then rows of a file, checking each row's length against the header.
struct Rows<R> {
    reader: CsvReader<R>,
    width: usize,
}

impl<R: std::io::BufRead> Rows<R> {
    /// `(delimiter, enclosure)` when the file's own records can be handed on as they are: it
    /// encloses with a character and escapes none.
    fn own_dialect(&self) -> Option<(u8, u8)> {
        match self.reader.format() {
            CsvFormat { delimiter, enclosure: Some(enclosure), escape: None } => Some((delimiter, enclosure)),
            _ => None,
        }
    }

    fn check_width(&self, line: u64, values: usize) -> Result<()> {
        if values == self.width {
            return Ok(());
        }
        Err(Error::new(
            Code::CsvInvalid,
            format!("Invalid CSV on line {line}: the row has {values} values, the header has {} columns.", self.width),
        ))
    }
}

impl<R: std::io::BufRead> Rows<R> {
    /// The next row's line and values.
    fn next_line(&mut self) -> Result<Option<(u64, Vec<String>)>> {
        let Some((line, row)) = self.reader.next_record()? else { return Ok(None) };
        self.check_width(line, row.len())?;
        Ok(Some((line, row)))
    }
}

impl<R: std::io::BufRead> RowSource for Rows<R> {
    fn next_values(&mut self) -> Result<Option<Vec<String>>> {
        let Some((line, row)) = self.reader.next_record()? else { return Ok(None) };
        self.check_width(line, row.len())?;
        Ok(Some(row))
    }

    fn next_packed(&mut self, rows: &mut PackedRows) -> Result<bool> {
        let Some((line, values)) = self.reader.next_packed(rows)? else { return Ok(false) };
        self.check_width(line, values)?;
        Ok(true)
    }

    fn dialect(&self) -> (u8, u8) {
        self.own_dialect().unwrap_or((b',', b'"'))
    }

    fn next_record(&mut self, out: &mut Vec<u8>) -> Result<bool> {
        if self.own_dialect().is_none() {
            let Some(values) = self.next_values()? else { return Ok(false) };
            write_record(out, &values);
            return Ok(true);
        }
        let Some((line, values)) = self.reader.next_raw(out)? else { return Ok(false) };
        self.check_width(line, values)?;
        Ok(true)
    }
}

/// How the rows of an import are laid out.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Layout {
    pub format: CsvFormat,
    /// The file has no header row.
    pub without_headers: bool,
    /// Column names of a header-less file; the table's columns when absent.
    pub columns: Option<Vec<String>>,
}

/// The rows of a file being imported.
type FileRows = Rows<Box<dyn std::io::BufRead + Send>>;

/// Opens a file's rows: (header, rows, byte counts). Blocking; run it on a blocking thread.
fn open_rows(
    input: impl std::io::Read + Send + 'static,
    layout: &Layout,
    table_columns: &[String],
) -> Result<(Vec<String>, FileRows, csv::InputCounts)> {
    let (text, counts) = csv::open(input)?;
    let mut reader = CsvReader::new(text, layout.format);
    let header = if layout.without_headers {
        layout.columns.clone().unwrap_or_else(|| table_columns.to_vec())
    } else {
        match reader.next_record()? {
            Some((_, header)) => header,
            None => return Err(Error::new(Code::CsvInvalid, "The file is empty: it has no header row.")),
        }
    };
    validate_columns(&header)?;
    reader.name_columns(&header);
    let width = header.len();
    Ok((header, Rows { reader, width }, counts))
}

/// What [`recover`] repaired at start.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Tables whose catalog columns or statistics disagreed with their data and were set from it.
    pub remirrored: usize,
    /// Tables in storage that no table record owned, deleted.
    pub orphans_removed: usize,
}

/// Brings table storage in line after a stop, before the worker takes over the unfinished jobs.
/// Only for the one server of a data dir, at start (it holds the data dir's lock): no job runs.
/// On a shared catalog (PostgreSQL) other servers' jobs may be running: it only sweeps, as
/// [`sweep_shared`] does.
/// - A table an unfinished job touched may hold rows the catalog does not mirror yet, so its
///   columns, key and statistics are read from its data again. (The job, taken over, mirrors them
///   too; this covers a job that can no longer run, its token deleted.)
/// - A file no table owns (a create or drop cut off halfway) is deleted.
pub async fn recover(core: &Core) -> Result<Recovered> {
    if core.store.is_shared() {
        // A job's takeover mirrors what its table holds instead.
        return Ok(Recovered { remirrored: 0, orphans_removed: sweep_shared(core).await? });
    }
    let (unfinished, owned) = core.store.read(|r| Ok((r.unfinished_jobs()?, r.table_storage_keys()?))).await?;
    let mut recovered = Recovered::default();
    for job in unfinished {
        let Some(table_id) = job.table_id.clone() else { continue };
        let project_id = job.project_id;
        let found = core.store.read(move |r| r.table(project_id, &table_id)).await?;
        let Some(mut table) = found else { continue };
        let (store, key) = (core.table_store.clone(), table.storage_key.clone());
        let read = tokio::task::spawn_blocking(move || -> Result<_> {
            let data = store.open(&key)?;
            Ok((data.schema()?, data.stats()?))
        })
        .await
        .map_err(Error::internal)?;
        let Ok((schema, (rows, bytes))) = read else { continue };
        if (&table.columns, &table.primary_key, table.rows_count, table.data_size_bytes)
            != (&schema.columns, &schema.primary_key, rows, bytes)
        {
            tracing::warn!(table = %table.id, "the catalog did not mirror the table's data after the stop; set from the data");
            (table.columns, table.primary_key, table.rows_count, table.data_size_bytes) =
                (schema.columns, schema.primary_key, rows, bytes);
            core.store.write(move |w| w.update_table_stats(&table)).await?;
            recovered.remirrored += 1;
        }
    }
    let store = core.table_store.clone();
    recovered.orphans_removed =
        tokio::task::spawn_blocking(move || store.sweep(&owned)).await.map_err(Error::internal)??;
    Ok(recovered)
}

/// Deletes table storage no table owns on a catalog several servers share, whose jobs may be
/// creating tables right now: a key is deleted only when no table owned it at the end and the
/// job that wrote it (its marker) was not unfinished before that. A create's catalog record and
/// the end of its job commit together, so a key whose job was still running when it was checked is
/// either owned by the second look or left for the next sweep. (On PostgreSQL a create's table
/// comes into being with its rows, so a key without a marker is one a drop left behind.)
pub async fn sweep_shared(core: &Core) -> Result<usize> {
    let owned = core.store.read(|r| r.table_storage_keys()).await?;
    let store = core.table_store.clone();
    let candidates = tokio::task::spawn_blocking(move || -> Result<Vec<(String, Option<i64>)>> {
        let unowned = store.keys()?.into_iter().filter(|key| !owned.contains(key));
        unowned.map(|key| Ok((key.clone(), store.open(&key)?.last_job()?.map(|(job, _)| job)))).collect()
    })
    .await
    .map_err(Error::internal)??;
    if candidates.is_empty() {
        return Ok(0);
    }
    let doomed = core
        .store
        .read(move |r| {
            let mut settled = Vec::new();
            for (key, job) in candidates {
                if job.map(|job| r.job_unfinished(job)).transpose()? != Some(true) {
                    settled.push(key);
                }
            }
            let owned = r.table_storage_keys()?;
            Ok(settled.into_iter().filter(|key| !owned.contains(key)).collect::<Vec<_>>())
        })
        .await?;
    let removed = doomed.len();
    for key in &doomed {
        tracing::warn!(key, "deleting table storage no table owns");
    }
    remove_storage(core, doomed).await;
    Ok(removed)
}

/// Writes the catalog mirror of a table after its data changed.
fn mirror(table: &mut TableRecord, schema: &Schema, (rows, bytes): (i64, i64), now: i64, imported: bool) {
    table.columns = schema.columns.clone();
    table.primary_key = schema.primary_key.clone();
    table.rows_count = rows;
    table.data_size_bytes = bytes;
    table.last_change = Some(now);
    if imported {
        table.last_import = Some(now);
        table.imports += 1;
    }
}

/// The id a new table `name` in `bucket_id` gets, when the bucket exists and has no such table.
async fn new_table_id(ctx: &Ctx, project_id: i64, bucket_id: &str, name: &str) -> Result<String> {
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
pub async fn create(ctx: &Ctx, grant: Granted<WriteBucket>, mut request: CreateRequest) -> Result<Job> {
    let name = request.name.unwrap_or_default();
    validate_table_name(&name)?;
    request.primary_key = primary_key("primaryKey", request.primary_key)?;
    let project_id = grant.project_id();
    let bucket_id = grant.scope().0.to_string();
    let table_id = new_table_id(ctx, project_id, &bucket_id, &name).await?;
    let file = source_file(ctx, grant.token(), request.data_file_id).await?;
    let params = json!({
        "name": name, "bucketId": bucket_id, "dataFileId": file.id, "primaryKey": request.primary_key,
        "delimiter": (request.layout.format.delimiter as char).to_string(),
    });
    let work = CreateWork {
        name,
        bucket_id,
        table_id: table_id.clone(),
        file_id: file.id,
        layout: request.layout,
        primary_key: request.primary_key,
    };
    ctx.core.jobs.submit(ctx, grant.token(), "tableCreate", params, Some(table_id), Work::TableCreate(work)).await
}

/// What a `tableCreate` job builds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateWork {
    name: String,
    pub(crate) bucket_id: String,
    table_id: String,
    file_id: i64,
    layout: Layout,
    primary_key: Vec<String>,
}

/// Builds the table's file and registers it. A takeover simply runs again: the table is in the
/// catalog only if the job ended (both commit together), and the file of a cut-off attempt is
/// owned by nothing, so the start-up sweep removes it.
pub(crate) async fn create_work(
    ctx: &Ctx,
    grant: Granted<WriteBucket>,
    work: CreateWork,
    claim: &Claim,
) -> Result<JobDone> {
    let CreateWork { name, table_id, file_id, layout, primary_key, .. } = work;
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

/// Registers a table whose storage a job has just built, in the transaction that ends the job: its
/// record, what `then` records with it (returning the job's outcome), and the job's success. When
/// that fails, the storage is removed: no table owns it.
async fn register_new_table<F>(ctx: &Ctx, claim: &Claim, mut table: TableRecord, then: F) -> Result<JobDone>
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

/// A table import request.
#[derive(Debug, Default)]
pub struct ImportRequest {
    pub data_file_id: Option<i64>,
    pub incremental: bool,
    pub layout: Layout,
}

/// Loads a file into a table, as a job (`tableImport`). All or nothing.
pub async fn import(ctx: &Ctx, grant: Granted<WriteTable>, request: ImportRequest) -> Result<Job> {
    let table = load(ctx, &grant).await?;
    let file = source_file(ctx, grant.token(), request.data_file_id).await?;
    if let Some(columns) = &request.layout.columns {
        validate_columns(columns)?;
    }
    let params = json!({ "dataFileId": file.id, "incremental": request.incremental, "withoutHeaders": request.layout.without_headers });
    let work = ImportWork {
        table_id: table.id.clone(),
        file_id: file.id,
        incremental: request.incremental,
        layout: request.layout,
    };
    ctx.core.jobs.submit(ctx, grant.token(), "tableImport", params, Some(table.id), Work::TableImport(work)).await
}

/// What a `tableImport` job loads.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportWork {
    pub(crate) table_id: String,
    file_id: i64,
    incremental: bool,
    layout: Layout,
}

/// Loads the file into the table's own file (rows and the job's marker in one transaction), then
/// mirrors the table in the catalog with the event and the job's outcome. A worker that takes the
/// job over finds the marker when the rows had committed, and only finishes the catalog part.
pub(crate) async fn import_work(
    ctx: &Ctx,
    grant: Granted<WriteTable>,
    work: ImportWork,
    claim: &Claim,
) -> Result<JobDone> {
    let core = &ctx.core;
    let table = load(ctx, &grant).await?;
    let file = source_file(ctx, grant.token(), Some(work.file_id)).await?;
    let (store, key) = (core.table_store.clone(), table.storage_key.clone());
    let job = claim.id;
    let now = time::now();
    let mode = if work.incremental { ImportMode::Incremental } else { ImportMode::Full };
    let layout = work.layout;
    let input = files::sync_reader(core, &file).await?;
    let target = table.clone();
    // A full load builds new storage where the store does so (see `full_load_replaces`); the
    // transaction that ends the job swaps it in.
    let replacement = (mode == ImportMode::Full && store.full_load_replaces()).then(|| store.new_key());
    let new_key = replacement.clone();
    let loaded = tokio::task::spawn_blocking(move || -> Result<_> {
        let mut data = store.open(&key)?;
        if let Some((_, imported)) = data.last_job()?.filter(|(last, _)| *last == job) {
            tracing::warn!(
                job_id = job,
                "the rows of this job had committed before its worker stopped; not loading them again"
            );
            return Ok((data.schema()?, data.stats()?, imported, None, false));
        }
        let current = data.schema()?;
        let (header, mut rows, counts) = open_rows(input, &layout, &current.columns)?;
        let mut typed = typed::TypedRows::new(&mut rows, &header, &target)?;
        let rows: &mut (dyn RowSource + Send) = match typed.as_mut() {
            Some(typed) => typed,
            None => &mut rows,
        };
        let (data, imported) = match &new_key {
            Some(new_key) => store.create_loaded(new_key, &current, &header, now, rows, Some(job))?,
            None => {
                let imported = data.import(&header, mode, now, rows, Some(job))?;
                (data, imported)
            }
        };
        Ok((data.schema()?, data.stats()?, imported, Some(counts), new_key.is_some()))
    })
    .await
    .map_err(Error::internal)
    .and_then(|loaded| loaded);
    let (schema, stats, imported, counts, replaced) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => {
            remove_storage(core, replacement.into_iter().collect()).await;
            return Err(error);
        }
    };
    // (the storage read, the one built to replace it); none for a job whose rows had committed in
    // place (its marker).
    let swap = replacement.filter(|_| replaced).map(|new| (table.storage_key.clone(), new));
    let token = grant.token().clone();
    let incremental = work.incremental;
    let claim = claim.clone();
    let swapped = swap.clone();
    let finished = ctx
        .write(move |w, ctx| {
            let mut table =
                w.table(table.project_id, &table.id)?.ok_or_else(|| not_found(table.project_id, &table.id))?;
            if let Some((old, new)) = &swapped {
                // Jobs of one table run one at a time, so the table still names the storage this
                // job read; a drop that came first ended it above.
                if !w.replace_table_storage(table.pk, old, new)? {
                    return Err(Error::internal("the table's storage changed during its full load"));
                }
            }
            mirror(&mut table, &schema, stats, now, true);
            w.update_table_stats(&table)?;
            let happened =
                Happened::about("storage.tableImportDone", "table", &table.id, format!("Imported table {}", table.id))
                    .with_params(json!({
                        "incremental": incremental, "rowsInFile": imported.rows_in_file,
                        "csvFile": { "id": file.id, "name": file.name }, "newColumns": imported.new_columns,
                    }));
            record(w, ctx, table.project_id, Some(&token), happened)?;
            let done = JobDone {
                results: json!({
                    "importedColumns": imported.columns,
                    "newColumns": imported.new_columns,
                    "rowsInFile": imported.rows_in_file,
                    "warnings": [],
                    "totalRowsCount": table.rows_count,
                    "totalDataSizeBytes": table.data_size_bytes,
                }),
                metrics: counts.map(|counts| jobs::metrics(Some(counts.metrics()), None)),
            };
            claim.succeed(w, &done)?;
            Ok(done)
        })
        .await;
    // The storage no table names after this: the replaced one, or the replacement that failed.
    if let Some((old, new)) = swap {
        remove_storage(core, vec![if finished.is_ok() { old } else { new }]).await;
    }
    finished
}

/// Filters and projection as clients give them for previews and exports.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Selection {
    pub columns: Vec<String>,
    pub changed_since: Option<String>,
    pub changed_until: Option<String>,
    pub where_column: Option<String>,
    pub where_values: Vec<String>,
    pub where_operator: Option<String>,
    pub where_filters: Vec<WhereFilter>,
    pub order_by: Vec<OrderBy>,
    pub limit: Option<i64>,
}

/// One `whereFilters[]` item as the client sent it.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct WhereFilter {
    pub column: String,
    /// `eq`, `ne`, `gt`, `ge`, `lt` or `le`.
    pub operator: String,
    pub values: Vec<String>,
    /// `INTEGER`, `BIGINT`, `DOUBLE`, `REAL` or `DECIMAL`: compare as numbers.
    pub data_type: Option<String>,
}

/// One `orderBy[]` item as the client sent it.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct OrderBy {
    pub column: String,
    /// `ASC` or `DESC`.
    pub order: String,
    pub data_type: Option<String>,
}

fn cast_of(data_type: Option<&str>) -> Result<Option<Cast>> {
    match data_type.map(str::to_uppercase).as_deref() {
        None | Some("") => Ok(None),
        Some("INTEGER" | "BIGINT") => Ok(Some(Cast::Integer)),
        Some("DOUBLE" | "REAL" | "DECIMAL") => Ok(Some(Cast::Real)),
        Some(other) => Err(Error::validation(format!(
            "Unknown dataType \"{other}\": use INTEGER, BIGINT, DOUBLE, REAL or DECIMAL."
        ))),
    }
}

/// Turns a selection into a row query, checking every column against the table.
fn row_query(table: &TableRecord, selection: Selection) -> Result<RowQuery> {
    let known = |column: &str, what: &str| -> Result<String> {
        table.columns.iter().find(|c| c.eq_ignore_ascii_case(column)).cloned().ok_or_else(|| {
            Error::validation(format!(
                "The column \"{column}\" given in \"{what}\" is not a column of the table {}.",
                table.id
            ))
        })
    };
    let columns: Vec<String> = selection.columns.iter().map(|c| known(c, "columns")).collect::<Result<_>>()?;
    let mut seen = std::collections::HashSet::new();
    if let Some(again) = columns.iter().find(|column| !seen.insert(column.as_str())) {
        return Err(Error::validation(format!("The column \"{again}\" is given more than once in \"columns\".")));
    }
    let now = time::now();
    let mut query = RowQuery {
        columns,
        changed_since: selection
            .changed_since
            .filter(|v| !v.is_empty())
            .map(|v| when::parse("changedSince", &v, now))
            .transpose()?,
        changed_until: selection
            .changed_until
            .filter(|v| !v.is_empty())
            .map(|v| when::parse("changedUntil", &v, now))
            .transpose()?,
        limit: selection.limit,
        ..RowQuery::default()
    };
    if let Some(column) = selection.where_column.filter(|c| !c.is_empty()) {
        let op = match selection.where_operator.as_deref().unwrap_or("eq") {
            "" | "eq" => FilterOp::Eq,
            "ne" | "neq" => FilterOp::Ne,
            other => {
                return Err(Error::validation(format!(
                    "Parameter \"whereOperator\" must be eq, ne or neq, \"{other}\" given."
                )))
            }
        };
        query.filters.push(Filter {
            column: known(&column, "whereColumn")?,
            op,
            values: selection.where_values,
            cast: None,
        });
    }
    for WhereFilter { column, operator, values, data_type } in selection.where_filters {
        let op = match operator.as_str() {
            "" | "eq" => FilterOp::Eq,
            "ne" | "neq" => FilterOp::Ne,
            "gt" => FilterOp::Gt,
            "ge" => FilterOp::Ge,
            "lt" => FilterOp::Lt,
            "le" => FilterOp::Le,
            other => {
                return Err(Error::validation(format!(
                    "Unknown whereFilters operator \"{other}\": use eq, ne, gt, ge, lt or le."
                )))
            }
        };
        if !matches!(op, FilterOp::Eq | FilterOp::Ne) && values.len() != 1 {
            return Err(Error::validation(format!("The operator \"{operator}\" takes exactly one value.")));
        }
        query.filters.push(Filter {
            column: known(&column, "whereFilters")?,
            op,
            values,
            cast: cast_of(data_type.as_deref())?,
        });
    }
    for OrderBy { column, order, data_type } in selection.order_by {
        let descending = match order.to_uppercase().as_str() {
            "" | "ASC" => false,
            "DESC" => true,
            other => return Err(Error::validation(format!("Unknown orderBy order \"{other}\": use ASC or DESC."))),
        };
        query.order_by.push((known(&column, "orderBy")?, descending, cast_of(data_type.as_deref())?));
    }
    // Stored values never hold a NUL byte (the CSV reader refuses it), and text cannot carry one
    // to the database, so a filter value that does is the client's mistake.
    if query.filters.iter().flat_map(|filter| &filter.values).any(|value| value.contains('\0')) {
        return Err(Error::validation("A filter value holds a NUL byte (0x00), which no stored value holds."));
    }
    Ok(query)
}

/// The first rows of a table: (columns, rows).
pub async fn preview(
    ctx: &Ctx,
    grant: &Granted<ReadTable>,
    mut selection: Selection,
) -> Result<(Vec<String>, Vec<Vec<String>>)> {
    let limit = selection.limit.unwrap_or(PREVIEW_DEFAULT_LIMIT);
    if !(1..=PREVIEW_MAX_LIMIT).contains(&limit) {
        return Err(Error::validation(format!(
            "Parameter \"limit\" must be between 1 and {PREVIEW_MAX_LIMIT}, {limit} given."
        )));
    }
    selection.limit = Some(limit);
    let (table, data) = open_current(ctx, grant).await?;
    let query = row_query(&table, selection)?;
    let columns = if query.columns.is_empty() { table.columns.clone() } else { query.columns.clone() };
    let rows = tokio::task::spawn_blocking(move || -> Result<Vec<Vec<String>>> {
        let mut rows = Vec::new();
        data.query(&query, &mut |values| {
            rows.push(values.iter().map(|v| v.to_string()).collect());
            Ok(())
        })?;
        Ok(rows)
    })
    .await
    .map_err(Error::internal)??;
    Ok((columns, rows))
}

/// Exports rows to a new file (no header, every value enclosed), as a job (`tableExport`).
pub async fn export(ctx: &Ctx, grant: Granted<ReadTable>, selection: Selection, gzip: bool) -> Result<Job> {
    let table = load(ctx, &grant).await?;
    if selection.limit.is_some_and(|limit| limit < 1) {
        return Err(Error::validation("Parameter \"limit\" must be at least 1."));
    }
    let params = json!({
        "export": {
            "tableName": table.name, "columns": selection.columns, "limit": selection.limit,
            "changedSince": selection.changed_since, "changedUntil": selection.changed_until,
            "gzipOutput": gzip, "format": "rfc", "fileType": "csv",
        }
    });
    row_query(&table, selection.clone())?;
    let work = ExportWork { table_id: table.id.clone(), selection, gzip };
    ctx.core.jobs.submit(ctx, grant.token(), "tableExport", params, Some(table.id), Work::TableExport(work)).await
}

/// What a `tableExport` job writes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportWork {
    pub(crate) table_id: String,
    selection: Selection,
    gzip: bool,
}

/// Writes the rows to a new file. A takeover runs it again; the file of a cut-off attempt never
/// finished uploading and expires with the other unfinished files.
pub(crate) async fn export_work(
    ctx: &Ctx,
    grant: Granted<ReadTable>,
    work: ExportWork,
    claim: &Claim,
) -> Result<JobDone> {
    let ExportWork { selection, gzip, .. } = work;
    let core = &ctx.core;
    let (table, data) = open_current(ctx, &grant).await?;
    let table_id = table.id.clone();
    let query = row_query(&table, selection)?;
    let name = format!("{}.csv{}", table.id, if gzip { ".gz" } else { "" });
    let file = files::create_for(core, grant.token(), name, vec!["table-export".into()], ctx.run_id.clone()).await?;
    let writer = tokio_util::io::SyncIoBridge::new(core.blobs.writer(&file.blob_key));
    let (size, text_size) = tokio::task::spawn_blocking(move || -> Result<(u64, u64)> {
        let counted = Counting { inner: writer, count: 0 };
        let (counted, text_size) = if gzip {
            let text = Counting { inner: stowage_client::gzip::ParallelGz::new(counted), count: 0 };
            let text = write_rows(&data, &query, text)?;
            (text.inner.finish().map_err(io_error)?, text.count)
        } else {
            let counted = write_rows(&data, &query, counted)?;
            let count = counted.count;
            (counted, count)
        };
        let Counting { mut inner, count } = counted;
        inner.shutdown().map_err(io_error)?;
        Ok((count, text_size))
    })
    .await
    .map_err(Error::internal)??;
    let file = files::finish_upload(core, &file, size).await?;
    let token = grant.token().clone();
    let file_id = file.id;
    let claim = claim.clone();
    ctx.write(move |w, ctx| {
        let happened =
            Happened::about("storage.tableExported", "table", &table_id, format!("Exported table {table_id}"))
                .with_params(json!({ "fileId": file_id, "gzip": gzip }));
        record(w, ctx, token.project_id, Some(&token), happened)?;
        let done = JobDone {
            results: json!({ "file": { "id": file_id }, "cacheHit": false }),
            metrics: Some(jobs::metrics(None, Some((gzip, size, text_size)))),
        };
        claim.succeed(w, &done)?;
        Ok(done)
    })
    .await
}

/// Counts bytes on their way to the object store.
struct Counting<W> {
    inner: W,
    count: u64,
}

impl<W: std::io::Write> std::io::Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.count += written as u64;
        Ok(written)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn io_error(error: std::io::Error) -> Error {
    Error::internal(format!("writing the export: {error}"))
}

/// Writes the rows a query selects as CSV into `out` and hands `out` back.
/// The header, then the rows.
fn with_header<W: std::io::Write>(data: &TableData, header: &[&str], query: &RowQuery, mut out: W) -> Result<W> {
    csv::write_row(&mut out, header).map_err(io_error)?;
    write_rows(data, query, out)
}

fn write_rows<W: std::io::Write>(data: &TableData, query: &RowQuery, out: W) -> Result<W> {
    let mut buffered = std::io::BufWriter::with_capacity(256 * 1024, out);
    data.write_csv(query, &mut buffered)?;
    buffered.into_inner().map_err(|error| io_error(error.into_error()))
}

/// A table's rows as CSV with a header, gzipped or not (the writer's upload, the console's
/// download), streamed through a small bounded channel so memory stays flat: (table, chunks).
pub async fn stream_csv(
    ctx: &Ctx,
    grant: &Granted<ReadTable>,
    changed_since: Option<i64>,
    gzip: bool,
) -> Result<(TableRecord, impl futures::Stream<Item = Result<bytes::Bytes>> + Unpin + Send + 'static)> {
    let (table, data) = open_current(ctx, grant).await?;
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<bytes::Bytes>>(4);
    let columns = table.columns.clone();
    tokio::task::spawn_blocking(move || {
        let outcome = (|| -> Result<()> {
            let sink = ChannelWriter { sender: sender.clone(), buffer: Vec::with_capacity(1 << 20) };
            let query = RowQuery { changed_since, ..RowQuery::default() };
            let header: Vec<&str> = columns.iter().map(String::as_str).collect();
            let mut sink = if gzip {
                let encoder = stowage_client::gzip::ParallelGz::new(sink);
                with_header(&data, &header, &query, encoder)?.finish().map_err(io_error)?
            } else {
                with_header(&data, &header, &query, sink)?
            };
            std::io::Write::flush(&mut sink).map_err(io_error)
        })();
        if let Err(error) = outcome {
            let _ = sender.blocking_send(Err(error));
        }
    });
    Ok((table, tokio_stream_from(receiver)))
}

fn tokio_stream_from(
    mut receiver: tokio::sync::mpsc::Receiver<Result<bytes::Bytes>>,
) -> impl futures::Stream<Item = Result<bytes::Bytes>> + Unpin + Send + 'static {
    Box::pin(futures::stream::poll_fn(move |cx| receiver.poll_recv(cx)))
}

/// Sends written bytes into a channel in chunks of about 1 MB.
struct ChannelWriter {
    sender: tokio::sync::mpsc::Sender<Result<bytes::Bytes>>,
    buffer: Vec<u8>,
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        if self.buffer.len() >= 1 << 20 {
            self.flush()?;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buffer.is_empty() {
            let chunk = bytes::Bytes::from(std::mem::replace(&mut self.buffer, Vec::with_capacity(1 << 20)));
            self.sender
                .blocking_send(Ok(chunk))
                .map_err(|_| std::io::Error::other("the reader of the rows stopped"))?;
        }
        Ok(())
    }
}

/// One table, recording `storage.tableDetail`.
pub async fn detail(ctx: &Ctx, grant: &Granted<ReadTable>) -> Result<TableView> {
    let project_id = grant.project_id();
    let table_id = grant.table_id().as_str();
    let id = table_id.to_string();
    let found = ctx
        .core
        .store
        .read(move |r| {
            let table = r.table(project_id, &id)?.ok_or_else(|| not_found(project_id, &id))?;
            view(r, table)
        })
        .await?;
    let happened = Happened::about("storage.tableDetail", "table", table_id, format!("Table {table_id} detail"));
    crate::events::record_read(ctx, project_id, grant.token(), happened).await?;
    Ok(found)
}

/// Tables of every bucket the token can read.
pub async fn list(ctx: &Ctx, grant: &Granted<AnyToken>) -> Result<Vec<TableView>> {
    let token = grant.token().clone();
    ctx.core
        .store
        .read(move |r| {
            r.tables(token.project_id, None)?
                .into_iter()
                .filter(|table| token.bucket_access(&table.bucket_id).is_some())
                .map(|table| view(r, table))
                .collect()
        })
        .await
}

/// Tables of one bucket, recording `storage.tablesListed`.
pub async fn list_in_bucket(ctx: &Ctx, grant: &Granted<ReadBucket>) -> Result<Vec<TableView>> {
    let project_id = grant.project_id();
    let bucket_id = grant.scope().0.to_string();
    let views = {
        let bucket_id = bucket_id.clone();
        ctx.core
            .store
            .read(move |r| {
                r.bucket(project_id, &bucket_id)?.ok_or_else(|| crate::buckets::not_found(project_id, &bucket_id))?;
                r.tables(project_id, Some(&bucket_id))?.into_iter().map(|table| view(r, table)).collect()
            })
            .await?
    };
    let happened = Happened::about("storage.tablesListed", "bucket", &bucket_id, "Listed tables".into());
    crate::events::record_read(ctx, project_id, grant.token(), happened).await?;
    Ok(views)
}

/// Deletes a table now, or as a job (`tableDrop`).
pub async fn delete(ctx: &Ctx, grant: Granted<WriteTable>, run_async: bool) -> Result<Option<Job>> {
    let table = load(ctx, &grant).await?;
    if !run_async {
        delete_now(ctx, &grant, table, None).await?;
        return Ok(None);
    }
    let params = json!({ "tableId": table.id });
    let work = Work::TableDrop { table_id: table.id.clone() };
    Ok(Some(ctx.core.jobs.submit(ctx, grant.token(), "tableDrop", params, Some(table.id), work).await?))
}

/// The `tableDrop` job.
pub(crate) async fn drop_work(ctx: &Ctx, grant: Granted<WriteTable>, claim: &Claim) -> Result<JobDone> {
    let table = load(ctx, &grant).await?;
    delete_now(ctx, &grant, table, Some(claim)).await?;
    Ok(JobDone::from(Value::Null))
}

/// Removes the table from the catalog with its event (and the outcome of the job that does it,
/// if any), then its file.
async fn delete_now(ctx: &Ctx, grant: &Granted<WriteTable>, table: TableRecord, claim: Option<&Claim>) -> Result<()> {
    let token = grant.token().clone();
    let key = table.storage_key.clone();
    let claim = claim.cloned();
    ctx.write(move |w, ctx| {
        if !w.delete_table(table.project_id, &table.id)? {
            return Err(not_found(table.project_id, &table.id));
        }
        let happened =
            Happened::about("storage.tableDeleted", "table", &table.id, format!("Deleted table {}", table.id));
        record(w, ctx, table.project_id, Some(&token), happened)?;
        claim.map_or(Ok(()), |claim| claim.succeed(w, &JobDone::from(Value::Null)))
    })
    .await?;
    remove_storage(&ctx.core, vec![key]).await;
    Ok(())
}

/// Removes the storage under `keys`, whose tables are gone from the catalog (or never reached
/// it), on a blocking thread; what fails is logged, and the start-up sweep removes it later.
pub(crate) async fn remove_storage(core: &Core, keys: Vec<String>) {
    let store = core.table_store.clone();
    let removed = tokio::task::spawn_blocking(move || keys.iter().for_each(|key| store.remove(key))).await;
    if let Err(error) = removed {
        tracing::warn!(%error, "removing table storage stopped");
    }
}

/// Sets (`Some`) or removes (`None`) the primary key, as a job.
pub async fn change_primary_key(ctx: &Ctx, grant: Granted<WriteTable>, columns: Option<Vec<String>>) -> Result<Job> {
    let table = load(ctx, &grant).await?;
    let columns = columns.map(|columns| primary_key("columns", columns)).transpose()?;
    let columns = match columns {
        Some(columns) if columns.is_empty() => {
            return Err(Error::validation("Parameter \"columns\" must name at least one column."))
        }
        Some(columns) => Some(
            columns
                .iter()
                .map(|column| {
                    table.columns.iter().find(|c| c.eq_ignore_ascii_case(column)).cloned().ok_or_else(|| {
                        Error::validation(format!("The column \"{column}\" is not a column of the table {}.", table.id))
                    })
                })
                .collect::<Result<Vec<_>>>()?,
        ),
        None => None,
    };
    let operation = if columns.is_some() { "tablePrimaryKeyAdd" } else { "tablePrimaryKeyDelete" };
    let params = json!({ "columns": columns });
    let work = Work::PrimaryKey { table_id: table.id.clone(), columns };
    ctx.core.jobs.submit(ctx, grant.token(), operation, params, Some(table.id), work).await
}

/// Sets or removes the key in the table's file, then mirrors it. A takeover runs it again: setting
/// the same key, or removing a missing one, changes nothing.
pub(crate) async fn primary_key_work(
    ctx: &Ctx,
    grant: Granted<WriteTable>,
    columns: Option<Vec<String>>,
    claim: &Claim,
) -> Result<JobDone> {
    let table = load(ctx, &grant).await?;
    let (store, key) = (ctx.core.table_store.clone(), table.storage_key.clone());
    let new_key = columns.clone();
    let (schema, stats) = tokio::task::spawn_blocking(move || -> Result<_> {
        let mut data = store.open(&key)?;
        let schema = match &new_key {
            Some(columns) => data.set_primary_key(columns)?,
            None => data.remove_primary_key()?,
        };
        Ok((schema, data.stats()?))
    })
    .await
    .map_err(Error::internal)??;
    let token = grant.token().clone();
    let claim = claim.clone();
    ctx.write(move |w, ctx| {
        let mut table = w.table(table.project_id, &table.id)?.ok_or_else(|| not_found(table.project_id, &table.id))?;
        mirror(&mut table, &schema, stats, time::now(), false);
        w.update_table_stats(&table)?;
        let (event, message) = match &columns {
            Some(_) => ("storage.tablePrimaryKeyAdded", format!("Set the primary key of table {}", table.id)),
            None => ("storage.tablePrimaryKeyDeleted", format!("Removed the primary key of table {}", table.id)),
        };
        let happened =
            Happened::about(event, "table", &table.id, message).with_params(json!({ "primaryKey": table.primary_key }));
        record(w, ctx, table.project_id, Some(&token), happened)?;
        let done = JobDone::from(json!({ "id": table.id, "primaryKey": table.primary_key }));
        claim.succeed(w, &done)?;
        Ok(done)
    })
    .await
}
