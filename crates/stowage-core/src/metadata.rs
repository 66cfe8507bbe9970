//! Metadata of buckets, tables and columns: entries upserted by (provider, key).
//!
//! The grant names what the metadata belongs to ([`Scope`]): reading takes any of the read or write
//! permissions on a bucket, table or column; writing and deleting take a write one ([`Writes`]).

use std::collections::BTreeMap;

use stowage_types::auth::{
    Granted, Permission, ReadBucket, ReadColumn, ReadTable, WriteBucket, WriteColumn, WriteTable,
};
use stowage_types::{time, Code, Error, Result};

use crate::records::MetadataEntry;
use crate::Ctx;

/// Longest metadata key.
pub const MAX_KEY_LEN: usize = 255;
/// Longest metadata value, in bytes.
pub const MAX_VALUE_BYTES: usize = 256 * 1024;
/// Longest provider name.
pub const MAX_PROVIDER_LEN: usize = 255;

/// What metadata belongs to.
#[derive(Debug, Clone)]
pub enum Target {
    Bucket(String),
    Table(String),
    /// (table id, column name).
    Column(String, String),
}

/// A permission on the object whose metadata it reaches.
pub trait Scope: Permission {
    /// The object the permission names.
    fn target(&self) -> Target;
}

/// A permission that may change the metadata of its object.
pub trait Writes: Scope {}

impl Scope for ReadBucket {
    fn target(&self) -> Target {
        Target::Bucket(self.0.to_string())
    }
}
impl Scope for WriteBucket {
    fn target(&self) -> Target {
        Target::Bucket(self.0.to_string())
    }
}
impl Scope for ReadTable {
    fn target(&self) -> Target {
        Target::Table(self.0.to_string())
    }
}
impl Scope for WriteTable {
    fn target(&self) -> Target {
        Target::Table(self.0.to_string())
    }
}
impl Scope for ReadColumn {
    fn target(&self) -> Target {
        Target::Column(self.0.to_string(), self.1.clone())
    }
}
impl Scope for WriteColumn {
    fn target(&self) -> Target {
        Target::Column(self.0.to_string(), self.1.clone())
    }
}
impl Writes for WriteBucket {}
impl Writes for WriteTable {}
impl Writes for WriteColumn {}

impl Target {
    fn object(&self) -> (&'static str, String) {
        match self {
            Target::Bucket(id) => ("bucket", id.clone()),
            Target::Table(id) => ("table", id.clone()),
            Target::Column(table, column) => ("column", format!("{table}.{column}")),
        }
    }
}

/// Checks one key/value pair.
pub fn validate_entry(key: &str, value: &str) -> Result<()> {
    if key.is_empty()
        || key.len() > MAX_KEY_LEN
        || !key.chars().all(|c| c.is_ascii_alphanumeric() || "._-:".contains(c))
    {
        return Err(Error::new(
            Code::MetadataValidation,
            format!("Invalid metadata key \"{key}\": use 1 to {MAX_KEY_LEN} characters of letters, digits, '.', '_', '-' and ':'."),
        ));
    }
    if value.len() > MAX_VALUE_BYTES {
        return Err(Error::new(
            Code::MetadataValidation,
            format!("The value of metadata key \"{key}\" is longer than {MAX_VALUE_BYTES} bytes."),
        ));
    }
    Ok(())
}

/// Checks a non-empty list of key/value pairs.
pub fn validate_entries(entries: &[(String, String)]) -> Result<()> {
    if entries.is_empty() {
        return Err(Error::new(
            Code::MetadataValidation,
            "Invalid data - metadata: at least one {key, value} entry is required.",
        ));
    }
    entries.iter().try_for_each(|(key, value)| validate_entry(key, value))
}

fn validate_provider(provider: &str) -> Result<()> {
    if provider.trim().is_empty() || provider.len() > MAX_PROVIDER_LEN {
        return Err(Error::new(Code::MetadataValidation, "Invalid data - provider: This value should not be blank."));
    }
    Ok(())
}

