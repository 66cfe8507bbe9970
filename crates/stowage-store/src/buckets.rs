//! Buckets of a project.

use stowage_types::time::Timestamp;
use stowage_types::{Code, Error, Result};

use crate::records::Bucket;
use crate::sql::{params, Row};
use crate::{Reader, Writer};

const BUCKET_COLUMNS: &str =
    "project_id, id, name, display_name, stage, description, backend, color, created, updated, last_change";

fn bucket(row: &Row<'_>) -> Result<Bucket> {
    Ok(Bucket {
        project_id: row.get(0)?,
        id: row.get(1)?,
        name: row.get(2)?,
        display_name: row.get(3)?,
        stage: row.get(4)?,
        description: row.get(5)?,
        backend: row.get(6)?,
        color: row.get(7)?,
        created: row.get(8)?,
        updated: row.get(9)?,
        last_change: row.get(10)?,
    })
}

impl Reader<'_> {
    /// All buckets of a project, ordered by id.
    pub fn buckets(&self, project_id: i64) -> Result<Vec<Bucket>> {
        self.conn.rows(
            &format!("SELECT {BUCKET_COLUMNS} FROM buckets WHERE project_id = ?1 ORDER BY id"),
            params![project_id],
            bucket,
        )
    }

    /// One bucket.
    pub fn bucket(&self, project_id: i64, id: &str) -> Result<Option<Bucket>> {
        self.conn.row(
            &format!("SELECT {BUCKET_COLUMNS} FROM buckets WHERE project_id = ?1 AND id = ?2"),
            params![project_id, id],
            bucket,
        )
    }

    /// The bucket of a project that has this display name, if any.
    pub fn bucket_by_display_name(&self, project_id: i64, display_name: &str) -> Result<Option<Bucket>> {
        self.conn.row(
            &format!("SELECT {BUCKET_COLUMNS} FROM buckets WHERE project_id = ?1 AND display_name = ?2"),
            params![project_id, display_name],
            bucket,
        )
    }
}

impl Writer<'_> {
    /// Stores a new bucket.
    pub fn insert_bucket(&self, bucket: &Bucket) -> Result<()> {
        self.conn().insert(
            &format!("INSERT INTO buckets ({BUCKET_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"),
            params![
                bucket.project_id,
                bucket.id,
                bucket.name,
                bucket.display_name,
                bucket.stage,
                bucket.description,
                bucket.backend,
                bucket.color,
                bucket.created,
                bucket.updated,
                bucket.last_change,
            ],
            || Error::new(Code::BucketAlreadyExists, format!("The bucket \"{}\" already exists.", bucket.id)),
        )?;
        Ok(())
    }

    /// Writes the changeable fields of a bucket.
    pub fn update_bucket(&self, bucket: &Bucket, updated: Timestamp) -> Result<()> {
        self.conn().execute(
            "UPDATE buckets SET display_name = ?3, description = ?4, color = ?5, updated = ?6
                 WHERE project_id = ?1 AND id = ?2",
            params![bucket.project_id, bucket.id, bucket.display_name, bucket.description, bucket.color, updated],
        )?;
        Ok(())
    }

    /// Deletes a bucket with its grants and its metadata.
    pub fn delete_bucket(&self, project_id: i64, id: &str) -> Result<bool> {
        self.conn().execute(
            "DELETE FROM metadata WHERE project_id = ?1 AND object_type = 'bucket' AND object_id = ?2",
            params![project_id, id],
        )?;
        let deleted =
            self.conn().execute("DELETE FROM buckets WHERE project_id = ?1 AND id = ?2", params![project_id, id])?;
        Ok(deleted > 0)
    }
}
