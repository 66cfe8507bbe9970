//! Buckets: create, list, detail, update, delete (synchronously or as a job: `delete.rs`).

mod delete;
mod sharing;

pub use delete::{delete, BucketDelete, DeleteOptions};
pub use sharing::{list_shared, parse_sharing, share, unshare, BucketShare, BucketUnshare, SharedBucket, Targets};

use serde_json::json;
use stowage_types::auth::{AnyToken, CreateBuckets, Granted, ManageBucket, ReadBucket};
use stowage_types::names::{validate_bucket_name, BucketId, Stage};
use stowage_types::{time, Code, Error, Result};

use crate::events::{self, record, Happened};
use crate::records::{Bucket, BucketSharing, MetadataEntry};
use crate::Ctx;

/// The table backend buckets of this stack use.
pub const BACKEND: &str = "sqlite";

/// A bucket with what a view may include.
pub struct BucketView {
    pub bucket: Bucket,
    /// Filled when the caller asked for metadata (list `include=metadata`, and always in detail).
    pub metadata: Option<Vec<MetadataEntry>>,
    /// How the bucket is shared, if it is.
    pub sharing: Option<BucketSharing>,
}

/// Fields of a new bucket as the client sent them.
#[derive(Debug, Default)]
pub struct NewBucket {
    pub name: Option<String>,
    pub stage: Option<String>,
    pub description: Option<String>,
    pub display_name: Option<String>,
    pub backend: Option<String>,
    pub color: Option<String>,
    /// Keboola's link request: the project and bucket to link.
    pub source_project_id: Option<String>,
    pub source_bucket_id: Option<String>,
}

/// The 404 of a missing bucket.
pub fn not_found(project_id: i64, id: &str) -> Error {
    Error::new(Code::BucketNotFound, format!("The bucket \"{id}\" was not found in the project \"{project_id}\""))
}

/// Parses a bucket id from a path; an id that cannot exist is simply not found.
pub fn parse_id(project_id: i64, id: &str) -> Result<BucketId> {
    BucketId::parse(id).ok_or_else(|| not_found(project_id, id))
}

/// Creates a bucket.
pub async fn create(ctx: &Ctx, grant: &Granted<CreateBuckets>, input: NewBucket) -> Result<Bucket> {
    if input.source_project_id.is_some() || input.source_bucket_id.is_some() {
        // A client that asks for a link must never get a plain, empty bucket instead.
        return Err(Error::new(
            Code::BucketValidation,
            "Linking a shared bucket (sourceProjectId, sourceBucketId) is not available on this stack yet; no bucket was created.",
        ));
    }
    let name = input.name.unwrap_or_default();
    validate_bucket_name("name", &name)?;
    let stage = Stage::parse(input.stage.as_deref().unwrap_or("in"))?;
    let display_name = input.display_name.filter(|d| !d.is_empty()).unwrap_or_else(|| name.clone());
    validate_bucket_name("displayName", &display_name)?;
    if let Some(backend) = input.backend.as_deref().filter(|b| !b.is_empty() && *b != BACKEND) {
        return Err(Error::new(
            Code::BucketValidation,
            format!("Invalid data - backend: \"{backend}\" is not available in this project; use \"{BACKEND}\"."),
        ));
    }
    let id = BucketId::new(stage, &name);
    let now = time::now();
    let bucket = Bucket {
        project_id: grant.project_id(),
        id: id.to_string(),
        name: id.name().to_string(),
        display_name,
        stage: stage.as_str().to_string(),
        description: input.description.unwrap_or_default(),
        backend: BACKEND.into(),
        color: input.color.filter(|c| !c.is_empty()),
        created: now,
        updated: None,
        last_change: None,
    };
    let token = grant.token().clone();
    ctx.write(move |w, ctx| {
        if w.bucket(bucket.project_id, &bucket.id)?.is_some() {
            return Err(Error::new(
                Code::BucketAlreadyExists,
                format!("The bucket \"{}\" already exists in stage \"{}\".", bucket.name, bucket.stage),
            ));
        }
        if w.bucket_by_display_name(bucket.project_id, &bucket.display_name)?.is_some() {
            return Err(Error::new(
                Code::BucketAlreadyExists,
                format!("The display name \"{}\" already exists in project.", bucket.display_name),
            ));
        }
        w.insert_bucket(&bucket)?;
        let happened =
            Happened::about("storage.bucketCreated", "bucket", &bucket.id, format!("Created bucket {}", bucket.id));
        record(w, ctx, bucket.project_id, Some(&token), happened)?;
        Ok(bucket)
    })
    .await
}

