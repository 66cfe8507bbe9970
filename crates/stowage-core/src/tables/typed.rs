//! Typed tables: `tables-definition` creates a table from column definitions with Keboola's base
//! types; imports into it check each value and keep its canonical text (so exports and previews
//! return that); `columns` adds a column, typed in a typed table.
//!
//! Table storage keeps text on every engine: the types live in the catalog (`TableRecord::definition`)
//! and in the columns' `storage` metadata (`KBC.datatype.*`), and the check happens before a row
//! reaches storage, so a bad value fails the import with its line, column, value and type, and the
//! table stays as it was (imports are all or nothing).

use std::io::BufRead;

use serde::{Deserialize, Serialize};
use serde_json::json;
use stowage_store::Writer;
use stowage_types::auth::{Granted, WriteBucket, WriteTable};
use stowage_types::datatype::{BaseType, ColumnType};
use stowage_types::job::Job;
use stowage_types::{time, Code, Error, Result};

use super::{
    load, mirror, new_table_id, not_found, primary_key, register_new_table, remove_storage, validate_columns,
    validate_table_name, Rows,
};
use crate::events::{record, Happened};
use crate::jobs::{Claim, JobDone, Work};
use crate::records::TableRecord;
use crate::Ctx;
use stowage_store::table_data::{RowSource, Schema};

/// A column as a client defines it: a base type, or a database type name, with its settings.
#[derive(Debug, Clone, Default)]
pub struct ColumnSpec {
    pub name: String,
    pub basetype: Option<String>,
    pub type_name: Option<String>,
    pub length: Option<String>,
    pub nullable: Option<bool>,
    pub default: Option<String>,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(Code::TableValidation, message)
}

impl ColumnSpec {
    fn has_type(&self) -> bool {
        self.basetype.is_some() || self.type_name.is_some()
    }

    /// The column's checked definition; a key column is not nullable unless it says otherwise (and
    /// it may not).
    fn resolve(&self, in_key: bool) -> Result<ColumnType> {
        let name = &self.name;
        let basetype = match (&self.basetype, &self.type_name) {
            (Some(base), _) => BaseType::parse(base).ok_or_else(|| {
                let all: Vec<&str> = BaseType::ALL.iter().map(|b| b.name()).collect();
                invalid(format!("Column \"{name}\": basetype \"{base}\" is not one of {}.", all.join(", ")))
            })?,
            (None, Some(type_name)) => BaseType::of_type(type_name).ok_or_else(|| {
                invalid(format!(
                    "Column \"{name}\": type \"{type_name}\" is not a type this stack keeps; give a basetype \
                     (STRING, INTEGER, NUMERIC, FLOAT, BOOLEAN, DATE, TIMESTAMP) instead."
                ))
            })?,
            (None, None) => {
                return Err(invalid(format!("Column \"{name}\" has no type: give it a basetype or definition.type.")))
            }
        };
        if in_key && self.nullable == Some(true) {
            return Err(invalid(format!("Column \"{name}\" is in the primary key, so it cannot be nullable.")));
        }
        let column = ColumnType {
            name: name.clone(),
            basetype,
            length: self.length.clone(),
            nullable: self.nullable.unwrap_or(!in_key),
            default: self.default.clone(),
        };
        column.checked().map_err(|reason| invalid(format!("Column \"{name}\": {reason}.")))
    }
}

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
pub struct DefinitionWork {
    name: String,
    pub(crate) bucket_id: String,
    table_id: String,
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
    let project_id = grant.project_id();
    let bucket_id = grant.scope().0.to_string();
    let table_id = new_table_id(ctx, project_id, &bucket_id, &name).await?;
    let params = json!({
        "name": name, "primaryKeysNames": key,
        "columns": definition.as_ref().map_or_else(|| json!(columns), |d| json!(d)),
    });
    let work = DefinitionWork { name, bucket_id, table_id: table_id.clone(), columns, primary_key: key, definition };
    let work = Work::TableDefinitionCreate(work);
    ctx.core.jobs.submit(ctx, grant.token(), "tableDefinitionCreate", params, Some(table_id), work).await
}

/// Writes a typed column's `storage` metadata: `KBC.datatype.type`, `basetype`, `length`,
/// `nullable` and `default`, as Keboola describes typed columns.
fn column_metadata(w: &Writer<'_>, project_id: i64, table_id: &str, column: &ColumnType) -> Result<()> {
    let object = format!("{table_id}.{}", column.name);
    let now = time::now();
    let mut entries = vec![
        ("KBC.datatype.type", column.basetype.native().to_string()),
        ("KBC.datatype.basetype", column.basetype.name().to_string()),
        ("KBC.datatype.nullable", if column.nullable { "1" } else { "" }.to_string()),
    ];
    if let Some(length) = &column.length {
        entries.push(("KBC.datatype.length", length.clone()));
    }
    if let Some(default) = &column.default {
        entries.push(("KBC.datatype.default", default.clone()));
    }
    for (key, value) in entries {
        w.upsert_metadata(project_id, ("column", &object), "storage", (key, &value), now)?;
    }
    Ok(())
}

