//! Table deletion, now or as the `tableDrop` job.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use stowage_types::auth::{Granted, WriteTable};
use stowage_types::job::Job;
use stowage_types::names::TableId;
use stowage_types::Result;

use super::{load, not_found, remove_storage};
use crate::events::{record, Happened};
use crate::jobs::{Claim, JobDone, Kind};
use crate::records::TableRecord;
use crate::Ctx;

/// Deletes a table now, or as a job (`tableDrop`).
pub async fn delete(ctx: &Ctx, grant: Granted<WriteTable>, run_async: bool) -> Result<Option<Job>> {
    let table = load(ctx, &grant).await?;
    if !run_async {
        delete_now(ctx, &grant, table, None).await?;
        return Ok(None);
    }
    let kind = TableDrop { table_id: grant.table_id().clone() };
    Ok(Some(ctx.core.jobs.submit(ctx, grant.token(), kind).await?))
}

/// The `tableDrop` job.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TableDrop {
    table_id: TableId,
}

impl Kind for TableDrop {
    const TAG: &'static str = "tableDrop";
    type Permission = WriteTable;

    fn permission(&self) -> WriteTable {
        WriteTable(self.table_id.clone())
    }

    fn operation_params(&self) -> Value {
        json!({ "tableId": self.table_id })
    }

    fn table_id(&self) -> Option<String> {
        Some(self.table_id.to_string())
    }

    async fn run(self, ctx: &Ctx, grant: Granted<WriteTable>, claim: &Claim) -> Result<JobDone> {
        let table = load(ctx, &grant).await?;
        delete_now(ctx, &grant, table, Some(claim)).await?;
        Ok(JobDone::from(Value::Null))
    }
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
