//! Buckets of a project.

use stowage_types::time::Timestamp;
use stowage_types::{Code, Error, Result};

use crate::records::{Bucket, BucketSharing};
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

/// Reads the sharing of the buckets `sql` selects (`pk, project_id, id, sharing, shared_by_token_id,
/// shared_by_name, shared`), with their targets.
fn sharings(r: &Reader<'_>, sql: &str, values: crate::sql::Params<'_>) -> Result<Vec<BucketSharing>> {
    let rows = r.conn.rows(sql, values, |row| {
        Ok((
            row.get::<i64>(0)?,
            BucketSharing {
                project_id: row.get(1)?,
                bucket_id: row.get(2)?,
                sharing: row.get(3)?,
                shared_by: (row.get::<Option<i64>>(4)?.unwrap_or(0), row.get::<Option<String>>(5)?.unwrap_or_default()),
                shared: row.get::<Option<i64>>(6)?.unwrap_or(0),
                projects: vec![],
                users: vec![],
            },
        ))
    })?;
    let mut out = Vec::with_capacity(rows.len());
    for (pk, mut sharing) in rows {
        sharing.projects = r.conn.rows(
            "SELECT p.id, p.name FROM bucket_share_targets t JOIN projects p ON p.id = t.project_id
              WHERE t.bucket_pk = ?1 ORDER BY p.id",
            params![pk],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        sharing.users = r.conn.rows(
            "SELECT u.id, u.email, u.name, u.created FROM bucket_share_targets t JOIN users u ON u.id = t.user_id
              WHERE t.bucket_pk = ?1 ORDER BY u.id",
            params![pk],
            crate::projects::user,
        )?;
        out.push(sharing);
    }
    Ok(out)
}

const SHARING_COLUMNS: &str = "pk, project_id, id, sharing, shared_by_token_id, shared_by_name, shared";

impl Reader<'_> {
    /// How a bucket is shared; `None` when it is not.
    pub fn bucket_sharing(&self, project_id: i64, id: &str) -> Result<Option<BucketSharing>> {
        let sql =
            format!("SELECT {SHARING_COLUMNS} FROM buckets WHERE project_id = ?1 AND id = ?2 AND sharing IS NOT NULL");
        Ok(sharings(self, &sql, params![project_id, id])?.into_iter().next())
    }

    /// The shared buckets of a project.
    pub fn project_sharings(&self, project_id: i64) -> Result<Vec<BucketSharing>> {
        let sql =
            format!("SELECT {SHARING_COLUMNS} FROM buckets WHERE project_id = ?1 AND sharing IS NOT NULL ORDER BY id");
        sharings(self, &sql, params![project_id])
    }

    /// Every shared bucket of the projects of an organization, by project and bucket id.
    pub fn organization_sharings(&self, organization_id: i64) -> Result<Vec<BucketSharing>> {
        let sql = format!(
            "SELECT {} FROM buckets b JOIN projects p ON p.id = b.project_id
              WHERE p.organization_id = ?1 AND b.sharing IS NOT NULL ORDER BY b.project_id, b.id",
            SHARING_COLUMNS.split(", ").map(|c| format!("b.{c}")).collect::<Vec<_>>().join(", ")
        );
        sharings(self, &sql, params![organization_id])
    }
}

/// A bucket's new sharing: the kind, who shares it and when, and the target project or user ids.
pub struct NewSharing<'a> {
    pub sharing: &'a str,
    pub by: (i64, &'a str),
    pub at: Timestamp,
    pub projects: &'a [i64],
    pub users: &'a [i64],
}

impl Writer<'_> {
    /// Shares a bucket (`Some`) with these targets in place of any before, or stops sharing it
    /// (`None`). False when there is no such bucket.
    pub fn set_bucket_sharing(&self, project_id: i64, id: &str, sharing: Option<&NewSharing<'_>>) -> Result<bool> {
        let Some(pk) = self.conn().row(
            "SELECT pk FROM buckets WHERE project_id = ?1 AND id = ?2",
            params![project_id, id],
            |row| row.get::<i64>(0),
        )?
        else {
            return Ok(false);
        };
        self.conn().execute("DELETE FROM bucket_share_targets WHERE bucket_pk = ?1", params![pk])?;
        match sharing {
            Some(new) => {
                self.conn().execute(
                    "UPDATE buckets SET sharing = ?2, shared_by_token_id = ?3, shared_by_name = ?4, shared = ?5
                      WHERE pk = ?1",
                    params![pk, new.sharing, new.by.0, new.by.1, new.at],
                )?;
                for project in new.projects {
                    self.conn().execute(
                        "INSERT INTO bucket_share_targets (bucket_pk, project_id) VALUES (?1, ?2)",
                        params![pk, project],
                    )?;
                }
                for user in new.users {
                    self.conn().execute(
                        "INSERT INTO bucket_share_targets (bucket_pk, user_id) VALUES (?1, ?2)",
                        params![pk, user],
                    )?;
                }
            }
            None => {
                self.conn().execute(
                    "UPDATE buckets SET sharing = NULL, shared_by_token_id = NULL, shared_by_name = NULL, shared = NULL
                      WHERE pk = ?1",
                    params![pk],
                )?;
            }
        }
        Ok(true)
    }
}
