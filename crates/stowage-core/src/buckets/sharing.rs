//! Sharing a bucket within its project's organization (the `bucketShare` and `bucketUnshare` jobs)
//! and the list of buckets shared to a project. Who may share is [`ShareBucket`]; who sees a shared
//! bucket is [`Token::may_link`](stowage_types::auth::Token::may_link).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use stowage_store::{NewSharing, Writer};
use stowage_types::auth::{Granted, ListSharedBuckets, ShareBucket, Sharing};
use stowage_types::job::Job;
use stowage_types::names::BucketId;
use stowage_types::{time, Code, Error, Result};

use super::not_found;
use crate::events::{record, Happened};
use crate::jobs::{Claim, JobDone, Kind};
use crate::records::{Bucket, BucketSharing, Project, TableRecord};
use crate::Ctx;

/// What a share request names: the kind, and for the selected kinds its targets as sent (project ids;
/// user ids or emails).
#[derive(Debug, Clone, Default)]
pub struct Targets {
    pub projects: Option<Vec<String>>,
    pub users: Option<Vec<String>>,
}

/// Reads a sharing kind as `PUT .../share` sends it.
pub fn parse_sharing(name: Option<&str>) -> Result<Sharing> {
    let name = name.unwrap_or_default();
    Sharing::parse(name).ok_or_else(|| {
        Error::new(
            Code::InvalidSharingType,
            format!("Invalid sharing type \"{name}\": use organization, organization-project, selected-projects or selected-users."),
        )
    })
}

/// Shares a bucket (or, with `change`, changes how a shared bucket is shared), now (`Ok(None)`) or
/// as a job. Every check a client can fail is made before the job is queued.
pub async fn share(
    ctx: &Ctx,
    grant: Granted<ShareBucket>,
    sharing: Sharing,
    targets: Targets,
    change: bool,
    run_async: bool,
) -> Result<Option<Job>> {
    if change && !matches!(sharing, Sharing::Organization | Sharing::OrganizationProject) {
        return Err(Error::new(
            Code::InvalidSharingType,
            "Invalid sharing type: a shared bucket changes to organization or organization-project; share it to projects or users with share-to-projects or share-to-users.",
        ));
    }
    let project_id = grant.project_id();
    let (projects, users) = {
        let targets = targets.clone();
        ctx.core.store.read(move |r| resolve(r, project_id, sharing, &targets)).await?
    };
    let kind =
        BucketShare { bucket_id: grant.scope().0.clone(), sharing: sharing.as_str().into(), projects, users, change };
    {
        let kind = kind.clone();
        ctx.core.store.read(move |r| kind.check(r, project_id)).await?;
    }
    if !run_async {
        kind.apply(ctx, &grant, None).await?;
        return Ok(None);
    }
    Ok(Some(ctx.core.jobs.submit(ctx, grant.token(), kind).await?))
}

/// Stops sharing a bucket, now or as a job.
pub async fn unshare(ctx: &Ctx, grant: Granted<ShareBucket>, run_async: bool) -> Result<Option<Job>> {
    let project_id = grant.project_id();
    let kind = BucketUnshare { bucket_id: grant.scope().0.clone() };
    {
        let id = kind.bucket_id.to_string();
        ctx.core.store.read(move |r| shared(r, project_id, &id).map(drop)).await?;
    }
    if !run_async {
        kind.apply(ctx, &grant, None).await?;
        return Ok(None);
    }
    Ok(Some(ctx.core.jobs.submit(ctx, grant.token(), kind).await?))
}

/// The sharing of a bucket that must be shared.
fn shared(r: &stowage_store::Reader<'_>, project_id: i64, id: &str) -> Result<BucketSharing> {
    r.bucket(project_id, id)?.ok_or_else(|| not_found(project_id, id))?;
    r.bucket_sharing(project_id, id)?
        .ok_or_else(|| Error::new(Code::BucketNotShared, format!("The bucket {id} is not shared.")))
}

fn invalid_targets(message: String) -> Error {
    Error::new(Code::InvalidSharingTargets, message)
}