/// Creates the table's storage (no rows) and registers it with its definition. A takeover runs it
/// again: the table is in the catalog only if the job ended.
pub(crate) async fn definition_work(
    ctx: &Ctx,
    grant: Granted<WriteBucket>,
    work: DefinitionWork,
    claim: &Claim,
) -> Result<JobDone> {
    let DefinitionWork { name, table_id, columns, primary_key, definition, .. } = work;
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
                .with_params(json!({ "columns": table.columns, "primaryKey": table.primary_key, "isTyped": typed }));
        record(w, ctx, table.project_id, Some(&token), created)?;
        Ok(JobDone::from(json!({
            "id": table.id, "name": table.name, "columns": table.columns, "primaryKey": table.primary_key,
            "isTyped": typed,
        })))
    })
    .await
}

/// The rows of an import into a typed table: each value checked against its column and replaced
/// by its canonical text. (They take the general path of the table store, value by value.)
pub(super) struct TypedRows<'a, R> {
    rows: &'a mut Rows<R>,
    /// The column of each value, in the order of the file's header.
    columns: Vec<ColumnType>,
}

impl<'a, R: BufRead> TypedRows<'a, R> {
    /// The header's columns must all be in the definition (a typed table takes no new column from
    /// a file: add it with its type first).
    pub(super) fn new(rows: &'a mut Rows<R>, header: &[String], table: &TableRecord) -> Result<Option<Self>> {
        let Some(definition) = &table.definition else { return Ok(None) };
        let columns = header
            .iter()
            .map(|name| {
                definition.iter().find(|c| c.name.eq_ignore_ascii_case(name)).cloned().ok_or_else(|| {
                    Error::new(
                        Code::TableValidation,
                        format!(
                            "The column \"{name}\" of the file is not a column of the typed table {}; add it with \
                             its type first (POST tables/{}/columns).",
                            table.id, table.id
                        ),
                    )
                })
            })
            .collect::<Result<_>>()?;
        Ok(Some(TypedRows { rows, columns }))
    }
}

/// At most this many characters of a bad value go into the error.
const SHOWN: usize = 100;

impl<R: BufRead> RowSource for TypedRows<'_, R> {
    fn next_values(&mut self) -> Result<Option<Vec<String>>> {
        let Some((line, mut values)) = self.rows.next_line()? else { return Ok(None) };
        for (value, column) in values.iter_mut().zip(&self.columns) {
            match column.canonical(value) {
                Ok(canonical) => *value = canonical,
                Err(reason) => {
                    let shown: String = value.chars().take(SHOWN).collect();
                    let cut = if value.chars().count() > SHOWN { "…" } else { "" };
                    let kind = match (&column.basetype, &column.length) {
                        (BaseType::String, None) => column.basetype.name().to_string(),
                        (base, Some(length)) => format!("{}({length})", base.name()),
                        (base, None) => base.name().to_string(),
                    };
                    return Err(Error::new(
                        Code::TypedValueInvalid,
                        format!(
                            "Invalid value on line {line}, column \"{}\" ({kind}): \"{shown}{cut}\" {reason}.",
                            column.name
                        ),
                    ));
                }
            }
        }
        Ok(Some(values))
    }
}

/// What a `tableColumnAdd` job adds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ColumnWork {
    pub(crate) table_id: String,
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
    let params = json!({ "name": spec.name, "definition": definition });
    let work = Work::ColumnAdd(ColumnWork { table_id: table.id.clone(), name: spec.name, definition });
    ctx.core.jobs.submit(ctx, grant.token(), "tableColumnAdd", params, Some(table.id), work).await
}

/// Adds the column to the table's storage (with its native type where the engine has them; the
/// rows take its default) and to its definition. A takeover runs it again: a column already added
/// is not added twice.
pub(crate) async fn column_work(
    ctx: &Ctx,
    grant: Granted<WriteTable>,
    work: ColumnWork,
    claim: &Claim,
) -> Result<JobDone> {
    let ColumnWork { name, definition, .. } = work;
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
        let mut table = w.table(table.project_id, &table.id)?.ok_or_else(|| not_found(table.project_id, &table.id))?;
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
