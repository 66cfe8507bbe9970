//! Components and their configurations: the registry, configurations (create, list, detail,
//! update, trash, purge, restore), their rows (`rows.rs`), versions (`versions.rs`), state,
//! metadata, and the sealing of `#` values (`sealing.rs`).
//!
//! Values under keys that start with `#` are encrypted with the stack key when saved and shown only
//! as `KBC::ConfigSecure::...`, as Keboola binds them: to the project, the component and the
//! configuration, and (Stowage's addition) to the `url` beside them, so a secret opens only where it
//! was given and is sent only to the address it was given with. A ciphertext of another
//! configuration or address is refused when saved, and one sent back with a changed `url` beside it
//! is dropped ([`seal`]). Only a running job and a sync action open them ([`unseal`]).

mod rows;
mod sealing;
mod versions;

pub use rows::{create_row, delete_row, get_row, list_rows, set_row_state, update_row};
use sealing::same_sealed;
pub use sealing::{reseal, seal, unseal, Origin, Scope, SEALED_PREFIX};
pub use versions::{
    copy_row_version, copy_version, rollback, rollback_row, row_version, row_versions, version, versions, RowVersion,
};

use serde_json::{json, Value};
use stowage_store::Writer;
use stowage_types::auth::{Granted, ListComponents, Permission, ReadComponent, Token, TokenRef, WriteComponent};
use stowage_types::{time, Code, Error, Result};

use crate::events::{record, Happened};
use crate::records::{ConfigRecord, ConfigVersionRecord, MetadataEntry, RowRecord};
use crate::{ComponentDef, Core, Ctx};
/// Largest `configuration` or `state`, as JSON.
pub const MAX_JSON_BYTES: usize = 4 * 1024 * 1024;

/// The components built into every stack.
pub fn builtin_components() -> Vec<ComponentDef> {
    vec![
        ComponentDef {
            id: "keboola.wr-storage".into(),
            name: "Storage Writer".into(),
            kind: "writer".into(),
            runnable: true,
        },
        ComponentDef {
            id: "keboola.ex-storage".into(),
            name: "Storage Extractor".into(),
            kind: "extractor".into(),
            runnable: true,
        },
        // Its configurations are schedules (`crate::schedules`): they run other configurations.
        ComponentDef {
            id: crate::schedules::SCHEDULER.into(),
            name: "Scheduler".into(),
            kind: "other".into(),
            runnable: false,
        },
    ]
}

/// A component: the registry's entry, or, for any other valid component id (Keboola's Developer
/// Portal lists thousands), a configuration-only component this stack keeps configurations of but
/// does not run. An id that cannot be a component's is a 404 (and so is listing one that has no
/// configurations, see [`list_configs`]).
pub fn component(core: &Core, id: &str) -> Result<ComponentDef> {
    if let Some(known) = core.stack.components.iter().find(|c| c.id == id) {
        return Ok(known.clone());
    }
    if !valid_component_id(id) {
        return Err(Error::new(Code::ComponentNotFound, format!("Component \"{id}\" not found")));
    }
    Ok(configuration_only(id))
}

/// What the stack knows of a component outside its registry: its id.
fn configuration_only(id: &str) -> ComponentDef {
    ComponentDef { id: id.to_string(), name: id.to_string(), kind: "other".into(), runnable: false }
}

/// Component ids as Keboola makes them: `keboola.ex-db-mysql`, `kds-team.app-custom-python`,
/// `transformation`: letters, digits, `.`, `-` and `_`, starting with a letter or digit.
fn valid_component_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_alphanumeric())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c))
}

fn config_not_found(id: &str) -> Error {
    Error::new(Code::ConfigurationNotFound, format!("Configuration {id} not found"))
}

fn row_not_found(id: &str) -> Error {
    Error::new(Code::RowNotFound, format!("Row {id} not found"))
}

/// A configuration with its rows in run order.
#[derive(Debug, Clone)]
pub struct ConfigView {
    pub config: ConfigRecord,
    pub rows: Vec<RowRecord>,
}

