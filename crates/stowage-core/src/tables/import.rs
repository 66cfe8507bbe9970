//! The `tableImport` job: a file loaded into a table, full or incremental, all or nothing.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use stowage_store::table_data::{Begun, ImportMode, Loaded, RowSource};
use stowage_types::auth::{Granted, WriteTable};
use stowage_types::job::Job;
use stowage_types::names::TableId;
use stowage_types::{time, Error, Result};

use super::{load, mirror, not_found, open_rows, remove_storage, source_file, typed, validate_columns, Layout};
use crate::events::{record, Happened};
use crate::jobs::{self, Claim, JobDone, Kind};
use crate::{files, Ctx};

/// A table import request.
#[derive(Debug, Default)]
pub struct ImportRequest {
    pub data_file_id: Option<i64>,
    pub incremental: bool,
    pub layout: Layout,
}

/// Loads a file into a table, as a job (`tableImport`). All or nothing.
pub async fn import(ctx: &Ctx, grant: Granted<WriteTable>, request: ImportRequest) -> Result<Job> {
    load(ctx, &grant).await?;
    let file = source_file(ctx, grant.token(), request.data_file_id).await?;
    if let Some(columns) = &request.layout.columns {
        validate_columns(columns)?;
    }
    let kind = TableImport {
        table_id: grant.table_id().clone(),
        file_id: file.id,
        incremental: request.incremental,
        layout: request.layout,
    };
    ctx.core.jobs.submit(ctx, grant.token(), kind).await
}

/// What a `tableImport` job loads.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TableImport {
    table_id: TableId,
    file_id: i64,
    incremental: bool,
    layout: Layout,
}

impl TableImport {
    fn mode(&self) -> ImportMode {
        if self.incremental {
            ImportMode::Incremental
        } else {
            ImportMode::Full
        }
    }
}

impl Kind for TableImport {
    const TAG: &'static str = "tableImport";
    type Permission = WriteTable;

    fn permission(&self) -> WriteTable {
        WriteTable(self.table_id.clone())
    }

    fn operation_params(&self) -> Value {
        json!({ "dataFileId": self.file_id, "incremental": self.incremental, "withoutHeaders": self.layout.without_headers })
    }

    fn table_id(&self) -> Option<String> {
        Some(self.table_id.to_string())
    }

    /// Loads the file into the table's storage (rows and the job's marker in one transaction),
    /// then mirrors the table in the catalog with the event and the job's outcome. A worker that
    /// takes the job over finds the marker when the rows had committed, and only finishes the
    /// catalog part.
    async fn run(self, ctx: &Ctx, grant: Granted<WriteTable>, claim: &Claim) -> Result<JobDone> {
        let core = &ctx.core;
        let table = load(ctx, &grant).await?;
        let file = source_file(ctx, grant.token(), Some(self.file_id)).await?;
        let (store, key) = (core.table_store.clone(), table.storage_key.clone());
        let (job, now, mode) = (claim.id, time::now(), self.mode());
        let input = files::sync_reader(core, &file).await?;
        let target = table.clone();
        let layout = self.layout;
        let loaded = tokio::task::spawn_blocking(move || -> Result<_> {
            let (loaded, counts) = match store.begin_load(&key, mode, job)? {
                Begun::Committed(loaded) => {
                    tracing::warn!(
                        job_id = job,
                        "the rows of this job had committed before its worker stopped; not loading them again"
                    );
                    (loaded, None)
                }
                Begun::Ready(load) => {
                    let current = load.schema()?;
                    let (header, mut rows, counts) = open_rows(input, &layout, &current.columns)?;
                    let mut typed = typed::TypedRows::new(&mut rows, &header, &target)?;
                    let rows: &mut (dyn RowSource + Send) = match typed.as_mut() {
                        Some(typed) => typed,
                        None => &mut rows,
                    };
                    (load.run(&header, now, rows)?, Some(counts))
                }
            };
            let Loaded { data, imported, swap } = loaded;
            Ok((data.schema()?, data.stats()?, imported, swap, counts))
        })
        .await
        .map_err(Error::internal)??;
        let (schema, stats, imported, swap, counts) = loaded;
        let token = grant.token().clone();
        let incremental = self.incremental;
        let claim = claim.clone();
        let swapped = swap.clone();
        let finished = ctx
            .write(move |w, ctx| {
                let mut table =
                    w.table(table.project_id, &table.id)?.ok_or_else(|| not_found(table.project_id, &table.id))?;
                // Jobs of one table run one at a time, so the table still names the storage this
                // job read; a drop that came first ended it above.
                if let Some(swap) = &swapped {
                    if !w.replace_table_storage(table.pk, &swap.old, &swap.new)? {
                        return Err(Error::internal("the table's storage changed during its full load"));
                    }
                }
                mirror(&mut table, &schema, stats, now, true);
                w.update_table_stats(&table)?;
                let happened = Happened::about(
                    "storage.tableImportDone",
                    "table",
                    &table.id,
                    format!("Imported table {}", table.id),
                )
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
        if let Some(swap) = swap {
            remove_storage(core, vec![swap.leftover(finished.is_ok())]).await;
        }
        finished
    }
}
