//! Wire shapes: how domain records are shown as JSON. Field names follow the Keboola API.

use serde_json::{json, Map, Value};
use stowage_core::records::{Branch, Bucket, Member, MetadataEntry, Project, ScheduleRecord, TriggerRecord};
use stowage_core::tokens::TokenView;
use stowage_core::Core;
use stowage_types::auth::{BucketAccess, Token};
use stowage_types::event::Event;
use stowage_types::job::{Job, JobStatus};
use stowage_types::time::{self, format};

fn opt_time(ts: Option<i64>) -> Value {
    ts.map(format).map(Value::String).unwrap_or(Value::Null)
}

/// Which optional parts of a bucket to show.
#[derive(Default, Clone, Copy)]
pub struct BucketShape {
    /// Detail: `tables` is an array; list: a URL.
    pub detail: bool,
    pub attributes: bool,
}

/// A bucket.
pub fn bucket(core: &Core, bucket: &Bucket, metadata: Option<&[MetadataEntry]>, shape: BucketShape) -> Value {
    let uri = format!("{}/buckets/{}", core.storage_url(), bucket.id);
    let mut view = json!({
        "uri": uri,
        "id": bucket.id,
        "name": bucket.name,
        "displayName": bucket.display_name,
        "idBranch": null,
        "stage": bucket.stage,
        "description": bucket.description,
        "tables": if shape.detail { json!([]) } else { json!(format!("{uri}/tables")) },
        "created": format(bucket.created),
        "lastChangeDate": opt_time(bucket.last_change),
        "updated": opt_time(bucket.updated),
        "isReadOnly": false,
        "dataSizeBytes": 0,
        "rowsCount": 0,
        "isMaintenance": false,
        "backend": bucket.backend,
        "sharing": null,
        "hasExternalSchema": false,
        "databaseName": "",
        "path": bucket.id,
        "backendPath": [format!("STOWAGE_PRJ_{}", bucket.project_id), bucket.id],
        "isLinkedBucket": false,
        "linkedBy": [],
        "owner": null,
        "color": bucket.color,
        "bucketSharingAllowed": false,
    });
    if shape.attributes || shape.detail {
        view["attributes"] = json!([]);
    }
    if let Some(metadata) = metadata {
        view["metadata"] = Value::Array(metadata.iter().map(metadata_entry).collect());
    }
    view
}

/// A metadata entry (with `provider`, as objects other than configurations show it).
pub fn metadata_entry(entry: &MetadataEntry) -> Value {
    json!({
        "id": entry.id.to_string(),
        "key": entry.key,
        "value": entry.value,
        "provider": entry.provider,
        "timestamp": format(entry.timestamp),
    })
}

/// A branch metadata entry (no provider).
pub fn branch_metadata_entry(entry: &MetadataEntry) -> Value {
    json!({
        "id": entry.id.to_string(),
        "key": entry.key,
        "value": entry.value,
        "timestamp": format(entry.timestamp),
    })
}

/// A branch.
pub fn branch(branch: &Branch) -> Value {
    json!({
        "id": branch.id,
        "name": branch.name,
        "description": branch.description,
        "created": format(branch.created),
        "isDefault": branch.is_default,
        "creatorToken": null,
    })
}

/// The `bucketPermissions` map of a token: derived from all buckets for master and manage-all
/// tokens, the explicit grants otherwise; `[]` when empty (as PHP serialises an empty map).
fn bucket_permissions(token: &Token, bucket_ids: &[String]) -> Value {
    let mut map = Map::new();
    if token.is_master() || token.can_manage_buckets() {
        for id in bucket_ids {
            if let Some(access) = token.bucket_access(id) {
                map.insert(id.clone(), json!(access.as_str()));
            }
        }
    } else {
        for (id, access) in &token.bucket_grants {
            let access: BucketAccess = *access;
            map.insert(id.clone(), json!(access.as_str()));
        }
    }
    if map.is_empty() {
        json!([])
    } else {
        Value::Object(map)
    }
}

/// A project, as the token owner in `verify` shows it.
pub fn owner(core: &Core, project: &Project) -> Value {
    json!({
        "id": project.id,
        "name": project.name,
        "type": "production",
        "region": core.stack.name,
        "created": format(project.created),
        "expires": null,
        "features": [],
        "dataSizeBytes": 0,
        "rowsCount": 0,
        "hasRedshift": false,
        "hasSnowflake": false,
        "hasSynapse": false,
        "hasExasol": false,
        "hasTeradata": false,
        "hasBigquery": false,
        "hasMysql": false,
        "defaultBackend": stowage_core::buckets::BACKEND,
        "assignedBackends": [stowage_core::buckets::BACKEND],
        "hasTryModeOn": false,
        "limits": {},
        "metrics": {},
        "isDisabled": false,
        "billedMonthlyPrice": null,
        "dataRetentionTimeInDays": 7,
        "fileStorageProvider": "azure",
    })
}

