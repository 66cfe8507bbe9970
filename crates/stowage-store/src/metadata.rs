//! Metadata entries of branches, buckets, tables, columns and configurations.

use stowage_types::time::Timestamp;
use stowage_types::Result;

use crate::records::MetadataEntry;
use crate::sql::{params, Row};
use crate::{Reader, Writer};

const COLUMNS: &str = "id, object_type, object_id, provider, key, value, timestamp";

fn entry(row: &Row<'_>) -> Result<MetadataEntry> {
    Ok(MetadataEntry {
        id: row.get(0)?,
        object_type: row.get(1)?,
        object_id: row.get(2)?,
        provider: row.get(3)?,
        key: row.get(4)?,
        value: row.get(5)?,
        timestamp: row.get(6)?,
    })
}

impl Reader<'_> {
    /// Metadata of one object, oldest first.
    pub fn metadata(&self, project_id: i64, object_type: &str, object_id: &str) -> Result<Vec<MetadataEntry>> {
        self.conn.rows(&format!(
                "SELECT {COLUMNS} FROM metadata WHERE project_id = ?1 AND object_type = ?2 AND object_id = ?3 ORDER BY id"
            ), params![project_id, object_type, object_id], entry)
    }

    /// One metadata entry by id.
    pub fn metadata_entry(&self, project_id: i64, id: i64) -> Result<Option<MetadataEntry>> {
        self.conn.row(
            &format!("SELECT {COLUMNS} FROM metadata WHERE project_id = ?1 AND id = ?2"),
            params![project_id, id],
            entry,
        )
    }
}

impl Writer<'_> {
    /// Inserts or updates the entry of (object, provider, key), where `object` is (type, id). The
    /// timestamp moves only when the value changes.
    pub fn upsert_metadata(
        &self,
        project_id: i64,
        (object_type, object_id): (&str, &str),
        provider: &str,
        (key, value): (&str, &str),
        now: Timestamp,
    ) -> Result<()> {
        self.conn()
            .execute(
                "INSERT INTO metadata (project_id, object_type, object_id, provider, key, value, timestamp)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (project_id, object_type, object_id, provider, key) DO UPDATE SET
                    value = excluded.value,
                    timestamp = CASE WHEN metadata.value = excluded.value THEN metadata.timestamp ELSE excluded.timestamp END",
                params![project_id, object_type, object_id, provider, key, value, now],)?;
        Ok(())
    }

    /// Deletes one entry.
    pub fn delete_metadata(&self, project_id: i64, id: i64) -> Result<bool> {
        let deleted =
            self.conn().execute("DELETE FROM metadata WHERE project_id = ?1 AND id = ?2", params![project_id, id])?;
        Ok(deleted > 0)
    }
}