/// Rows in `rowsSortOrder` (rows it does not name follow, in creation order).
fn ordered(config: &ConfigRecord, mut rows: Vec<RowRecord>) -> Vec<RowRecord> {
    let position = |id: &str| config.rows_sort_order.iter().position(|r| r == id).unwrap_or(usize::MAX);
    rows.sort_by_key(|row| (position(&row.id), row.pk));
    rows
}

fn load(
    w: &stowage_store::Reader<'_>,
    project_id: i64,
    component_id: &str,
    id: &str,
    deleted: bool,
) -> Result<ConfigView> {
    let config = w
        .configuration(project_id, component_id, id)?
        .filter(|c| c.is_deleted == deleted)
        .ok_or_else(|| config_not_found(id))?;
    let rows = w.configuration_rows(config.pk)?;
    Ok(ConfigView { rows: ordered(&config, rows), config })
}

/// A component of the registry with the configurations the caller asked for.
pub struct ComponentView {
    pub component: ComponentDef,
    pub configurations: Vec<ConfigView>,
}

/// Components that have configurations (in or out of the trash), limited to what the token may read.
pub async fn list(
    ctx: &Ctx,
    grant: &Granted<ListComponents>,
    kind: Option<String>,
    deleted: bool,
) -> Result<Vec<ComponentView>> {
    let token = grant.token().clone();
    let mut registry = ctx.core.stack.components.clone();
    ctx.core
        .store
        .read(move |r| {
            // One read of the project's configurations, by component: the registry's components
            // first, then those only configurations name, by id.
            let mut by_component: std::collections::BTreeMap<String, Vec<ConfigRecord>> = Default::default();
            for config in r.configurations(token.project_id, None, deleted)? {
                by_component.entry(config.component_id.clone()).or_default().push(config);
            }
            for id in by_component.keys() {
                if !registry.iter().any(|c| &c.id == id) {
                    registry.push(configuration_only(id));
                }
            }
            let mut out = Vec::new();
            for component in registry {
                if kind.as_deref().is_some_and(|k| k != component.kind)
                    || !ReadComponent(component.id.clone()).allows(&token)
                {
                    continue;
                }
                let configs = by_component.remove(&component.id).unwrap_or_default();
                if configs.is_empty() && !token.component_access.contains(&component.id) {
                    continue;
                }
                let configurations = configs
                    .into_iter()
                    .map(|config| Ok(ConfigView { rows: ordered(&config, r.configuration_rows(config.pk)?), config }))
                    .collect::<Result<_>>()?;
                out.push(ComponentView { component, configurations });
            }
            Ok(out)
        })
        .await
}

/// The configurations of one component. A component outside the registry that has no
/// configuration here, in or out of the trash, is unknown: 404, as Keboola answers for an id its
/// Developer Portal does not list.
pub async fn list_configs(ctx: &Ctx, grant: &Granted<ReadComponent>, deleted: bool) -> Result<Vec<ConfigView>> {
    let component_id = grant.scope().0.clone();
    component(&ctx.core, &component_id)?;
    let registered = ctx.core.stack.components.iter().any(|c| c.id == component_id);
    let project_id = grant.project_id();
    ctx.core
        .store
        .read(move |r| {
            let configs = r.configurations(project_id, Some(&component_id), deleted)?;
            if configs.is_empty()
                && !registered
                && r.configurations(project_id, Some(&component_id), !deleted)?.is_empty()
            {
                return Err(Error::new(Code::ComponentNotFound, format!("Component \"{component_id}\" not found")));
            }
            configs
                .into_iter()
                .map(|config| Ok(ConfigView { rows: ordered(&config, r.configuration_rows(config.pk)?), config }))
                .collect()
        })
        .await
}

/// One configuration (not in the trash).
pub async fn get(ctx: &Ctx, grant: &Granted<ReadComponent>, id: &str) -> Result<ConfigView> {
    let component_id = grant.scope().0.clone();
    component(&ctx.core, &component_id)?;
    let (project_id, id) = (grant.project_id(), id.to_string());
    ctx.core.store.read(move |r| load(r, project_id, &component_id, &id, false)).await
}