/// The target project and user ids of a share request, each checked: projects of the same
/// organization, users that exist.
fn resolve(
    r: &stowage_store::Reader<'_>,
    project_id: i64,
    sharing: Sharing,
    targets: &Targets,
) -> Result<(Vec<i64>, Vec<i64>)> {
    let listed = |values: &Option<Vec<String>>, field: &str| -> Result<Vec<String>> {
        match values.as_deref() {
            Some(values) if !values.is_empty() => Ok(values.iter().map(|v| v.trim().to_string()).collect()),
            _ => Err(invalid_targets(format!("Invalid data - {field}: This value should not be blank."))),
        }
    };
    match sharing {
        Sharing::SelectedProjects => {
            let organization = r.project(project_id)?.ok_or_else(|| Error::internal("token without its project"))?;
            let mut ids = Vec::new();
            for value in listed(&targets.projects, "targetProjectIds")? {
                let target = value
                    .parse::<i64>()
                    .ok()
                    .and_then(|id| r.project(id).transpose())
                    .transpose()?
                    .filter(|p| p.organization_id == organization.organization_id)
                    .ok_or_else(|| {
                        invalid_targets(format!(
                            "Invalid data - targetProjectIds: \"{value}\" is not a project of organization {}.",
                            organization.organization_id
                        ))
                    })?;
                if !ids.contains(&target.id) {
                    ids.push(target.id);
                }
            }
            Ok((ids, vec![]))
        }
        Sharing::SelectedUsers => {
            let mut ids = Vec::new();
            for value in listed(&targets.users, "targetUsers")? {
                let user = match value.parse::<i64>() {
                    Ok(id) => r.users_by_id(id)?,
                    Err(_) => r.user_by_email(&value.to_lowercase())?,
                };
                let user = user.ok_or_else(|| {
                    invalid_targets(format!("Invalid data - targetUsers: user \"{value}\" was not found."))
                })?;
                if !ids.contains(&user.id) {
                    ids.push(user.id);
                }
            }
            Ok((vec![], ids))
        }
        Sharing::Organization | Sharing::OrganizationProject => Ok((vec![], vec![])),
    }
}

/// The `bucketShare` job: share a bucket, or change how a shared one is shared.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BucketShare {
    bucket_id: BucketId,
    sharing: String,
    projects: Vec<i64>,
    users: Vec<i64>,
    change: bool,
}

impl BucketShare {
    /// What must hold for the share: the bucket exists; a change needs it shared; sharing again the
    /// same way is a mistake.
    fn check(&self, r: &stowage_store::Reader<'_>, project_id: i64) -> Result<()> {
        let id = self.bucket_id.as_str();
        r.bucket(project_id, id)?.ok_or_else(|| not_found(project_id, id))?;
        let before = r.bucket_sharing(project_id, id)?;
        match &before {
            None if self.change => Err(Error::new(Code::BucketNotShared, format!("The bucket {id} is not shared."))),
            Some(before) if before.sharing == self.sharing && same_targets(before, self) => Err(Error::new(
                Code::BucketShareTwice,
                format!("The bucket {id} is already shared as {}.", self.sharing),
            )),
            _ => Ok(()),
        }
    }

    async fn apply(self, ctx: &Ctx, grant: &Granted<ShareBucket>, claim: Option<&Claim>) -> Result<JobDone> {
        let token = grant.token().clone();
        let claim = claim.cloned();
        ctx.write(move |w, ctx| {
            let project_id = token.project_id;
            self.check(w, project_id)?;
            let id = self.bucket_id.as_str();
            let new = NewSharing {
                sharing: &self.sharing,
                by: (token.id, &token.description),
                at: time::now(),
                projects: &self.projects,
                users: &self.users,
            };
            w.set_bucket_sharing(project_id, id, Some(&new))?;
            let happened = Happened::about("storage.bucketShared", "bucket", id, format!("Shared bucket {id}"))
                .with_params(
                    json!({ "sharing": self.sharing, "targetProjectIds": self.projects, "targetUserIds": self.users }),
                );
            record(w, ctx, project_id, Some(&token), happened)?;
            let done = JobDone::from(json!({ "id": id, "sharing": self.sharing }));
            finish(w, claim.as_ref(), &done)?;
            Ok(done)
        })
        .await
    }
}

