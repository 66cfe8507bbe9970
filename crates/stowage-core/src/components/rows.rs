//! The rows of a configuration: create, list, detail, update, state, delete.

use serde_json::{json, Value};
use stowage_types::auth::{Granted, ReadComponent, WriteComponent};
use stowage_types::{time, Code, Error, Result};

use super::{
    apply, bump, check_id, check_json, component, get, load, row_event, row_not_found, save_version, seal, token_ref,
    Changes, ConfigView, Scope, Shared,
};
use crate::records::RowRecord;
use crate::Ctx;

/// Creates a row and bumps the configuration's version.
pub async fn create_row(
    ctx: &Ctx,
    grant: &Granted<WriteComponent>,
    config_id: &str,
    changes: Changes,
) -> Result<RowRecord> {
    let component_id = grant.scope().0.clone();
    component(&ctx.core, &component_id)?;
    changes.check()?;
    if let Some(id) = &changes.id {
        check_id("rowId", id)?;
    }
    let token = grant.token().clone();
    let project_id = token.project_id;
    let config_id = config_id.to_string();
    ctx.write(move |w, ctx| {
        let ConfigView { mut config, rows } = load(w, project_id, &component_id, &config_id, false)?;
        let before = config.clone();
        let scope = Scope::new(project_id, &component_id, &config_id);
        let configuration = seal(&ctx.core, &scope, changes.configuration.clone().unwrap_or_else(|| json!({})), None)?;
        let state = seal(&ctx.core, &scope, changes.state.clone().unwrap_or_else(|| json!({})), None)?;
        let id = match changes.id {
            Some(id) => id,
            None => w.next_config_id()?.to_string(),
        };
        if rows.iter().any(|r| r.id == id) {
            return Err(Error::new(Code::ConfigurationAlreadyExists, format!("Row \"{id}\" already exists.")));
        }
        let mut row = RowRecord {
            configuration_pk: config.pk,
            id,
            name: changes.name.unwrap_or_default(),
            description: changes.description.unwrap_or_default(),
            configuration,
            state,
            is_disabled: changes.is_disabled.unwrap_or(false),
            version: 1,
            change_description: changes.change_description.clone().unwrap_or_default(),
            created: time::now(),
            creator: Some(token_ref(&token)),
            ..RowRecord::default()
        };
        row.pk = w.insert_configuration_row(&row)?;
        if !config.rows_sort_order.is_empty() {
            config.rows_sort_order.push(row.id.clone());
        }
        bump(&mut config, &token, changes.change_description.unwrap_or_else(|| format!("Row {} added", row.id)));
        save_version(w, (&before, &rows), &config)?;
        row_event(w, ctx, &token, "storage.componentConfigurationRowCreated", "Created", &config, &row)?;
        Ok(row)
    })
    .await
}

/// Rows of a configuration in run order.
pub async fn list_rows(ctx: &Ctx, grant: &Granted<ReadComponent>, config_id: &str) -> Result<Vec<RowRecord>> {
    Ok(get(ctx, grant, config_id).await?.rows)
}

/// One row.
pub async fn get_row(ctx: &Ctx, grant: &Granted<ReadComponent>, config_id: &str, row_id: &str) -> Result<RowRecord> {
    get(ctx, grant, config_id).await?.rows.into_iter().find(|r| r.id == row_id).ok_or_else(|| row_not_found(row_id))
}

/// Updates a row (and bumps the configuration's version when something changed).
pub async fn update_row(
    ctx: &Ctx,
    grant: &Granted<WriteComponent>,
    config_id: &str,
    row_id: &str,
    changes: Changes,
) -> Result<RowRecord> {
    let component_id = grant.scope().0.clone();
    component(&ctx.core, &component_id)?;
    changes.check()?;
    let token = grant.token().clone();
    let project_id = token.project_id;
    let (config_id, row_id) = (config_id.to_string(), row_id.to_string());
    ctx.write(move |w, ctx| {
        let ConfigView { mut config, rows } = load(w, project_id, &component_id, &config_id, false)?;
        let before = config.clone();
        let mut row = rows.iter().find(|r| r.id == row_id).cloned().ok_or_else(|| row_not_found(&row_id))?;
        let scope = Scope::new(project_id, &component_id, &config_id);
        let configuration =
            changes.configuration.clone().map(|c| seal(&ctx.core, &scope, c, Some(&row.configuration))).transpose()?;
        let state = changes.state.clone().map(|s| seal(&ctx.core, &scope, s, Some(&row.state))).transpose()?;
        let shared = Shared {
            name: &mut row.name,
            description: &mut row.description,
            configuration: &mut row.configuration,
            state: &mut row.state,
            is_disabled: &mut row.is_disabled,
        };
        let changed = apply(&changes, configuration, state, shared);
        if changed {
            row.version += 1;
            row.change_description = changes.change_description.clone().unwrap_or_default();
            w.update_configuration_row(&row)?;
            bump(&mut config, &token, changes.change_description.unwrap_or_else(|| format!("Row {} changed", row.id)));
            save_version(w, (&before, &rows), &config)?;
            row_event(w, ctx, &token, "storage.componentConfigurationRowChanged", "Changed", &config, &row)?;
        }
        Ok(row)
    })
    .await
}

/// Sets a row's state (no new version).
pub async fn set_row_state(
    ctx: &Ctx,
    grant: &Granted<WriteComponent>,
    config_id: &str,
    row_id: &str,
    state: Value,
) -> Result<RowRecord> {
    check_json("state", &state)?;
    let component_id = grant.scope().0.clone();
    let project_id = grant.project_id();
    let (config_id, row_id) = (config_id.to_string(), row_id.to_string());
    let core = ctx.core.clone();
    ctx.core
        .store
        .write(move |w| {
            let view = load(w, project_id, &component_id, &config_id, false)?;
            let mut row = view.rows.into_iter().find(|r| r.id == row_id).ok_or_else(|| row_not_found(&row_id))?;
            row.state = seal(&core, &Scope::new(project_id, &component_id, &config_id), state, Some(&row.state))?;
            w.update_configuration_row(&row)?;
            Ok(row)
        })
        .await
}

/// Deletes a row for good.
pub async fn delete_row(ctx: &Ctx, grant: &Granted<WriteComponent>, config_id: &str, row_id: &str) -> Result<()> {
    let component_id = grant.scope().0.clone();
    component(&ctx.core, &component_id)?;
    let token = grant.token().clone();
    let (config_id, row_id) = (config_id.to_string(), row_id.to_string());
    ctx.write(move |w, ctx| {
        let ConfigView { mut config, rows } = load(w, token.project_id, &component_id, &config_id, false)?;
        let before = config.clone();
        let row = rows.iter().find(|r| r.id == row_id).cloned().ok_or_else(|| row_not_found(&row_id))?;
        w.delete_configuration_row(row.pk)?;
        config.rows_sort_order.retain(|id| *id != row.id);
        bump(&mut config, &token, format!("Row {} deleted", row.id));
        save_version(w, (&before, &rows), &config)?;
        row_event(w, ctx, &token, "storage.componentConfigurationRowDeleted", "Deleted", &config, &row)
    })
    .await
}