fn check_json(name: &str, value: &Value) -> Result<()> {
    if !value.is_object() {
        return Err(Error::new(
            Code::ConfigurationValidation,
            format!("Invalid data - {name}: must be a JSON object."),
        ));
    }
    let size = serde_json::to_vec(value).map(|v| v.len()).unwrap_or(0);
    if size > MAX_JSON_BYTES {
        return Err(Error::new(
            Code::ConfigurationValidation,
            format!("Invalid data - {name}: {size} bytes is more than the {MAX_JSON_BYTES} allowed."),
        ));
    }
    Ok(())
}

fn check_id(what: &str, id: &str) -> Result<()> {
    if id.is_empty() || id.len() > 128 || !id.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) {
        return Err(Error::new(
            Code::ConfigurationValidation,
            format!("Invalid {what} \"{id}\": use 1 to 128 letters, digits, '.', '_' and '-'."),
        ));
    }
    Ok(())
}

/// Fields of a configuration or row as the client sent them; `None` leaves a field as it is.
#[derive(Debug, Default, Clone)]
pub struct Changes {
    pub id: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub configuration: Option<Value>,
    pub state: Option<Value>,
    pub change_description: Option<String>,
    pub is_disabled: Option<bool>,
    pub rows_sort_order: Option<Vec<String>>,
}

impl Changes {
    fn check(&self) -> Result<()> {
        if let Some(configuration) = &self.configuration {
            check_json("configuration", configuration)?;
        }
        if let Some(state) = &self.state {
            check_json("state", state)?;
        }
        if let Some(name) = &self.name {
            if name.chars().count() > 512 {
                return Err(Error::new(Code::ConfigurationValidation, "Invalid data - name: at most 512 characters."));
            }
        }
        Ok(())
    }
}

fn token_ref(token: &Token) -> TokenRef {
    TokenRef { id: token.id, description: token.description.clone() }
}

fn config_params(config: &ConfigRecord) -> Value {
    json!({ "component": config.component_id, "configurationId": config.id, "name": config.name, "version": config.version })
}

fn config_event(
    w: &Writer<'_>,
    ctx: &Ctx,
    token: &Token,
    event: &str,
    verb: &str,
    config: &ConfigRecord,
) -> Result<()> {
    config_event_with(w, ctx, token, (event, verb), config, config_params(config))
}

/// Like [`config_event`], with the event's params given.
fn config_event_with(
    w: &Writer<'_>,
    ctx: &Ctx,
    token: &Token,
    (event, verb): (&str, &str),
    config: &ConfigRecord,
    params: Value,
) -> Result<()> {
    let happened = Happened::about(
        event,
        "componentConfiguration",
        &config.id,
        format!("{verb} component configuration \"{}\" ({})", config.name, config.component_id),
    )
    .with_params(params);
    record(w, ctx, config.project_id, Some(token), happened)
}

fn row_event(
    w: &Writer<'_>,
    ctx: &Ctx,
    token: &Token,
    event: &str,
    verb: &str,
    config: &ConfigRecord,
    row: &RowRecord,
) -> Result<()> {
    let happened = Happened::about(
        event,
        "componentConfigurationRow",
        &row.id,
        format!("{verb} component configuration row \"{}\" ({})", row.name, config.component_id),
    )
    .with_params(
        json!({ "rowId": row.id, "name": row.name, "version": row.version, "configuration": config_params(config) }),
    );
    record(w, ctx, config.project_id, Some(token), happened)
}

