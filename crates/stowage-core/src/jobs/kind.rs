//! What a kind of job is, and the list of every kind.
//!
//! A kind is one value, its parameters: the stored work is that value (tagged with [`Kind::TAG`]),
//! the job's `operationParams` and the permission are read from it, and [`Kind::run`] receives
//! it back. Adding a kind: a module with its type and its `impl Kind`, and one line in [`kinds!`]
//! below. The runner (`jobs/mod.rs`) names no kind.

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
pub(super) fn stored<K: Kind>(kind: &K) -> Result<Value> {
    let mut work = serde_json::to_value(kind).map_err(Error::internal)?;
    let fields = work.as_object_mut().ok_or_else(|| Error::internal(format!("{} work is not an object", K::TAG)))?;
    fields.insert("kind".into(), Value::String(K::TAG.into()));
    Ok(work)
}

/// Runs stored work of kind `K`: read back, checked against the token, run.
async fn run_as<K: Kind>(ctx: &Ctx, token: &Arc<Token>, work: Value, claim: &Claim, attempt: i64) -> Result<JobDone> {
    let kind: K = serde_json::from_value(work)
        .map_err(|error| Error::internal(format!("job {}: its stored {} work: {error}", claim.id, K::TAG)))?;
    if attempt > 1 {
        kind.before_takeover()?;
    }
    let grant = token.authorize(kind.permission())?;
    kind.run(ctx, grant, claim).await
}

macro_rules! kinds {
    ($($kind:ty),* $(,)?) => {
        /// Runs stored work of any kind, found by its tag.
        pub(super) async fn run_stored(
            ctx: &Ctx,
            token: &Arc<Token>,
            work: Value,
            claim: &Claim,
            attempt: i64,
        ) -> Result<JobDone> {
            let tag = work["kind"].as_str().unwrap_or_default().to_string();
            $(
                if tag == <$kind as Kind>::TAG {
                    return run_as::<$kind>(ctx, token, work, claim, attempt).await;
                }
            )*
            Err(Error::internal(format!("job {}: stored work of an unknown kind \"{tag}\"", claim.id)))
        }
    };
}

kinds! {
    crate::tables::TableCreate,
    crate::tables::TableDefinitionCreate,
    crate::tables::ColumnAdd,
    crate::tables::TableImport,
    crate::tables::TableExport,
    crate::tables::TableDrop,
    crate::tables::PrimaryKey,
    crate::buckets::BucketDelete,
    crate::queue::ComponentRun,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::buckets::BucketDelete;
    use crate::queue::ComponentRun;
    use crate::tables::{Layout, PrimaryKey, Selection, TableCreate, TableExport, TableImport};

    fn read<K: Kind>(work: Value) -> K {
        serde_json::from_value(work).unwrap_or_else(|error| panic!("{}: {error}", K::TAG))
    }

    #[test]
    fn work_stored_by_the_version_before_kinds_were_types_reads_back_as_its_kind() {
        let layout = serde_json::to_value(Layout::default()).unwrap();
        let create: TableCreate = read(json!({
            "kind": "tableCreate", "name": "t", "bucketId": "in.c-b", "tableId": "in.c-b.t", "fileId": 7,
            "layout": layout, "primaryKey": ["id"],
        }));
        assert_eq!(create.table_id().as_deref(), Some("in.c-b.t"));
        assert_eq!(create.operation_params()["dataFileId"], 7);
        let import: TableImport = read(json!({
            "kind": "tableImport", "tableId": "in.c-b.t", "fileId": 8, "incremental": true, "layout": layout,
        }));
        assert_eq!(import.operation_params()["incremental"], true);
        let selection = Selection { columns: vec!["id".into()], ..Selection::default() };
        let export: TableExport = read(json!({
            "kind": "tableExport", "tableId": "in.c-b.t", "selection": selection, "gzip": true,
        }));
        assert_eq!(export.operation_params()["export"]["tableName"], "t");
        let key: PrimaryKey = read(json!({ "kind": "primaryKey", "tableId": "in.c-b.t", "columns": null }));
        assert_eq!(key.operation_name(), "tablePrimaryKeyDelete");
        let delete: BucketDelete = read(json!({ "kind": "bucketDelete", "bucketId": "in.c-b", "force": true }));
        assert_eq!(delete.operation_params(), json!({ "bucketId": "in.c-b", "force": true }));
        let run: ComponentRun = read(json!({
            "kind": "componentRun", "componentId": "keboola.wr-storage", "configId": "1", "rowIds": ["2"],
        }));
        assert_eq!(run.component(), Some(("keboola.wr-storage".into(), "1".into())));
        assert!(run.before_takeover().is_err(), "a run is not repeated after a stop");
    }

    #[test]
    fn stored_work_carries_its_tag_and_a_malformed_id_does_not_read_back() {
        let work = json!({ "kind": "bucketDelete", "bucketId": "in.c-b", "force": false });
        let delete: BucketDelete = read(work.clone());
        assert_eq!(stored(&delete).unwrap(), work);
        let bad = json!({ "kind": "bucketDelete", "bucketId": "in.b", "force": false });
        assert!(serde_json::from_value::<BucketDelete>(bad).is_err());
    }
}