fn same_targets(before: &BucketSharing, new: &BucketShare) -> bool {
    let projects: Vec<i64> = before.projects.iter().map(|(id, _)| *id).collect();
    let users: Vec<i64> = before.users.iter().map(|u| u.id).collect();
    let sorted = |mut ids: Vec<i64>| {
        ids.sort_unstable();
        ids
    };
    sorted(projects) == sorted(new.projects.clone()) && sorted(users) == sorted(new.users.clone())
}

fn finish(w: &Writer<'_>, claim: Option<&Claim>, done: &JobDone) -> Result<()> {
    match claim {
        Some(claim) => claim.succeed(w, done),
        None => Ok(()),
    }
}

impl Kind for BucketShare {
    const TAG: &'static str = "bucketShare";
    type Permission = ShareBucket;

    fn permission(&self) -> ShareBucket {
        ShareBucket(self.bucket_id.clone())
    }

    fn operation_params(&self) -> Value {
        json!({ "bucketId": self.bucket_id, "sharing": self.sharing, "targetProjectIds": self.projects, "targetUserIds": self.users })
    }

    async fn run(self, ctx: &Ctx, grant: Granted<ShareBucket>, claim: &Claim) -> Result<JobDone> {
        self.apply(ctx, &grant, Some(claim)).await
    }
}

/// The `bucketUnshare` job.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BucketUnshare {
    bucket_id: BucketId,
}

impl BucketUnshare {
    async fn apply(self, ctx: &Ctx, grant: &Granted<ShareBucket>, claim: Option<&Claim>) -> Result<JobDone> {
        let token = grant.token().clone();
        let claim = claim.cloned();
        ctx.write(move |w, ctx| {
            let project_id = token.project_id;
            let id = self.bucket_id.as_str();
            shared(w, project_id, id)?;
            w.set_bucket_sharing(project_id, id, None)?;
            let happened =
                Happened::about("storage.bucketUnshared", "bucket", id, format!("Stopped sharing bucket {id}"));
            record(w, ctx, project_id, Some(&token), happened)?;
            let done = JobDone::from(Value::Null);
            finish(w, claim.as_ref(), &done)?;
            Ok(done)
        })
        .await
    }
}

impl Kind for BucketUnshare {
    const TAG: &'static str = "bucketUnshare";
    type Permission = ShareBucket;

    fn permission(&self) -> ShareBucket {
        ShareBucket(self.bucket_id.clone())
    }

    fn operation_params(&self) -> Value {
        json!({ "bucketId": self.bucket_id })
    }

    async fn run(self, ctx: &Ctx, grant: Granted<ShareBucket>, claim: &Claim) -> Result<JobDone> {
        self.apply(ctx, &grant, Some(claim)).await
    }
}

/// A bucket another project of the organization (or this one) shares, as `shared-buckets` lists it.
pub struct SharedBucket {
    pub project: Project,
    pub bucket: Bucket,
    pub sharing: BucketSharing,
    pub tables: Vec<TableRecord>,
}

/// The buckets shared within the token's organization that the token may link.
pub async fn list_shared(ctx: &Ctx, grant: &Granted<ListSharedBuckets>) -> Result<Vec<SharedBucket>> {
    let token = grant.token().clone();
    ctx.core
        .store
        .read(move |r| {
            let own = r.project(token.project_id)?.ok_or_else(|| Error::internal("token without its project"))?;
            let mut out = Vec::new();
            for sharing in r.organization_sharings(own.organization_id)? {
                let Some(kind) = Sharing::parse(&sharing.sharing) else { continue };
                let projects: Vec<i64> = sharing.projects.iter().map(|(id, _)| *id).collect();
                let users: Vec<i64> = sharing.users.iter().map(|u| u.id).collect();
                if !token.may_link(kind, &projects, &users) {
                    continue;
                }
                let (Some(project), Some(bucket)) =
                    (r.project(sharing.project_id)?, r.bucket(sharing.project_id, &sharing.bucket_id)?)
                else {
                    continue;
                };
                let tables = r.tables(sharing.project_id, Some(&sharing.bucket_id))?;
                out.push(SharedBucket { project, bucket, sharing, tables });
            }
            Ok(out)
        })
        .await
}