/// Creates a configuration.
pub async fn create(ctx: &Ctx, grant: &Granted<WriteComponent>, changes: Changes) -> Result<ConfigView> {
    let component_id = grant.scope().0.clone();
    component(&ctx.core, &component_id)?;
    changes.check()?;
    let name = changes.name.clone().filter(|n| !n.trim().is_empty()).ok_or_else(|| {
        Error::new(Code::ConfigurationValidation, "Invalid data - name: This value should not be blank.")
    })?;
    if let Some(id) = &changes.id {
        check_id("configurationId", id)?;
    }
    let token = grant.token().clone();
    let project_id = token.project_id;
    ctx.write(move |w, ctx| {
        let id = match changes.id {
            Some(id) => id,
            None => w.next_config_id()?.to_string(),
        };
        if w.configuration(project_id, &component_id, &id)?.is_some() {
            return Err(Error::new(
                Code::ConfigurationAlreadyExists,
                format!("Configuration \"{id}\" of component \"{component_id}\" already exists."),
            ));
        }
        let scope = Scope::new(project_id, &component_id, &id);
        let configuration = seal(&ctx.core, &scope, changes.configuration.unwrap_or_else(|| json!({})), None)?;
        let state = seal(&ctx.core, &scope, changes.state.unwrap_or_else(|| json!({})), None)?;
        let now = time::now();
        let mut config = ConfigRecord {
            project_id,
            component_id,
            id,
            name,
            description: changes.description.unwrap_or_default(),
            configuration,
            state,
            rows_sort_order: vec![],
            is_disabled: changes.is_disabled.unwrap_or(false),
            version: 1,
            change_description: changes.change_description.unwrap_or_default(),
            created: now,
            creator: Some(token_ref(&token)),
            version_created: now,
            version_creator: Some(token_ref(&token)),
            ..ConfigRecord::default()
        };
        config.pk = w.insert_configuration(&config)?;
        keep_version(w, &config, &[])?;
        config_event(w, ctx, &token, "storage.componentConfigurationCreated", "Created", &config)?;
        Ok(ConfigView { config, rows: vec![] })
    })
    .await
}

/// The fields configurations and rows share, borrowed for [`apply`].
struct Shared<'a> {
    name: &'a mut String,
    description: &'a mut String,
    configuration: &'a mut Value,
    state: &'a mut Value,
    is_disabled: &'a mut bool,
}

/// Applies the shared fields of `changes` (with `configuration` and `state` already sealed);
/// returns whether any of them really changed.
fn apply(changes: &Changes, configuration: Option<Value>, state: Option<Value>, target: Shared<'_>) -> bool {
    let mut changed = false;
    if let Some(name) = &changes.name {
        changed |= *target.name != *name;
        *target.name = name.clone();
    }
    if let Some(description) = &changes.description {
        changed |= *target.description != *description;
        *target.description = description.clone();
    }
    // Compared as the client sent them: a sealed value sent back is no change, a plain value
    // under a `#` key (just sealed into `configuration` or `state`) always is.
    if let (Some(configuration), Some(sent)) = (configuration, &changes.configuration) {
        changed |= !same_sealed(target.configuration, sent);
        *target.configuration = configuration;
    }
    if let (Some(state), Some(sent)) = (state, &changes.state) {
        changed |= !same_sealed(target.state, sent);
        *target.state = state;
    }
    if let Some(disabled) = changes.is_disabled {
        changed |= *target.is_disabled != disabled;
        *target.is_disabled = disabled;
    }
    changed
}

/// A configuration as a version keeps it (rows in run order, without their state, which a
/// rollback leaves as it is).
fn snapshot(config: &ConfigRecord, rows: &[RowRecord]) -> Value {
    let rows: Vec<Value> = ordered(config, rows.to_vec())
        .iter()
        .map(|row| {
            json!({
                "id": row.id, "name": row.name, "description": row.description,
                "configuration": row.configuration, "isDisabled": row.is_disabled, "version": row.version,
            })
        })
        .collect();
    json!({
        "name": config.name, "description": config.description, "configuration": config.configuration,
        "rowsSortOrder": config.rows_sort_order, "isDisabled": config.is_disabled, "rows": rows,
    })
}