/// A token without its secret. `verify` adds `owner`, `organization` and the admin details.
pub fn token(core: &Core, view: &TokenView, verify: bool) -> Value {
    let token = &view.token;
    let mut out = json!({
        "id": token.id.to_string(),
        "description": token.description,
        "created": format(token.created),
        "refreshed": format(token.refreshed),
        "uri": format!("{}/tokens/{}", core.storage_url(), token.id),
        "isMasterToken": token.is_master(),
        "canManageBuckets": token.can_manage_buckets(),
        "canManageTokens": token.can_manage_tokens(),
        "canReadAllFileUploads": token.can_read_all_file_uploads(),
        "canPurgeTrash": token.can_purge_trash(),
        "canManageProtectedDefaultBranch": false,
        "expires": opt_time(token.expires),
        "isExpired": token.is_expired(time::now()),
        "isDisabled": false,
        "isBYODB": false,
        "dailyCapacity": if token.is_master() { 0 } else { 5 },
        "bucketPermissions": bucket_permissions(token, &view.bucket_ids),
        "lastUsed": opt_time(token.last_used),
    });
    if !token.component_access.is_empty() {
        out["componentAccess"] = json!(token.component_access);
    }
    if let Some(owner) = &token.admin_owner {
        out["adminOwner"] = json!({ "id": owner.id, "name": owner.name, "email": owner.email });
    }
    if let Some(creator) = &token.creator {
        out["creatorToken"] = json!({ "id": creator.id.to_string(), "description": creator.description });
    }
    if let Some(member) = &token.member {
        let mut admin = json!({ "id": member.user_id, "name": member.name, "role": member.role.as_str() });
        if verify {
            admin["features"] = json!([]);
            admin["isOrganizationMember"] = json!(false);
            admin["isActivated"] = json!(false);
            out["adminOwner"] = json!({ "id": member.user_id, "name": member.name, "email": member.email });
        }
        out["admin"] = admin;
    }
    if verify || token.is_master() {
        out["owner"] = owner(core, &view.project);
    }
    if verify {
        out["organization"] = json!({ "id": "1" });
    }
    out
}

/// An event.
pub fn event(core: &Core, event: &Event) -> Value {
    let data = &event.data;
    json!({
        "id": event.id,
        "uuid": event.uuid,
        "event": data.event,
        "component": data.component,
        "message": data.message,
        "description": data.description,
        "type": data.kind,
        "runId": data.run_id,
        "created": format(event.created),
        "configurationId": data.configuration_id,
        "objectId": data.object_id,
        "objectName": data.object_name,
        "objectType": data.object_type,
        "context": data.context,
        "params": data.params,
        "results": data.results,
        "performance": data.performance,
        "token": match data.token_id {
            Some(id) => json!({ "id": id.to_string(), "name": data.token_name }),
            None => Value::Null,
        },
        "idBranch": data.branch_id,
        "uri": format!("{}/events/{}", core.storage_url(), event.id),
        "attachments": [],
    })
}

/// A storage job.
pub fn job(core: &Core, job: &Job) -> Value {
    let mut out = json!({
        "id": job.id,
        "status": job.status.as_str(),
        "url": format!("{}/jobs/{}", core.storage_url(), job.id),
        "tableId": job.table_id,
        "operationName": job.operation_name,
        "operationParams": job.operation_params,
        "createdTime": format(job.created),
        "startTime": opt_time(job.start),
        "endTime": opt_time(job.end),
        "runId": job.run_id,
        "results": job.results,
        "creatorToken": { "id": job.creator_token_id.to_string(), "description": job.creator_token_description },
        "metrics": job.metrics,
    });
    if job.status == JobStatus::Error {
        out["error"] = job.error.clone().unwrap_or(Value::Null);
    }
    out
}

/// A project, as the manage API shows it.
pub fn project(core: &Core, project: &Project) -> Value {
    json!({
        "id": project.id,
        "name": project.name,
        "created": format(project.created),
        "type": "production",
        "region": core.stack.name,
        "defaultBackend": stowage_core::buckets::BACKEND,
        "fileStorageProvider": "azure",
        "isDisabled": false,
    })
}

/// A project member.
pub fn member(member: &Member) -> Value {
    json!({
        "id": member.user.id,
        "email": member.user.email,
        "name": member.user.name,
        "role": member.role.as_str(),
        "created": format(member.created),
    })
}

/// A trigger as Keboola shows it: `runWithTokenId` and `coolDownPeriodMinutes` are numbers, the
/// ids of the trigger and of its creator's token strings.
pub fn trigger(trigger: &TriggerRecord) -> Value {
    json!({
        "id": trigger.id.to_string(),
        "runWithTokenId": trigger.run_with_token_id,
        "component": trigger.component_id,
        "configurationId": trigger.configuration_id,
        "lastRun": format(trigger.last_run),
        "coolDownPeriodMinutes": trigger.cool_down_minutes,
        "creatorToken": { "id": trigger.creator.id.to_string(), "description": trigger.creator.description },
        "tables": trigger.tables.iter().map(|table| json!({ "tableId": table.table_id })).collect::<Vec<_>>(),
    })
}

/// A schedule in the shape of Keboola's Scheduler API, with when it runs next.
pub fn schedule(schedule: &ScheduleRecord) -> Value {
    let executions: Vec<Value> = match (schedule.last_job_id, schedule.last_run) {
        (Some(job), Some(at)) => vec![json!({ "jobId": job.to_string(), "executionTime": format(at) })],
        _ => vec![],
    };
    json!({
        "id": schedule.id.to_string(),
        "tokenId": schedule.run_with_token_id.to_string(),
        "configurationId": schedule.configuration_id,
        "configurationVersionId": schedule.configuration_version.to_string(),
        "schedule": {
            "cronTab": schedule.cron_tab,
            "timezone": schedule.timezone,
            "state": if schedule.enabled { "enabled" } else { "disabled" },
        },
        "target": {
            "componentId": schedule.target_component_id,
            "configurationId": schedule.target_configuration_id,
            "configurationRowIds": schedule.target_row_ids,
            "mode": "run",
        },
        "executions": executions,
        "nextRun": if schedule.enabled && schedule.next_run < i64::MAX { json!(format(schedule.next_run)) } else { Value::Null },
        "creatorToken": { "id": schedule.creator.id.to_string(), "description": schedule.creator.description },
    })
}
