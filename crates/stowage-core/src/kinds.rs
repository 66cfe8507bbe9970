//! Every kind of job, by the tag its stored work carries: the one place that names them all.
//! The runner gets [`run_stored`] when the core is built, so `jobs` depends on no kind.

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::Value;
use stowage_types::auth::Token;
use stowage_types::{Error, Result};

#[cfg(test)]
use crate::jobs::Kind;
use crate::jobs::{run_as, Claim, JobDone};
use crate::Ctx;

macro_rules! kinds {
    ($($kind:ty),* $(,)?) => {
        /// Runs stored work of any kind, found by its tag.
        pub(crate) fn run_stored<'a>(
            ctx: &'a Ctx,
            token: &'a Arc<Token>,
            work: Value,
            claim: &'a Claim,
            attempt: i64,
        ) -> BoxFuture<'a, Result<JobDone>> {
            Box::pin(async move {
                let tag = work["kind"].as_str().unwrap_or_default().to_string();
                $(
                    if tag == <$kind as crate::jobs::Kind>::TAG {
                        return run_as::<$kind>(ctx, token, work, claim, attempt).await;
                    }
                )*
                Err(Error::internal(format!("job {}: stored work of an unknown kind \"{tag}\"", claim.id)))
            })
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
    crate::buckets::BucketShare,
    crate::buckets::BucketUnshare,
    crate::queue::ComponentRun,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::buckets::BucketDelete;
    use crate::jobs::stored;
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
    fn sharing_work_is_stored_with_its_tag_and_targets_and_reads_back_unchanged() {
        let work = json!({ "kind": "bucketShare", "bucketId": "in.c-b", "sharing": "selected-projects",
            "projects": [2], "users": [], "change": false });
        let share: crate::buckets::BucketShare = read(work.clone());
        assert_eq!(stored(&share).unwrap(), work);
        assert_eq!(share.operation_params()["targetProjectIds"], json!([2]));
        let work = json!({ "kind": "bucketUnshare", "bucketId": "in.c-b" });
        let unshare: crate::buckets::BucketUnshare = read(work.clone());
        assert_eq!(stored(&unshare).unwrap(), work);
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