/// Keeps the configuration's current version, unless it is kept already.
fn keep_version(w: &Writer<'_>, config: &ConfigRecord, rows: &[RowRecord]) -> Result<()> {
    w.insert_configuration_version(&ConfigVersionRecord {
        configuration_pk: config.pk,
        version: config.version,
        name: config.name.clone(),
        change_description: config.change_description.clone(),
        created: config.version_created,
        creator: config.version_creator.clone(),
        snapshot: snapshot(config, rows),
    })
}

/// Writes a configuration's new version: keeps the version it had (a configuration from before
/// versions were kept has none yet), writes the configuration, and keeps the new version with the
/// rows as they now are.
fn save_version(w: &Writer<'_>, previous: (&ConfigRecord, &[RowRecord]), config: &ConfigRecord) -> Result<()> {
    keep_version(w, previous.0, previous.1)?;
    w.update_configuration(config)?;
    keep_version(w, config, &w.configuration_rows(config.pk)?)
}

/// Bumps a configuration's version after a change by `token`.
fn bump(config: &mut ConfigRecord, token: &Token, change_description: String) {
    config.version += 1;
    config.version_created = time::now();
    config.version_creator = Some(token_ref(token));
    config.change_description = change_description;
}

/// Updates a configuration; a request that changes nothing records no event and no version.
pub async fn update(ctx: &Ctx, grant: &Granted<WriteComponent>, id: &str, changes: Changes) -> Result<ConfigView> {
    let component_id = grant.scope().0.clone();
    component(&ctx.core, &component_id)?;
    changes.check()?;
    let token = grant.token().clone();
    let project_id = token.project_id;
    let id = id.to_string();
    ctx.write(move |w, ctx| {
        let ConfigView { mut config, rows } = load(w, project_id, &component_id, &id, false)?;
        let before = config.clone();
        let scope = Scope::new(project_id, &component_id, &id);
        let configuration = changes
            .configuration
            .clone()
            .map(|c| seal(&ctx.core, &scope, c, Some(&config.configuration)))
            .transpose()?;
        let state = changes.state.clone().map(|s| seal(&ctx.core, &scope, s, Some(&config.state))).transpose()?;
        if changes.name.as_ref().is_some_and(|name| name.trim().is_empty()) {
            return Err(Error::new(
                Code::ConfigurationValidation,
                "Invalid data - name: This value should not be blank.",
            ));
        }
        let shared = Shared {
            name: &mut config.name,
            description: &mut config.description,
            configuration: &mut config.configuration,
            state: &mut config.state,
            is_disabled: &mut config.is_disabled,
        };
        let mut changed = apply(&changes, configuration, state, shared);
        if let Some(order) = changes.rows_sort_order.clone() {
            let mut given = order.clone();
            given.sort();
            let mut existing: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
            existing.sort();
            if given != existing {
                return Err(Error::new(
                    Code::ConfigurationValidation,
                    "Invalid data - rowsSortOrder: it must list every row id of the configuration exactly once.",
                ));
            }
            changed |= config.rows_sort_order != order;
            config.rows_sort_order = order;
        }
        if changed {
            bump(&mut config, &token, changes.change_description.unwrap_or_default());
            save_version(w, (&before, &rows), &config)?;
            config_event(w, ctx, &token, "storage.componentConfigurationChanged", "Changed", &config)?;
        }
        Ok(ConfigView { rows: ordered(&config, rows), config })
    })
    .await
}

/// Sets a configuration's state (no new version).
pub async fn set_state(ctx: &Ctx, grant: &Granted<WriteComponent>, id: &str, state: Value) -> Result<ConfigView> {
    check_json("state", &state)?;
    let component_id = grant.scope().0.clone();
    component(&ctx.core, &component_id)?;
    let project_id = grant.project_id();
    let id = id.to_string();
    let core = ctx.core.clone();
    ctx.core
        .store
        .write(move |w| {
            let ConfigView { mut config, rows } = load(w, project_id, &component_id, &id, false)?;
            config.state = seal(&core, &Scope::new(project_id, &component_id, &id), state, Some(&config.state))?;
            w.update_configuration(&config)?;
            Ok(ConfigView { rows, config })
        })
        .await
}

