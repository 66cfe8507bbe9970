//! File records and their tags.

use stowage_types::time::Timestamp;
use stowage_types::Result;

use crate::records::{FileFilter, FileRecord};
use crate::sql::{dynamic, params, Row, Value as SqlValue};
use crate::{Reader, Writer};

const COLUMNS: &str = "id, project_id, name, blob_key, size_bytes, content_type, is_public, is_permanent, is_encrypted,
    created, uploaded, run_id, creator_token_id, creator_token_description, max_age_days";

fn file(row: &Row<'_>) -> Result<FileRecord> {
    Ok(FileRecord {
        id: row.get(0)?,
        project_id: row.get(1)?,
        name: row.get(2)?,
        blob_key: row.get(3)?,
        size_bytes: row.get(4)?,
        content_type: row.get(5)?,
        is_public: row.get(6)?,
        is_permanent: row.get(7)?,
        is_encrypted: row.get(8)?,
        created: row.get(9)?,
        uploaded: row.get(10)?,
        run_id: row.get(11)?,
        creator_token_id: row.get(12)?,
        creator_token_description: row.get(13)?,
        max_age_days: row.get(14)?,
        tags: Vec::new(),
    })
}

impl Reader<'_> {
    fn attach_tags(&self, file: &mut FileRecord) -> Result<()> {
        let rows =
            self.conn.rows("SELECT tag FROM file_tags WHERE file_id = ?1 ORDER BY tag", params![file.id], |row| {
                row.get(0)
            })?;
        file.tags = rows;
        Ok(())
    }

    /// One file of a project.
    pub fn file(&self, project_id: i64, id: i64) -> Result<Option<FileRecord>> {
        let found = self.conn.row(
            &format!("SELECT {COLUMNS} FROM files WHERE project_id = ?1 AND id = ?2"),
            params![project_id, id],
            file,
        )?;
        let Some(mut found) = found else { return Ok(None) };
        self.attach_tags(&mut found)?;
        Ok(Some(found))
    }

    /// The blocks a file's bytes are made of (key, size), in order; empty when its bytes are the
    /// object at its own key.
    pub fn file_blocks(&self, id: i64) -> Result<Vec<(String, i64)>> {
        self.conn.rows(
            "SELECT blob_key, size_bytes FROM file_blocks WHERE file_id = ?1 ORDER BY position",
            params![id],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
    }

    /// Files that are not permanent and older than their `max_age_days` at `now`, oldest first.
    pub fn expired_files(&self, now: Timestamp, limit: i64) -> Result<Vec<FileRecord>> {
        self.conn.rows(
            &format!(
                "SELECT {COLUMNS} FROM files WHERE is_permanent = 0 AND created + max_age_days * 86400 < ?1 \
                 ORDER BY id LIMIT ?2"
            ),
            params![now, limit],
            file,
        )
    }

    /// Files never uploaded, created before `before`, with an id above `after`, in id order: their
    /// upload credential has expired, so what they staged can never be committed.
    pub fn abandoned_uploads(&self, before: Timestamp, after: i64, limit: i64) -> Result<Vec<i64>> {
        self.conn.rows(
            "SELECT id FROM files WHERE uploaded IS NULL AND created < ?1 AND id > ?2 ORDER BY id LIMIT ?3",
            params![before, after, limit],
            |row| row.get(0),
        )
    }

    /// The bytes a project's files still uploading, created at `since` or later, have staged.
    pub fn staged_bytes(&self, project_id: i64, since: Timestamp) -> Result<i64> {
        self.conn.one(
            "SELECT CAST(COALESCE(SUM(staged_bytes), 0) AS BIGINT) FROM files \
             WHERE project_id = ?1 AND uploaded IS NULL AND created >= ?2",
            params![project_id, since],
            |row| row.get(0),
        )
    }

    /// A file by id, whatever its project (for the blob endpoint, which checks the project itself).
    pub fn file_by_id(&self, id: i64) -> Result<Option<FileRecord>> {
        let found = self.conn.row(&format!("SELECT {COLUMNS} FROM files WHERE id = ?1"), params![id], file)?;
        let Some(mut found) = found else { return Ok(None) };
        self.attach_tags(&mut found)?;
        Ok(Some(found))
    }

    /// Files matching a filter, newest first.
    pub fn files(&self, filter: &FileFilter) -> Result<Vec<FileRecord>> {
        let mut sql = format!("SELECT {COLUMNS} FROM files WHERE project_id = ?");
        let mut args: Vec<SqlValue<'static>> = vec![filter.project_id.into()];
        if let Some(token_id) = filter.creator_token_id {
            sql.push_str(" AND creator_token_id = ?");
            args.push(token_id.into());
        }
        if let Some(since) = filter.since_id {
            sql.push_str(" AND id > ?");
            args.push(since.into());
        }
        if let Some(max) = filter.max_id {
            sql.push_str(" AND id < ?");
            args.push(max.into());
        }
        if let Some(run_id) = &filter.run_id {
            sql.push_str(" AND run_id = ?");
            args.push(run_id.clone().into());
        }
        if !filter.any_tags.is_empty() {
            let marks = vec!["?"; filter.any_tags.len()].join(", ");
            sql.push_str(&format!(" AND id IN (SELECT file_id FROM file_tags WHERE tag IN ({marks}))"));
            args.extend(filter.any_tags.iter().map(|tag| SqlValue::from(tag.clone())));
        }
        for tag in &filter.all_tags {
            sql.push_str(" AND id IN (SELECT file_id FROM file_tags WHERE tag = ?)");
            args.push(tag.clone().into());
        }
        sql.push_str(" ORDER BY id DESC LIMIT ? OFFSET ?");
        args.push(filter.limit.into());
        args.push(filter.offset.into());
        let rows = self.conn.rows(&sql, &dynamic(&args), file)?;
        let mut files: Vec<FileRecord> = rows;
        for found in &mut files {
            self.attach_tags(found)?;
        }
        Ok(files)
    }
}

