//! Configuration and row versions: list, detail, rollback, copy.

use serde_json::{json, Value};
use stowage_store::Reader;
use stowage_types::auth::{Granted, ReadComponent, Token, TokenRef, WriteComponent};
use stowage_types::{time, Code, Error, Result};

use super::{
    bump, component, config_event_with, config_params, create_row, keep_version, load, ordered, reseal, row_not_found,
    save_version, token_ref, update_row, Changes, ConfigView, Scope,
};
use crate::records::{ConfigRecord, ConfigVersionRecord, RowRecord};
use crate::Ctx;

fn version_not_found(version: i64) -> Error {
    Error::new(Code::ConfigurationVersionNotFound, format!("Version {version} not found"))
}

/// The kept versions of a configuration (not in the trash), newest first.
pub async fn versions(ctx: &Ctx, grant: &Granted<ReadComponent>, id: &str) -> Result<Vec<ConfigVersionRecord>> {
    let component_id = grant.scope().0.clone();
    component(&ctx.core, &component_id)?;
    let (project_id, id) = (grant.project_id(), id.to_string());
    ctx.core
        .store
        .read(move |r| r.configuration_versions(load(r, project_id, &component_id, &id, false)?.config.pk))
        .await
}

/// One kept version of a configuration (not in the trash).
pub async fn version(ctx: &Ctx, grant: &Granted<ReadComponent>, id: &str, version: i64) -> Result<ConfigVersionRecord> {
    let component_id = grant.scope().0.clone();
    component(&ctx.core, &component_id)?;
    let (project_id, id) = (grant.project_id(), id.to_string());
    ctx.core
        .store
        .read(move |r| {
            let pk = load(r, project_id, &component_id, &id, false)?.config.pk;
            r.configuration_version(pk, version)?.ok_or_else(|| version_not_found(version))
        })
        .await
}

/// A kept version of a row. Rows are versioned with their configuration: each version of the
/// configuration keeps its rows, so a row's versions are the row versions those keep, each with
/// the time, token and description of the configuration version that first kept it.
#[derive(Debug, Clone)]
pub struct RowVersion {
    pub version: i64,
    pub created: time::Timestamp,
    pub creator: Option<TokenRef>,
    pub change_description: String,
    pub name: String,
    pub description: String,
    /// As stored: `#` values sealed.
    pub configuration: Value,
    pub is_disabled: bool,
}

/// The kept versions of row `row_id` of the configuration `config_pk`, newest first.
fn row_versions_of(r: &Reader<'_>, config_pk: i64, row_id: &str) -> Result<Vec<RowVersion>> {
    let mut found: std::collections::BTreeMap<i64, RowVersion> = std::collections::BTreeMap::new();
    for kept in r.configuration_versions(config_pk)?.into_iter().rev() {
        let rows = kept.snapshot["rows"].as_array().cloned().unwrap_or_default();
        let Some(row) = rows.into_iter().find(|row| row["id"] == row_id) else { continue };
        let version = row["version"].as_i64().unwrap_or(0);
        found.entry(version).or_insert_with(|| RowVersion {
            version,
            created: kept.created,
            creator: kept.creator.clone(),
            change_description: kept.change_description.clone(),
            name: row["name"].as_str().unwrap_or_default().to_string(),
            description: row["description"].as_str().unwrap_or_default().to_string(),
            configuration: row["configuration"].clone(),
            is_disabled: row["isDisabled"].as_bool().unwrap_or(false),
        });
    }
    Ok(found.into_values().rev().collect())
}

/// The kept versions of a row, newest first.
pub async fn row_versions(
    ctx: &Ctx,
    grant: &Granted<ReadComponent>,
    config_id: &str,
    row_id: &str,
) -> Result<Vec<RowVersion>> {
    let component_id = grant.scope().0.clone();
    component(&ctx.core, &component_id)?;
    let (project_id, config_id, row_id) = (grant.project_id(), config_id.to_string(), row_id.to_string());
    ctx.core
        .store
        .read(move |r| {
            let view = load(r, project_id, &component_id, &config_id, false)?;
            if !view.rows.iter().any(|row| row.id == row_id) {
                return Err(row_not_found(&row_id));
            }
            row_versions_of(r, view.config.pk, &row_id)
        })
        .await
}

/// One kept version of a row.
pub async fn row_version(
    ctx: &Ctx,
    grant: &Granted<ReadComponent>,
    config_id: &str,
    row_id: &str,
    version: i64,
) -> Result<RowVersion> {
    let versions = row_versions(ctx, grant, config_id, row_id).await?;
    versions.into_iter().find(|kept| kept.version == version).ok_or_else(|| version_not_found(version))
}

