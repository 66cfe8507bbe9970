//! The default branch and its (project-level) metadata.

use stowage_types::auth::{AnyToken, Granted, WriteProjectMetadata};
use stowage_types::{time, Code, Error, Result};

use crate::records::{Branch, MetadataEntry};
use crate::Ctx;

fn branch_not_found(id: &str) -> Error {
    Error::new(Code::BranchNotFound, format!("Branch \"{id}\" not found"))
}

/// Resolves a branch reference from a path: `default` or the default branch's numeric id. Other
/// (development) branches do not exist on this stack.
pub async fn resolve(ctx: &Ctx, project_id: i64, reference: &str) -> Result<Branch> {
    let default = ctx.core.store.read(move |r| r.default_branch(project_id)).await?;
    if reference == "default" || reference.parse::<i64>().ok() == Some(default.id) {
        Ok(default)
    } else {
        Err(branch_not_found(reference))
    }
}

/// All branches of the project.
pub async fn list(ctx: &Ctx, grant: &Granted<AnyToken>) -> Result<Vec<Branch>> {
    let project_id = grant.project_id();
    ctx.core.store.read(move |r| r.branches(project_id)).await
}

/// One branch.
pub async fn get(ctx: &Ctx, grant: &Granted<AnyToken>, reference: &str) -> Result<Branch> {
    resolve(ctx, grant.project_id(), reference).await
}

fn object_id(branch: &Branch) -> String {
    branch.id.to_string()
}

/// Metadata of a branch.
pub async fn metadata(ctx: &Ctx, grant: &Granted<AnyToken>, reference: &str) -> Result<Vec<MetadataEntry>> {
    let branch = resolve(ctx, grant.project_id(), reference).await?;
    let project_id = grant.project_id();
    ctx.core.store.read(move |r| r.metadata(project_id, "branch", &object_id(&branch))).await
}

/// Upserts metadata entries of a branch by key; returns all entries after the change.
pub async fn set_metadata(
    ctx: &Ctx,
    grant: &Granted<WriteProjectMetadata>,
    reference: &str,
    entries: Vec<(String, String)>,
) -> Result<Vec<MetadataEntry>> {
    crate::metadata::validate_entries(&entries)?;
    let branch = resolve(ctx, grant.project_id(), reference).await?;
    let project_id = grant.project_id();
    ctx.core
        .store
        .write(move |w| {
            let now = time::now();
            let id = object_id(&branch);
            for (key, value) in &entries {
                w.upsert_metadata(project_id, ("branch", &id), "", (key, value), now)?;
            }
            w.metadata(project_id, "branch", &id)
        })
        .await
}

/// Deletes one metadata entry of a branch.
pub async fn delete_metadata(
    ctx: &Ctx,
    grant: &Granted<WriteProjectMetadata>,
    reference: &str,
    entry_id: i64,
) -> Result<()> {
    let branch = resolve(ctx, grant.project_id(), reference).await?;
    let project_id = grant.project_id();
    ctx.core
        .store
        .write(move |w| {
            let not_found = || Error::new(Code::MetadataNotFound, format!("Metadata with id \"{entry_id}\" not found"));
            let entry = w.metadata_entry(project_id, entry_id)?.ok_or_else(not_found)?;
            if entry.object_type != "branch" || entry.object_id != object_id(&branch) {
                return Err(not_found());
            }
            w.delete_metadata(project_id, entry_id)?;
            Ok(())
        })
        .await
}
