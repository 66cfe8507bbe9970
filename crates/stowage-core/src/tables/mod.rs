//! Tables: create from a file or a definition, import (full or incremental), export, preview,
//! detail, list, delete, primary keys, columns. Each job kind has a module of its own.
//!
//! Bulk work runs as storage jobs. A job checks what it can before it is queued (so a wrong
//! column name is a 400, not a failed job), then streams the file from the object store through
//! the CSV reader into the table's storage in one transaction. The catalog mirror (columns,
//! primary key, row count, size, dates), the event and the job's outcome are written together
//! right after the data commits.

mod column;
mod create;
pub mod csv;
mod definition;
mod delete;
mod export;
mod import;
mod primary_key;
mod query;
pub mod typed;
pub mod when;

pub use column::{add_column, ColumnAdd};
pub use create::{create, CreateRequest, TableCreate};
pub use definition::{create_definition, DefinitionRequest, TableDefinitionCreate};
pub use delete::{delete, TableDrop};
pub use export::{export, stream_csv, TableExport};
pub use import::{import, ImportRequest, TableImport};
pub use primary_key::{change_primary_key, PrimaryKey};
pub use query::{preview, OrderBy, Selection, WhereFilter};

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use stowage_store::table_data::{write_record, PackedRows, RowSource, Schema, TableData};
use stowage_types::auth::{AnyToken, Granted, OnTable, ReadBucket, ReadTable, Token};
use stowage_types::names::{is_simple_name, TableId};
use stowage_types::{Code, Error, Result};

use crate::events::Happened;
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

/// Removes the storage under `keys`, whose tables are gone from the catalog (or never reached
/// it), on a blocking thread; what fails is logged, and the start-up sweep removes it later.
pub(crate) async fn remove_storage(core: &Core, keys: Vec<String>) {
    let store = core.table_store.clone();
    let removed = tokio::task::spawn_blocking(move || keys.iter().for_each(|key| store.remove(key))).await;
    if let Err(error) = removed {
        tracing::warn!(%error, "removing table storage stopped");
    }
}