/// What a row version restores or copies: its name, description, configuration and whether it
/// is disabled (the row's state stays as it is).
fn row_changes(kept: RowVersion, change_description: String) -> Changes {
    Changes {
        name: Some(kept.name),
        description: Some(kept.description),
        configuration: Some(kept.configuration),
        is_disabled: Some(kept.is_disabled),
        change_description: Some(change_description),
        ..Changes::default()
    }
}

/// Makes a row version the row's next version (and the configuration's).
pub async fn rollback_row(
    ctx: &Ctx,
    grant: &Granted<WriteComponent>,
    config_id: &str,
    row_id: &str,
    version: i64,
    change_description: Option<String>,
) -> Result<RowRecord> {
    let read = grant.token().authorize(ReadComponent(grant.scope().0.clone()))?;
    let mut kept = row_version(ctx, &read, config_id, row_id, version).await?;
    // The version's sealed values are this configuration's own (some perhaps sealed before values
    // were bound): sealed again, they are saved like values sent back.
    let scope = Scope::new(grant.project_id(), &grant.scope().0, config_id);
    kept.configuration = reseal(&ctx.core, &scope, &scope, kept.configuration)?;
    let change = change_description.unwrap_or_else(|| format!("Rollback of row {row_id} to version {version}"));
    update_row(ctx, grant, config_id, row_id, row_changes(kept, change)).await
}

/// Creates a new row from a row version, in this configuration or in `target_config_id` of the
/// same component.
pub async fn copy_row_version(
    ctx: &Ctx,
    grant: &Granted<WriteComponent>,
    (config_id, row_id, version): (&str, &str, i64),
    target_config_id: Option<String>,
    change_description: Option<String>,
) -> Result<RowRecord> {
    let read = grant.token().authorize(ReadComponent(grant.scope().0.clone()))?;
    let mut kept = row_version(ctx, &read, config_id, row_id, version).await?;
    let change = change_description
        .unwrap_or_else(|| format!("Copied from row {row_id} of configuration {config_id} version {version}"));
    let target = target_config_id.filter(|id| !id.is_empty()).unwrap_or_else(|| config_id.to_string());
    // Sealed values move with the row: opened for its configuration, sealed for the target.
    let (from, to) = (grant.project_id(), &grant.scope().0);
    kept.configuration =
        reseal(&ctx.core, &Scope::new(from, to, config_id), &Scope::new(from, to, &target), kept.configuration)?;
    create_row(ctx, grant, &target, row_changes(kept, change)).await
}

/// The rows a version kept, as rows of the configuration `configuration_pk`; a row that still
/// exists keeps its state and gets its next version, one that does not comes back with no state.
fn rows_of(
    snapshot: &Value,
    configuration_pk: i64,
    current: &[RowRecord],
    token: &Token,
    change: &str,
) -> Vec<RowRecord> {
    let kept = snapshot["rows"].as_array().cloned().unwrap_or_default();
    kept.iter()
        .map(|row| {
            let id = row["id"].as_str().unwrap_or_default().to_string();
            let existing = current.iter().find(|r| r.id == id);
            RowRecord {
                configuration_pk,
                name: row["name"].as_str().unwrap_or_default().to_string(),
                description: row["description"].as_str().unwrap_or_default().to_string(),
                configuration: row["configuration"].clone(),
                state: existing.map_or_else(|| json!({}), |r| r.state.clone()),
                is_disabled: row["isDisabled"].as_bool().unwrap_or(false),
                version: existing.map_or(row["version"].as_i64().unwrap_or(0), |r| r.version) + 1,
                change_description: change.to_string(),
                created: existing.map_or_else(time::now, |r| r.created),
                creator: existing.map_or_else(|| Some(token_ref(token)), |r| r.creator.clone()),
                id,
                ..RowRecord::default()
            }
        })
        .collect()
}

fn with_source(config: &ConfigRecord, source: &ConfigRecord, version: i64) -> Value {
    let mut params = config_params(config);
    params["sourceConfiguration"] = json!({
        "component": source.component_id, "configurationId": source.id, "name": source.name, "version": version,
    });
    params
}