/// Deletes a configuration: the first delete moves it to the trash, a second one purges it (which
/// needs `canPurgeTrash`).
pub async fn delete(ctx: &Ctx, grant: &Granted<WriteComponent>, id: &str) -> Result<()> {
    let component_id = grant.scope().0.clone();
    component(&ctx.core, &component_id)?;
    let token = grant.token().clone();
    let id = id.to_string();
    ctx.write(move |w, ctx| {
        let mut config = w.configuration(token.project_id, &component_id, &id)?.ok_or_else(|| config_not_found(&id))?;
        if config.is_deleted {
            if !token.can_purge_trash() {
                return Err(Error::access_denied());
            }
            w.purge_configuration(&config)?;
            config_event(w, ctx, &token, "storage.componentConfigurationPurged", "Permanently deleted", &config)
        } else {
            config.is_deleted = true;
            w.update_configuration(&config)?;
            config_event(w, ctx, &token, "storage.componentConfigurationDeleted", "Deleted", &config)
        }
    })
    .await
}

/// Restores a configuration from the trash.
pub async fn restore(ctx: &Ctx, grant: &Granted<WriteComponent>, id: &str) -> Result<ConfigView> {
    let component_id = grant.scope().0.clone();
    component(&ctx.core, &component_id)?;
    let token = grant.token().clone();
    let id = id.to_string();
    ctx.write(move |w, ctx| {
        let ConfigView { mut config, rows } = load(w, token.project_id, &component_id, &id, true)?;
        config.is_deleted = false;
        w.update_configuration(&config)?;
        config_event(w, ctx, &token, "storage.componentConfigurationRestored", "Restored", &config)?;
        Ok(ConfigView { config, rows })
    })
    .await
}

fn metadata_object(component_id: &str, id: &str) -> String {
    format!("{component_id}/{id}")
}

/// Metadata of a configuration.
pub async fn metadata(ctx: &Ctx, grant: &Granted<ReadComponent>, id: &str) -> Result<Vec<MetadataEntry>> {
    get(ctx, grant, id).await?;
    let object = metadata_object(&grant.scope().0, id);
    let project_id = grant.project_id();
    ctx.core.store.read(move |r| r.metadata(project_id, "configuration", &object)).await
}

/// Upserts metadata of a configuration by key; returns all of its entries.
pub async fn set_metadata(
    ctx: &Ctx,
    grant: &Granted<WriteComponent>,
    id: &str,
    entries: Vec<(String, String)>,
) -> Result<Vec<MetadataEntry>> {
    crate::metadata::validate_entries(&entries)?;
    let component_id = grant.scope().0.clone();
    component(&ctx.core, &component_id)?;
    let (project_id, id) = (grant.project_id(), id.to_string());
    ctx.core
        .store
        .write(move |w| {
            load(w, project_id, &component_id, &id, false)?;
            let object = metadata_object(&component_id, &id);
            let now = time::now();
            for (key, value) in &entries {
                w.upsert_metadata(project_id, ("configuration", &object), "", (key, value), now)?;
            }
            w.metadata(project_id, "configuration", &object)
        })
        .await
}

/// Deletes one metadata entry of a configuration.
pub async fn delete_metadata(ctx: &Ctx, grant: &Granted<WriteComponent>, id: &str, entry_id: i64) -> Result<()> {
    let component_id = grant.scope().0.clone();
    let (project_id, id) = (grant.project_id(), id.to_string());
    ctx.core
        .store
        .write(move |w| {
            load(w, project_id, &component_id, &id, false)?;
            let not_found = || Error::new(Code::MetadataNotFound, format!("Metadata with id \"{entry_id}\" not found"));
            let entry = w.metadata_entry(project_id, entry_id)?.ok_or_else(not_found)?;
            if entry.object_type != "configuration" || entry.object_id != metadata_object(&component_id, &id) {
                return Err(not_found());
            }
            w.delete_metadata(project_id, entry_id)?;
            Ok(())
        })
        .await
}
