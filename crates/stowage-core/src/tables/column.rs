//! The `tableColumnAdd` job: a column added to a table, typed in a typed table.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use stowage_types::auth::{Granted, WriteTable};
use stowage_types::datatype::ColumnType;
use stowage_types::job::Job;
use stowage_types::names::TableId;
use stowage_types::{time, Error, Result};

use super::typed::{column_metadata, invalid, ColumnSpec};
use super::{load, mirror, not_found, validate_columns};
use crate::events::{record, Happened};
use crate::jobs::{Claim, JobDone, Kind};
use crate::Ctx;

/// What a `tableColumnAdd` job adds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ColumnAdd {
    table_id: TableId,
    name: String,
    definition: Option<ColumnType>,
}

/// Adds a column, as a job (`tableColumnAdd`): typed (`definition` or `basetype` given) in a typed
/// table, text in an untyped one. Existing rows get the column's default, or an empty value, so a
/// new column that is not nullable needs a default.
pub async fn add_column(ctx: &Ctx, grant: Granted<WriteTable>, spec: ColumnSpec) -> Result<Job> {
    let table = load(ctx, &grant).await?;
    validate_columns(std::slice::from_ref(&spec.name))?;
    if table.columns.iter().any(|c| c.eq_ignore_ascii_case(&spec.name)) {
        return Err(invalid(format!("The column \"{}\" is already in the table {}.", spec.name, table.id)));
    }
    let definition = match (&table.definition, spec.has_type()) {
        (Some(_), true) => {
            let column = spec.resolve(false)?;
            if !column.nullable && column.default.is_none() && table.rows_count > 0 {
                return Err(invalid(format!(
                    "Column \"{}\" is not nullable and has no default, so the table's rows would have no value for it.",
                    spec.name
                )));
            }
            Some(column)
        }
        (Some(_), false) => {
            return Err(invalid(format!(
                "The table {} is typed: give the column \"{}\" a basetype or definition.type.",
                table.id, spec.name
            )))
        }
        (None, true) => {
            return Err(invalid(format!(
                "The table {} is not typed: its columns take no type; add \"{}\" with its name only.",
                table.id, spec.name
            )))
        }
        (None, false) => None,
    };
    let kind = ColumnAdd { table_id: grant.table_id().clone(), name: spec.name, definition };
    ctx.core.jobs.submit(ctx, grant.token(), kind).await
}

impl Kind for ColumnAdd {
    const TAG: &'static str = "columnAdd";
    type Permission = WriteTable;

    fn permission(&self) -> WriteTable {
        WriteTable(self.table_id.clone())
    }

    fn operation_name(&self) -> &'static str {
        "tableColumnAdd"
    }

    fn operation_params(&self) -> Value {
        json!({ "name": self.name, "definition": self.definition })
    }

    fn table_id(&self) -> Option<String> {
        Some(self.table_id.to_string())
    }

    /// Adds the column to the table's storage (with its native type where the engine has them;
    /// the rows take its default) and to its definition. A takeover runs it again: a column
    /// already added is not added twice.
    async fn run(self, ctx: &Ctx, grant: Granted<WriteTable>, claim: &Claim) -> Result<JobDone> {
        let ColumnAdd { name, definition, .. } = self;
        let table = load(ctx, &grant).await?;
        let (store, key) = (ctx.core.table_store.clone(), table.storage_key.clone());
        let (added, typed) = (name.clone(), definition.clone());
        let (schema, stats) = tokio::task::spawn_blocking(move || -> Result<_> {
            let mut data = store.open(&key)?;
            let mut schema = data.schema()?;
            if !schema.columns.contains(&added) {
                schema = data.add_column(&added, typed.as_ref())?;
            }
            Ok((schema, data.stats()?))
        })
        .await
        .map_err(Error::internal)??;
        let token = grant.token().clone();
        let claim = claim.clone();
        ctx.write(move |w, ctx| {
            let mut table =
                w.table(table.project_id, &table.id)?.ok_or_else(|| not_found(table.project_id, &table.id))?;
            mirror(&mut table, &schema, stats, time::now(), false);
            if let (Some(columns), Some(column)) = (table.definition.as_mut(), &definition) {
                if !columns.iter().any(|c| c.name == column.name) {
                    columns.push(column.clone());
                }
                column_metadata(w, table.project_id, &table.id, column)?;
            }
            w.update_table_stats(&table)?;
            let happened = Happened::about(
                "storage.tableColumnAdded",
                "table",
                &table.id,
                format!("Added column {name} to table {}", table.id),
            )
            .with_params(json!({ "column": name, "definition": definition }));
            record(w, ctx, table.project_id, Some(&token), happened)?;
            let done = JobDone::from(json!({ "id": table.id, "columns": table.columns }));
            claim.succeed(w, &done)?;
            Ok(done)
        })
        .await
    }
}