/// Makes a version's content the configuration's next version (its rows too; states stay).
pub async fn rollback(
    ctx: &Ctx,
    grant: &Granted<WriteComponent>,
    id: &str,
    version: i64,
    change_description: Option<String>,
) -> Result<ConfigView> {
    let component_id = grant.scope().0.clone();
    component(&ctx.core, &component_id)?;
    let token = grant.token().clone();
    let id = id.to_string();
    ctx.write(move |w, ctx| {
        let ConfigView { mut config, rows } = load(w, token.project_id, &component_id, &id, false)?;
        let kept = w.configuration_version(config.pk, version)?.ok_or_else(|| version_not_found(version))?;
        let before = config.clone();
        let snapshot = &kept.snapshot;
        config.name = snapshot["name"].as_str().unwrap_or_default().to_string();
        config.description = snapshot["description"].as_str().unwrap_or_default().to_string();
        config.configuration = snapshot["configuration"].clone();
        config.is_disabled = snapshot["isDisabled"].as_bool().unwrap_or(false);
        config.rows_sort_order = serde_json::from_value(snapshot["rowsSortOrder"].clone()).unwrap_or_default();
        let change = change_description.unwrap_or_else(|| format!("Rollback to version {version}"));
        let restored = rows_of(snapshot, config.pk, &rows, &token, &change);
        for row in &rows {
            w.delete_configuration_row(row.pk)?;
        }
        for row in &restored {
            w.insert_configuration_row(row)?;
        }
        bump(&mut config, &token, change);
        save_version(w, (&before, &rows), &config)?;
        let event = ("storage.componentConfigurationRolledBack", "Rolled back");
        config_event_with(w, ctx, &token, event, &config, with_source(&config, &before, version))?;
        let rows = w.configuration_rows(config.pk)?;
        Ok(ConfigView { rows: ordered(&config, rows), config })
    })
    .await
}

/// Creates a new configuration from a version of this one (its rows too, without state).
pub async fn copy_version(
    ctx: &Ctx,
    grant: &Granted<WriteComponent>,
    id: &str,
    version: i64,
    changes: Changes,
) -> Result<ConfigView> {
    let component_id = grant.scope().0.clone();
    component(&ctx.core, &component_id)?;
    changes.check()?;
    let token = grant.token().clone();
    let id = id.to_string();
    ctx.write(move |w, ctx| {
        let ConfigView { config: source, .. } = load(w, token.project_id, &component_id, &id, false)?;
        let kept = w.configuration_version(source.pk, version)?.ok_or_else(|| version_not_found(version))?;
        let snapshot = &kept.snapshot;
        let name = changes
            .name
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| snapshot["name"].as_str().unwrap_or_default().to_string());
        let now = time::now();
        let change = changes.change_description.unwrap_or_else(|| {
            format!("Copied from configuration \"{}\" ({}) version {version}", source.name, source.id)
        });
        let id = w.next_config_id()?.to_string();
        // Sealed values move with the copy: opened for the source, sealed for the new configuration.
        let (from, to) = (
            Scope::new(source.project_id, &source.component_id, &source.id),
            Scope::new(source.project_id, &source.component_id, &id),
        );
        let mut snapshot = snapshot.clone();
        snapshot["configuration"] = reseal(&ctx.core, &from, &to, snapshot["configuration"].take())?;
        if let Some(rows) = snapshot["rows"].as_array_mut() {
            for row in rows {
                row["configuration"] = reseal(&ctx.core, &from, &to, row["configuration"].take())?;
            }
        }
        let snapshot = &snapshot;
        let mut config = ConfigRecord {
            project_id: source.project_id,
            component_id: source.component_id.clone(),
            id,
            name,
            description: changes
                .description
                .unwrap_or_else(|| snapshot["description"].as_str().unwrap_or_default().to_string()),
            configuration: snapshot["configuration"].clone(),
            state: json!({}),
            rows_sort_order: serde_json::from_value(snapshot["rowsSortOrder"].clone()).unwrap_or_default(),
            is_disabled: snapshot["isDisabled"].as_bool().unwrap_or(false),
            version: 1,
            change_description: change.clone(),
            created: now,
            creator: Some(token_ref(&token)),
            version_created: now,
            version_creator: Some(token_ref(&token)),
            ..ConfigRecord::default()
        };
        config.pk = w.insert_configuration(&config)?;
        for mut row in rows_of(snapshot, config.pk, &[], &token, &change) {
            row.version = 1;
            w.insert_configuration_row(&row)?;
        }
        let rows = w.configuration_rows(config.pk)?;
        keep_version(w, &config, &rows)?;
        let event = ("storage.componentConfigurationCopied", "Copied");
        config_event_with(w, ctx, &token, event, &config, with_source(&config, &source, version))?;
        Ok(ConfigView { rows: ordered(&config, rows), config })
    })
    .await
}
