//! Exports: the `tableExport` job (rows to a new file), and the streamed CSV of a table.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use stowage_store::table_data::{RowQuery, TableData};
use stowage_types::auth::{Granted, ReadTable};
use stowage_types::job::Job;
use stowage_types::names::TableId;
use stowage_types::{Error, Result};

use super::csv;
use super::query::{row_query, Selection};
use super::{load, open_current};
use crate::events::{record, Happened};
use crate::jobs::{self, Claim, JobDone, Kind};
use crate::records::TableRecord;
use crate::{files, Ctx};

/// Exports rows to a new file (no header, every value enclosed), as a job (`tableExport`).
pub async fn export(ctx: &Ctx, grant: Granted<ReadTable>, selection: Selection, gzip: bool) -> Result<Job> {
    let table = load(ctx, &grant).await?;
    if selection.limit.is_some_and(|limit| limit < 1) {
        return Err(Error::validation("Parameter \"limit\" must be at least 1."));
    }
    row_query(&table, selection.clone())?;
    let kind = TableExport { table_id: grant.table_id().clone(), selection, gzip };
    ctx.core.jobs.submit(ctx, grant.token(), kind).await
}

/// What a `tableExport` job writes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TableExport {
    table_id: TableId,
    selection: Selection,
    gzip: bool,
}

impl Kind for TableExport {
    const TAG: &'static str = "tableExport";
    type Permission = ReadTable;

    fn permission(&self) -> ReadTable {
        ReadTable(self.table_id.clone())
    }

    fn operation_params(&self) -> Value {
        let selection = &self.selection;
        json!({
            "export": {
                "tableName": self.table_id.name(), "columns": selection.columns, "limit": selection.limit,
                "changedSince": selection.changed_since, "changedUntil": selection.changed_until,
                "gzipOutput": self.gzip, "format": "rfc", "fileType": "csv",
            }
        })
    }

    fn table_id(&self) -> Option<String> {
        Some(self.table_id.to_string())
    }

    /// Writes the rows to a new file. A takeover runs it again; the file of a cut-off attempt never
    /// finished uploading and expires with the other unfinished files.
    async fn run(self, ctx: &Ctx, grant: Granted<ReadTable>, claim: &Claim) -> Result<JobDone> {
        let TableExport { selection, gzip, .. } = self;
        let core = &ctx.core;
        let (table, data) = open_current(ctx, &grant).await?;
        let table_id = table.id.clone();
        let query = row_query(&table, selection)?;
        let name = format!("{}.csv{}", table.id, if gzip { ".gz" } else { "" });
        let file =
            files::create_for(core, grant.token(), name, vec!["table-export".into()], ctx.run_id.clone()).await?;
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
