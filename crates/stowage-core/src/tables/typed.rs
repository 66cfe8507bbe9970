//! Typed tables: `tables-definition` creates a table from column definitions with Keboola's base
//! types (`definition.rs`); imports into it check each value and keep its canonical text (so
//! exports and previews return that); `columns` adds a column, typed in a typed table (`column.rs`).
//!
//! Table storage keeps text on every engine: the types live in the catalog (`TableRecord::definition`)
//! and in the columns' `storage` metadata (`KBC.datatype.*`), and the check happens before a row
//! reaches storage, so a bad value fails the import with its line, column, value and type, and the
//! table stays as it was (imports are all or nothing).

use std::io::BufRead;

use stowage_store::table_data::RowSource;
use stowage_store::Writer;
use stowage_types::datatype::{BaseType, ColumnType};
use stowage_types::{time, Code, Error, Result};

use super::Rows;
use crate::records::TableRecord;

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

pub(super) fn invalid(message: impl Into<String>) -> Error {
    Error::new(Code::TableValidation, message)
}

impl ColumnSpec {
    pub(super) fn has_type(&self) -> bool {
        self.basetype.is_some() || self.type_name.is_some()
    }

    /// The column's checked definition; a key column is not nullable unless it says otherwise (and
    /// it may not).
    pub(super) fn resolve(&self, in_key: bool) -> Result<ColumnType> {
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

/// Writes a typed column's `storage` metadata: `KBC.datatype.type`, `basetype`, `length`,
/// `nullable` and `default`, as Keboola describes typed columns.
pub(super) fn column_metadata(w: &Writer<'_>, project_id: i64, table_id: &str, column: &ColumnType) -> Result<()> {
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
