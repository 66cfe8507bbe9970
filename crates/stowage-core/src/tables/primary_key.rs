//! The primary key: set or removed, as a job.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use stowage_types::auth::{Granted, WriteTable};
use stowage_types::job::Job;
use stowage_types::names::TableId;
use stowage_types::{time, Error, Result};

use super::{load, mirror, not_found, primary_key};
use crate::events::{record, Happened};
use crate::jobs::{Claim, JobDone, Kind};
use crate::Ctx;

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
    let kind = PrimaryKey { table_id: grant.table_id().clone(), columns };
    ctx.core.jobs.submit(ctx, grant.token(), kind).await
}

/// The job that sets (`Some`) or removes (`None`) a table's primary key: `tablePrimaryKeyAdd` or
/// `tablePrimaryKeyDelete`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrimaryKey {
    table_id: TableId,
    columns: Option<Vec<String>>,
}

impl Kind for PrimaryKey {
    const TAG: &'static str = "primaryKey";
    type Permission = WriteTable;

    fn permission(&self) -> WriteTable {
        WriteTable(self.table_id.clone())
    }

    fn operation_name(&self) -> &'static str {
        if self.columns.is_some() {
            "tablePrimaryKeyAdd"
        } else {
            "tablePrimaryKeyDelete"
        }
    }

    fn operation_params(&self) -> Value {
        json!({ "columns": self.columns })
    }

    fn table_id(&self) -> Option<String> {
        Some(self.table_id.to_string())
    }

    /// Sets or removes the key in the table's storage, then mirrors it. A takeover runs it again:
    /// setting the same key, or removing a missing one, changes nothing.
    async fn run(self, ctx: &Ctx, grant: Granted<WriteTable>, claim: &Claim) -> Result<JobDone> {
        let columns = self.columns;
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
            let mut table =
                w.table(table.project_id, &table.id)?.ok_or_else(|| not_found(table.project_id, &table.id))?;
            mirror(&mut table, &schema, stats, time::now(), false);
            w.update_table_stats(&table)?;
            let (event, message) = match &columns {
                Some(_) => ("storage.tablePrimaryKeyAdded", format!("Set the primary key of table {}", table.id)),
                None => ("storage.tablePrimaryKeyDeleted", format!("Removed the primary key of table {}", table.id)),
            };
            let happened = Happened::about(event, "table", &table.id, message)
                .with_params(json!({ "primaryKey": table.primary_key }));
            record(w, ctx, table.project_id, Some(&token), happened)?;
            let done = JobDone::from(json!({ "id": table.id, "primaryKey": table.primary_key }));
            claim.succeed(w, &done)?;
            Ok(done)
        })
        .await
    }
}