impl Writer<'_> {
    /// Stores a new file record (not yet uploaded) with its tags; returns its id. The blob key
    /// embeds the id, so it is set with `set_file_blob_key` in the same transaction.
    pub fn insert_file(&self, file: &FileRecord) -> Result<i64> {
        let id = self.conn().one(
            "INSERT INTO files (project_id, name, blob_key, size_bytes, content_type, is_public, is_permanent,
                    is_encrypted, created, uploaded, run_id, creator_token_id, creator_token_description, max_age_days)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) RETURNING id",
            params![
                file.project_id,
                file.name,
                file.blob_key,
                file.size_bytes,
                file.content_type,
                file.is_public,
                file.is_permanent,
                file.is_encrypted,
                file.created,
                file.uploaded,
                file.run_id,
                file.creator_token_id,
                file.creator_token_description,
                file.max_age_days,
            ],
            |row| row.get(0),
        )?;
        for tag in &file.tags {
            self.add_file_tag(id, tag)?;
        }
        Ok(id)
    }

    /// Sets where a file's bytes live.
    pub fn set_file_blob_key(&self, id: i64, blob_key: &str) -> Result<()> {
        self.conn().execute("UPDATE files SET blob_key = ?2 WHERE id = ?1", params![id, blob_key])?;
        Ok(())
    }

    /// Records that a file's bytes are these objects (key, size) one after another.
    pub fn set_file_blocks(&self, id: i64, blocks: &[(String, i64)]) -> Result<()> {
        for (position, (key, size)) in blocks.iter().enumerate() {
            self.conn().execute(
                "INSERT INTO file_blocks (file_id, position, blob_key, size_bytes) VALUES (?1, ?2, ?3, ?4)",
                params![id, position as i64, key.as_str(), *size],
            )?;
        }
        Ok(())
    }

    /// Counts `bytes` more staged by a file.
    pub fn add_file_staged_bytes(&self, id: i64, bytes: i64) -> Result<()> {
        self.conn().execute("UPDATE files SET staged_bytes = staged_bytes + ?2 WHERE id = ?1", params![id, bytes])?;
        Ok(())
    }

    /// Records that a file's bytes are complete.
    pub fn set_file_uploaded(&self, id: i64, size_bytes: i64, at: Timestamp) -> Result<()> {
        self.conn()
            .execute("UPDATE files SET size_bytes = ?2, uploaded = ?3 WHERE id = ?1", params![id, size_bytes, at])?;
        Ok(())
    }

    /// Adds a tag (no-op when present).
    pub fn add_file_tag(&self, id: i64, tag: &str) -> Result<()> {
        self.conn()
            .execute("INSERT INTO file_tags (file_id, tag) VALUES (?1, ?2) ON CONFLICT DO NOTHING", params![id, tag])?;
        Ok(())
    }

    /// Removes a tag; returns whether it was there.
    pub fn remove_file_tag(&self, id: i64, tag: &str) -> Result<bool> {
        let removed = self.conn().execute("DELETE FROM file_tags WHERE file_id = ?1 AND tag = ?2", params![id, tag])?;
        Ok(removed > 0)
    }

    /// Deletes a file record.
    pub fn delete_file(&self, id: i64) -> Result<bool> {
        Ok(self.conn().execute("DELETE FROM files WHERE id = ?1", params![id])? > 0)
    }
}