/// Lists the buckets the token can read; records `storage.bucketsListed`.
pub async fn list(ctx: &Ctx, grant: &Granted<AnyToken>, with_metadata: bool) -> Result<Vec<BucketView>> {
    let token = grant.token().clone();
    let reader = token.clone();
    let read = async {
        ctx.core
            .store
            .lookup(move |r| {
                let token = reader;
                let mut views = Vec::new();
                let mut sharings = r.project_sharings(token.project_id)?;
                for bucket in r.buckets(token.project_id)? {
                    if token.bucket_access(&bucket.id).is_none() {
                        continue;
                    }
                    let metadata =
                        if with_metadata { Some(r.metadata(token.project_id, "bucket", &bucket.id)?) } else { None };
                    let sharing = sharings.iter().position(|s| s.bucket_id == bucket.id).map(|at| sharings.remove(at));
                    views.push(BucketView { bucket, metadata, sharing });
                }
                Ok(views)
            })
            .await
    };
    let happened =
        Happened { event: "storage.bucketsListed", message: "Listed buckets".into(), object: None, params: json!({}) };
    // A listing cannot fail for the caller's fault, so its event is sent first and committed
    // while the listing reads.
    let ((), views) = tokio::try_join!(events::record_read(ctx, token.project_id, &token, happened), read)?;
    Ok(views)
}

/// One bucket with its metadata.
pub async fn detail(ctx: &Ctx, grant: &Granted<ReadBucket>) -> Result<BucketView> {
    let project_id = grant.project_id();
    let id = grant.scope().0.to_string();
    ctx.core
        .store
        .read(move |r| {
            let bucket = r.bucket(project_id, &id)?.ok_or_else(|| not_found(project_id, &id))?;
            let metadata = r.metadata(project_id, "bucket", &id)?;
            let sharing = r.bucket_sharing(project_id, &id)?;
            Ok(BucketView { bucket, metadata: Some(metadata), sharing })
        })
        .await
}

/// Changeable fields of a bucket; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct BucketChanges {
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub color: Option<String>,
}

/// Updates a bucket.
pub async fn update(ctx: &Ctx, grant: &Granted<ManageBucket>, changes: BucketChanges) -> Result<BucketView> {
    if let Some(display_name) = &changes.display_name {
        validate_bucket_name("displayName", display_name)?;
    }
    let token = grant.token().clone();
    let id = grant.scope().0.to_string();
    ctx.write(move |w, ctx| {
        let project_id = token.project_id;
        let mut bucket = w.bucket(project_id, &id)?.ok_or_else(|| not_found(project_id, &id))?;
        if let Some(display_name) = changes.display_name {
            if w.bucket_by_display_name(project_id, &display_name)?.is_some() {
                return Err(Error::new(
                    Code::BucketAlreadyExists,
                    format!("The display name \"{display_name}\" already exists in project."),
                ));
            }
            bucket.display_name = display_name;
        }
        if let Some(description) = changes.description {
            bucket.description = description;
        }
        if let Some(color) = changes.color {
            bucket.color = (!color.is_empty()).then_some(color);
        }
        let now = time::now();
        w.update_bucket(&bucket, now)?;
        bucket.updated = Some(now);
        let happened =
            Happened::about("storage.bucketUpdated", "bucket", &bucket.id, format!("Updated bucket {}", bucket.id));
        record(w, ctx, project_id, Some(&token), happened)?;
        let metadata = w.metadata(project_id, "bucket", &bucket.id)?;
        let sharing = w.bucket_sharing(project_id, &bucket.id)?;
        Ok(BucketView { bucket, metadata: Some(metadata), sharing })
    })
    .await
}
