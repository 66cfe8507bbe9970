//! What a kind of job is.
//!
//! A kind is one value, its parameters: the stored work is that value (tagged with [`Kind::TAG`]),
//! the job's `operationParams` and the permission are read from it, and [`Kind::run`] receives
//! it back. Adding a kind: a module with its type and its `impl Kind`, and one line in the list of
//! `crate::kinds`. Neither the runner (`jobs/mod.rs`) nor this module names a kind.

use std::future::Future;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use stowage_types::auth::{Granted, Permission, Token};
use stowage_types::{Error, Result};

use super::{Claim, JobDone};
use crate::Ctx;

/// A kind of job: its name, its parameters (the implementing type), its permission and its run.
pub trait Kind: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The tag of the stored work. Jobs stored by an older version carry it, so it never changes.
    const TAG: &'static str;
    /// The rule the submitting token must pass when the job is submitted, and again when it runs.
    type Permission: Permission + Send + Sync + 'static;

    /// The permission, on the object the parameters name.
    fn permission(&self) -> Self::Permission;
    /// The job's `operationName`.
    fn operation_name(&self) -> &'static str {
        Self::TAG
    }
    /// The job's `operationParams`, as Keboola shows them for this kind.
    fn operation_params(&self) -> Value;
    /// The table the job works on: jobs of one table run one at a time, in order.
    fn table_id(&self) -> Option<String> {
        None
    }
    /// The component and configuration a component run runs (it runs in the component loop).
    fn component(&self) -> Option<(String, String)> {
        None
    }
    /// Called before a worker runs a job whose first worker stopped: an error ends the job with it
    /// (for work whose effect elsewhere is not known after a stop). Most kinds run again.
    fn before_takeover(&self) -> Result<()> {
        Ok(())
    }
    /// Does the work as the token, checked again now. Work that changes the catalog records the
    /// job's outcome in its last transaction ([`Claim::succeed`]).
    fn run(
        self,
        ctx: &Ctx,
        grant: Granted<Self::Permission>,
        claim: &Claim,
    ) -> impl Future<Output = Result<JobDone>> + Send;
}

/// The stored form of a kind's parameters: the value, tagged.
pub(crate) fn stored<K: Kind>(kind: &K) -> Result<Value> {
    let mut work = serde_json::to_value(kind).map_err(Error::internal)?;
    let fields = work.as_object_mut().ok_or_else(|| Error::internal(format!("{} work is not an object", K::TAG)))?;
    fields.insert("kind".into(), Value::String(K::TAG.into()));
    Ok(work)
}

/// Runs stored work of kind `K`: read back, checked against the token, run.
pub(crate) async fn run_as<K: Kind>(
    ctx: &Ctx,
    token: &Arc<Token>,
    work: Value,
    claim: &Claim,
    attempt: i64,
) -> Result<JobDone> {
    let kind: K = serde_json::from_value(work)
        .map_err(|error| Error::internal(format!("job {}: its stored {} work: {error}", claim.id, K::TAG)))?;
    if attempt > 1 {
        kind.before_takeover()?;
    }
    let grant = token.authorize(kind.permission())?;
    kind.run(ctx, grant, claim).await
}
