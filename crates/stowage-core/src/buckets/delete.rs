//! Bucket deletion, now or as the `bucketDelete` job.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use stowage_types::auth::{Granted, ManageBucket};
use stowage_types::job::Job;
use stowage_types::names::BucketId;
use stowage_types::{Code, Error, Result};

use super::not_found;
use crate::events::{record, Happened};
use crate::jobs::{Claim, JobDone, Kind};
use crate::Ctx;

/// How to delete a bucket.
#[derive(Debug, Default, Clone, Copy)]
pub struct DeleteOptions {
    /// Delete the bucket with its tables; without it a bucket that holds tables is refused.
    pub force: bool,
    /// Run as a job and answer with it.
    pub run_async: bool,
}

/// Deletes a bucket now (`Ok(None)`) or as a job (`Ok(Some(job))`). A missing bucket is reported
/// at once, also when a job was asked for.
pub async fn delete(ctx: &Ctx, grant: Granted<ManageBucket>, options: DeleteOptions) -> Result<Option<Job>> {
    let project_id = grant.project_id();
    let id = grant.scope().0.to_string();
    let (exists, tables) = {
        let id = id.clone();
        ctx.core
            .store
            .read(move |r| Ok((r.bucket(project_id, &id)?.is_some(), r.tables(project_id, Some(&id))?.len())))
            .await?
    };
    if !exists {
        return Err(not_found(project_id, &id));
    }
    if tables > 0 && !options.force {
        return Err(not_empty(&id, tables));
    }
    if !options.run_async {
        delete_now(ctx, &grant, options.force, None).await?;
        return Ok(None);
    }
    let kind = BucketDelete { bucket_id: grant.scope().0.clone(), force: options.force };
    Ok(Some(ctx.core.jobs.submit(ctx, grant.token(), kind).await?))
}

/// The `bucketDelete` job.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BucketDelete {
    bucket_id: BucketId,
    force: bool,
}

impl Kind for BucketDelete {
    const TAG: &'static str = "bucketDelete";
    type Permission = ManageBucket;

    fn permission(&self) -> ManageBucket {
        ManageBucket(self.bucket_id.clone())
    }

    fn operation_params(&self) -> Value {
        json!({ "bucketId": self.bucket_id, "force": self.force })
    }

    async fn run(self, ctx: &Ctx, grant: Granted<ManageBucket>, claim: &Claim) -> Result<JobDone> {
        delete_now(ctx, &grant, self.force, Some(claim)).await.map(|()| JobDone::from(Value::Null))
    }
}

fn not_empty(id: &str, tables: usize) -> Error {
    Error::new(
        Code::BucketNotEmpty,
        format!("The bucket \"{id}\" is not empty: it holds {tables} table(s). Delete them first, or use force to delete them with it."),
    )
}

/// Removes the bucket (and with `force` its tables) from the catalog with its event and the
/// outcome of the job that does it, if any, then the tables' files.
async fn delete_now(ctx: &Ctx, grant: &Granted<ManageBucket>, force: bool, claim: Option<&Claim>) -> Result<()> {
    let token = grant.token().clone();
    let id = grant.scope().0.to_string();
    let claim = claim.cloned();
    let removed = ctx
        .write(move |w, ctx| {
            let project_id = token.project_id;
            let tables = w.tables(project_id, Some(&id))?;
            if !tables.is_empty() && !force {
                return Err(not_empty(&id, tables.len()));
            }
            for table in &tables {
                w.delete_table(project_id, &table.id)?;
            }
            if !w.delete_bucket(project_id, &id)? {
                return Err(not_found(project_id, &id));
            }
            let happened = Happened::about("storage.bucketDeleted", "bucket", &id, format!("Deleted bucket {id}"));
            record(w, ctx, project_id, Some(&token), happened)?;
            if let Some(claim) = &claim {
                claim.succeed(w, &JobDone::from(Value::Null))?;
            }
            Ok(tables)
        })
        .await?;
    crate::tables::remove_storage(&ctx.core, removed.into_iter().map(|table| table.storage_key).collect()).await;
    Ok(())
}
