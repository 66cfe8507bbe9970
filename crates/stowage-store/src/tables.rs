//! Table records: identity plus the mirror of each data file's schema and statistics.

use stowage_types::{Code, Error, Result};

use crate::records::TableRecord;
use crate::sql::{params, Row};
use crate::{Reader, Writer};

const COLUMNS: &str = "t.pk, t.project_id, b.id, t.id, t.name, t.display_name, t.columns, t.primary_key, t.rows_count,
    t.data_size_bytes, t.created, t.last_import, t.last_change, t.data_file, t.imports, t.definition";
const FROM: &str = "tables t JOIN buckets b ON b.pk = t.bucket_pk";

fn table(row: &Row<'_>) -> Result<(TableRecord, String, String, Option<String>)> {
    let record = TableRecord {
        pk: row.get(0)?,
        project_id: row.get(1)?,
        bucket_id: row.get(2)?,
        id: row.get(3)?,
        name: row.get(4)?,
        display_name: row.get(5)?,
        columns: vec![],
        primary_key: vec![],
        rows_count: row.get(8)?,
        data_size_bytes: row.get(9)?,
        created: row.get(10)?,
        last_import: row.get(11)?,
        last_change: row.get(12)?,
        storage_key: row.get(13)?,
        imports: row.get(14)?,
        definition: None,
    };
    Ok((record, row.get(6)?, row.get(7)?, row.get(15)?))
}

fn finish(
    (mut record, columns, primary_key, definition): (TableRecord, String, String, Option<String>),
) -> Result<TableRecord> {
    record.columns = serde_json::from_str(&columns).map_err(Error::internal)?;
    record.primary_key = serde_json::from_str(&primary_key).map_err(Error::internal)?;
    record.definition = definition.map(|text| serde_json::from_str(&text)).transpose().map_err(Error::internal)?;
    Ok(record)
}

fn definition_text(record: &TableRecord) -> Result<Option<String>> {
    record.definition.as_ref().map(serde_json::to_string).transpose().map_err(Error::internal)
}

impl Reader<'_> {
    /// One table of a project.
    pub fn table(&self, project_id: i64, id: &str) -> Result<Option<TableRecord>> {
        self.conn
            .row(
                &format!("SELECT {COLUMNS} FROM {FROM} WHERE t.project_id = ?1 AND t.id = ?2"),
                params![project_id, id],
                table,
            )?
            .map(finish)
            .transpose()
    }

    /// The storage keys of every table of the stack.
    pub fn table_storage_keys(&self) -> Result<std::collections::HashSet<String>> {
        let rows = self.conn.rows("SELECT data_file FROM tables", params![], |row| row.get(0))?;
        Ok(rows.into_iter().collect())
    }

    /// Tables of a project, or of one bucket, ordered by id.
    pub fn tables(&self, project_id: i64, bucket_id: Option<&str>) -> Result<Vec<TableRecord>> {
        let rows = self.conn.rows(
            &format!(
                "SELECT {COLUMNS} FROM {FROM} WHERE t.project_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR b.id = ?2) ORDER BY t.id"
            ),
            params![project_id, bucket_id],
            table,
        )?;
        rows.into_iter().map(finish).collect()
    }
}

impl Writer<'_> {
    /// Stores a new table record; returns its internal key.
    pub fn insert_table(&self, record: &TableRecord) -> Result<i64> {
        // A missing bucket leaves `bucket_pk` NULL, which the schema refuses: callers check first.
        self.conn().insert_returning(
            "INSERT INTO tables (project_id, bucket_pk, id, name, display_name, columns, primary_key, rows_count,
                    data_size_bytes, created, last_import, last_change, data_file, imports, definition)
                 VALUES (?1, (SELECT pk FROM buckets WHERE project_id = ?1 AND id = ?2), ?3, ?4, ?5, ?6, ?7, ?8, ?9,
                    ?10, ?11, ?12, ?13, ?14, ?15)
                 RETURNING pk",
            params![
                record.project_id,
                record.bucket_id,
                record.id,
                record.name,
                record.display_name,
                serde_json::to_string(&record.columns).map_err(Error::internal)?,
                serde_json::to_string(&record.primary_key).map_err(Error::internal)?,
                record.rows_count,
                record.data_size_bytes,
                record.created,
                record.last_import,
                record.last_change,
                record.storage_key,
                record.imports,
                definition_text(record)?,
            ],
            || Error::new(Code::TableAlreadyExists, format!("The table \"{}\" already exists.", record.id)),
        )
    }

    /// Writes the mirrored schema and statistics of a table.
    pub fn update_table_stats(&self, record: &TableRecord) -> Result<()> {
        self.conn().execute(
            "UPDATE tables SET columns = ?2, primary_key = ?3, rows_count = ?4, data_size_bytes = ?5,
                    last_import = ?6, last_change = ?7, imports = ?8, definition = ?9 WHERE pk = ?1",
            params![
                record.pk,
                serde_json::to_string(&record.columns).map_err(Error::internal)?,
                serde_json::to_string(&record.primary_key).map_err(Error::internal)?,
                record.rows_count,
                record.data_size_bytes,
                record.last_import,
                record.last_change,
                record.imports,
                definition_text(record)?,
            ],
        )?;
        Ok(())
    }

    /// Points a table at storage that replaces the storage `old` (a full load's); false when the
    /// table no longer names `old`.
    pub fn replace_table_storage(&self, pk: i64, old: &str, new: &str) -> Result<bool> {
        let changed = self
            .conn()
            .execute("UPDATE tables SET data_file = ?3 WHERE pk = ?1 AND data_file = ?2", params![pk, old, new])?;
        Ok(changed == 1)
    }

    /// Deletes a table record with its metadata (table and column entries).
    pub fn delete_table(&self, project_id: i64, id: &str) -> Result<bool> {
        self.conn()
            .execute(
                "DELETE FROM metadata WHERE project_id = ?1
                   AND ((object_type = 'table' AND object_id = ?2) OR (object_type = 'column' AND object_id LIKE ?3 ESCAPE '\\'))",
                params![project_id, id, format!("{}.%", id.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))],)?;
        Ok(self.conn().execute("DELETE FROM tables WHERE project_id = ?1 AND id = ?2", params![project_id, id])? > 0)
    }
}
