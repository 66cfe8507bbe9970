//! The `tableDefinitionCreate` job: a table created from column definitions, typed or not.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use stowage_store::table_data::Schema;
use stowage_types::auth::{Granted, WriteBucket};
use stowage_types::datatype::ColumnType;
use stowage_types::job::Job;
use stowage_types::names::BucketId;
use stowage_types::{time, Error, Result};

use super::create::{new_table_id, register_new_table};
use super::typed::{column_metadata, invalid, ColumnSpec};
use super::{mirror, primary_key, remove_storage, validate_columns, validate_table_name};
use crate::events::{record, Happened};
use crate::jobs::{Claim, JobDone, Kind};
use crate::records::TableRecord;
use crate::Ctx;

/// A `tables-definition` request.
#[derive(Debug, Default)]
pub struct DefinitionRequest {
    pub name: Option<String>,
    pub primary_key: Vec<String>,
    pub columns: Vec<ColumnSpec>,
}

/// What a `tableDefinitionCreate` job builds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TableDefinitionCreate {
    name: String,
    bucket_id: BucketId,
    columns: Vec<String>,
    primary_key: Vec<String>,
    /// `None` when no column named a type: the table is an untyped one.
    definition: Option<Vec<ColumnType>>,
}

/// Creates a table from column definitions, as a job (`tableDefinitionCreate`). Without a type on
/// any column the table is untyped, as in Keboola.
pub async fn create_definition(ctx: &Ctx, grant: Granted<WriteBucket>, request: DefinitionRequest) -> Result<Job> {
    let name = request.name.unwrap_or_default();
    validate_table_name(&name)?;
    if request.columns.is_empty() {
        return Err(invalid("Parameter \"columns\" must define at least one column."));
    }
    let columns: Vec<String> = request.columns.iter().map(|c| c.name.clone()).collect();
    validate_columns(&columns)?;
    let key = primary_key("primaryKeysNames", request.primary_key)?;
    let key: Vec<String> =
        key.iter()
            .map(|k| {
                columns.iter().find(|c| c.eq_ignore_ascii_case(k)).cloned().ok_or_else(|| {
                    invalid(format!("The primary key column \"{k}\" is not one of the defined columns."))
                })
            })
            .collect::<Result<_>>()?;
    let typed = request.columns.iter().filter(|c| c.has_type()).count();
    let definition = match typed {
        0 => None,
        n if n == request.columns.len() => Some(
            request.columns.iter().map(|c| c.resolve(key.iter().any(|k| k == &c.name))).collect::<Result<Vec<_>>>()?,
        ),
        _ => {
            let untyped = request.columns.iter().find(|c| !c.has_type()).map(|c| c.name.as_str()).unwrap_or_default();
            return Err(invalid(format!(
                "Column \"{untyped}\" has no type: in a typed table every column has one (basetype or definition.type)."
            )));
        }
    };
    let bucket_id = grant.scope().0.clone();
    new_table_id(ctx, grant.project_id(), bucket_id.as_str(), &name).await?;
    let kind = TableDefinitionCreate { name, bucket_id, columns, primary_key: key, definition };
    ctx.core.jobs.submit(ctx, grant.token(), kind).await
}

impl Kind for TableDefinitionCreate {
    const TAG: &'static str = "tableDefinitionCreate";
    type Permission = WriteBucket;

    fn permission(&self) -> WriteBucket {
        WriteBucket(self.bucket_id.clone())
    }

    fn operation_params(&self) -> Value {
        json!({
            "name": self.name, "primaryKeysNames": self.primary_key,
            "columns": self.definition.as_ref().map_or_else(|| json!(self.columns), |d| json!(d)),
        })
    }

    fn table_id(&self) -> Option<String> {
        Some(format!("{}.{}", self.bucket_id, self.name))
    }

    /// Creates the table's storage (no rows) and registers it with its definition. A takeover runs
    /// it again: the table is in the catalog only if the job ended.
    async fn run(self, ctx: &Ctx, grant: Granted<WriteBucket>, claim: &Claim) -> Result<JobDone> {
        let table_id = format!("{}.{}", self.bucket_id, self.name);
        let TableDefinitionCreate { name, columns, primary_key, definition, .. } = self;
        let core = &ctx.core;
        let storage_key = core.table_store.new_key();
        let (store, key) = (core.table_store.clone(), storage_key.clone());
        let schema = Schema { columns, primary_key, types: definition.clone() };
        let job = claim.id;
        let built = tokio::task::spawn_blocking(move || -> Result<_> {
            // Stored with the job as its marker, as every import stores: until the job ends, the
            // sweep of a shared catalog leaves storage no table owns yet alone.
            let header = schema.columns.clone();
            let mut no_rows = std::iter::empty();
            let (data, _) = store.create_loaded(&key, &schema, &header, time::now(), &mut no_rows, Some(job))?;
            Ok((data.schema()?, data.stats()?))
        })
        .await
        .map_err(Error::internal)
        .and_then(|result| result);
        let (schema, stats) = match built {
            Ok(built) => built,
            Err(error) => {
                remove_storage(core, vec![storage_key]).await;
                return Err(error);
            }
        };
        let token = grant.token().clone();
        let now = time::now();
        let mut table = TableRecord {
            project_id: token.project_id,
            bucket_id: grant.scope().0.to_string(),
            id: table_id,
            name: name.clone(),
            display_name: name,
            created: now,
            storage_key: storage_key.clone(),
            definition,
            ..TableRecord::default()
        };
        mirror(&mut table, &schema, stats, now, false);
        register_new_table(ctx, claim, table, move |w, ctx, table| {
            for column in table.definition.iter().flatten() {
                column_metadata(w, table.project_id, &table.id, column)?;
            }
            let typed = table.definition.is_some();
            let created =
                Happened::about("storage.tableCreated", "table", &table.id, format!("Created table {}", table.id))
                    .with_params(
                        json!({ "columns": table.columns, "primaryKey": table.primary_key, "isTyped": typed }),
                    );
            record(w, ctx, table.project_id, Some(&token), created)?;
            Ok(JobDone::from(json!({
                "id": table.id, "name": table.name, "columns": table.columns, "primaryKey": table.primary_key,
                "isTyped": typed,
            })))
        })
        .await
    }
}