/// Checks that the target exists (and, for a column, that the table has it).
fn check_target(r: &stowage_store::Reader<'_>, project_id: i64, target: &Target) -> Result<()> {
    match target {
        Target::Bucket(id) => {
            r.bucket(project_id, id)?.ok_or_else(|| crate::buckets::not_found(project_id, id))?;
        }
        Target::Table(id) => {
            r.table(project_id, id)?.ok_or_else(|| table_not_found(project_id, id))?;
        }
        Target::Column(table, column) => {
            let found = r.table(project_id, table)?.ok_or_else(|| table_not_found(project_id, table))?;
            if !found.columns.iter().any(|c| c == column) {
                return Err(Error::new(
                    Code::MetadataValidation,
                    format!("The table \"{table}\" has no column \"{column}\"."),
                ));
            }
        }
    }
    Ok(())
}

fn table_not_found(project_id: i64, id: &str) -> Error {
    Error::new(Code::TableNotFound, format!("The table \"{id}\" was not found in the project \"{project_id}\""))
}

/// Metadata of the object the grant names.
pub async fn list<P: Scope>(ctx: &Ctx, grant: &Granted<P>) -> Result<Vec<MetadataEntry>> {
    let (project_id, target) = (grant.project_id(), grant.scope().target());
    ctx.core
        .store
        .read(move |r| {
            check_target(r, project_id, &target)?;
            let (kind, id) = target.object();
            r.metadata(project_id, kind, &id)
        })
        .await
}

/// Upserts entries of one provider on the object the grant names, and on columns of a table;
/// returns the object's entries and those of every column given, after the change.
pub async fn upsert<P: Writes>(
    ctx: &Ctx,
    grant: &Granted<P>,
    provider: String,
    entries: Vec<(String, String)>,
    columns: BTreeMap<String, Vec<(String, String)>>,
) -> Result<(Vec<MetadataEntry>, BTreeMap<String, Vec<MetadataEntry>>)> {
    validate_provider(&provider)?;
    if entries.is_empty() && columns.is_empty() {
        return Err(Error::new(
            Code::MetadataValidation,
            "Invalid data - metadata: at least one {key, value} entry is required.",
        ));
    }
    for (key, value) in entries.iter().chain(columns.values().flatten()) {
        validate_entry(key, value)?;
    }
    let (project_id, target) = (grant.project_id(), grant.scope().target());
    ctx.core
        .store
        .write(move |w| {
            check_target(w, project_id, &target)?;
            let column_targets: Vec<(String, Target)> = match &target {
                Target::Table(table) => {
                    columns.keys().map(|c| (c.clone(), Target::Column(table.clone(), c.clone()))).collect()
                }
                _ if columns.is_empty() => vec![],
                _ => {
                    return Err(Error::new(
                        Code::MetadataValidation,
                        "Column metadata can only be set through a table.",
                    ))
                }
            };
            for (_, column) in &column_targets {
                check_target(w, project_id, column)?;
            }
            let now = time::now();
            let (kind, id) = target.object();
            for (key, value) in &entries {
                w.upsert_metadata(project_id, (kind, &id), &provider, (key, value), now)?;
            }
            let mut by_column = BTreeMap::new();
            for (name, column) in &column_targets {
                let (column_kind, column_id) = column.object();
                for (key, value) in &columns[name] {
                    w.upsert_metadata(project_id, (column_kind, &column_id), &provider, (key, value), now)?;
                }
                by_column.insert(name.clone(), w.metadata(project_id, column_kind, &column_id)?);
            }
            Ok((w.metadata(project_id, kind, &id)?, by_column))
        })
        .await
}

/// Deletes one entry of the object the grant names.
pub async fn delete<P: Writes>(ctx: &Ctx, grant: &Granted<P>, entry_id: i64) -> Result<()> {
    let (project_id, target) = (grant.project_id(), grant.scope().target());
    ctx.core
        .store
        .write(move |w| {
            check_target(w, project_id, &target)?;
            let not_found = || Error::new(Code::MetadataNotFound, format!("Metadata with id \"{entry_id}\" not found"));
            let entry = w.metadata_entry(project_id, entry_id)?.ok_or_else(not_found)?;
            let (kind, id) = target.object();
            if entry.object_type != kind || entry.object_id != id {
                return Err(not_found());
            }
            w.delete_metadata(project_id, entry_id)?;
            Ok(())
        })
        .await
}
