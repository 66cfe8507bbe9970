//! Components and their configurations: the registry, configurations and rows (create, list,
//! detail, update, trash, purge, restore), state, metadata, and the sealing of `#` values.
//!
//! Values under keys that start with `#` are encrypted with the stack key when saved and shown only
//! as `KBC::ConfigSecure::...`, as Keboola binds them: to the project, the component and the
//! configuration, and (Stowage's addition) to the `url` beside them, so a secret opens only where it
//! was given and is sent only to the address it was given with. A ciphertext of another
//! configuration or address is refused when saved, and one sent back with a changed `url` beside it
//! is dropped ([`seal`]). Only a running job and a sync action open them ([`unseal`]).

use serde_json::{json, Map, Value};
use stowage_store::{Reader, Writer};
use stowage_types::auth::{Granted, ListComponents, Permission, ReadComponent, Token, TokenRef, WriteComponent};
use stowage_types::{time, Code, Error, Result};

use crate::events::{record, Happened};
use crate::records::{ConfigRecord, ConfigVersionRecord, MetadataEntry, RowRecord};
use crate::{ComponentDef, Core, Ctx};

/// The prefix of a sealed value.
pub const SEALED_PREFIX: &str = "KBC::ConfigSecure::";
/// The prefix of values sealed before they were bound to their configuration: still opened in
/// the configuration that holds them, never accepted from a client for another.
const LEGACY_PREFIX: &str = "KBC::ProjectSecure::";
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

/// Where a sealed value belongs: a configuration (its rows share it).
#[derive(Debug, Clone)]
pub struct Scope {
    pub project_id: i64,
    pub component_id: String,
    pub config_id: String,
}

impl Scope {
    pub fn new(project_id: i64, component_id: &str, config_id: &str) -> Self {
        Scope { project_id, component_id: component_id.to_string(), config_id: config_id.to_string() }
    }

    /// What a value sealed here beside `url` is bound to (the associated data of its encryption).
    fn context(&self, url: &str) -> String {
        format!("project:{}/component:{}/config:{}/url:{url}", self.project_id, self.component_id, self.config_id)
    }

    /// What a value sealed before configurations were bound was bound to.
    fn legacy_context(&self) -> String {
        format!("project:{}/component:{}", self.project_id, self.component_id)
    }
}

/// Who a configuration's sealed values come from, for [`unseal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Read from the catalog: the configuration's own values, old ones included.
    Stored,
    /// Sent by a client (a sync action's `configData`).
    Client,
}

fn foreign(key: &str) -> Error {
    Error::new(
        Code::ConfigurationValidation,
        format!(
            "The value of \"{key}\" was encrypted for another configuration or address, or is damaged: give it in plain text."
        ),
    )
}

/// The `url` beside `#` values in an object ("" when there is none).
fn url_of(map: &Map<String, Value>) -> &str {
    map.get("url").and_then(Value::as_str).unwrap_or("")
}

/// Seals every plain string under a `#` key for `scope`. `stored` is what the same place holds
/// now (none for something new): a sealed value sent back keeps its place only where it opens
/// beside the `url` sent with it; the configuration's own value sent back beside a changed `url`
/// is dropped (the secret was given for the old address); any other sealed value is refused.
pub fn seal(core: &Core, scope: &Scope, value: Value, stored: Option<&Value>) -> Result<Value> {
    match value {
        Value::Object(map) => {
            let url = url_of(&map).to_string();
            let stored_map = stored.and_then(Value::as_object);
            let stored_url = stored_map.map(url_of);
            let mut out = Map::new();
            for (key, child) in map {
                let kept = stored_map.and_then(|stored| stored.get(&key));
                let child = match child {
                    Value::String(text) if key.starts_with('#') => {
                        let kept = kept.and_then(Value::as_str);
                        match seal_text(core, scope, (&key, text), &url, (kept, stored_url))? {
                            Some(sealed) => Value::String(sealed),
                            None => continue,
                        }
                    }
                    other => seal(core, scope, other, kept)?,
                };
                out.insert(key, child);
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(index, item)| seal(core, scope, item, stored.and_then(|stored| stored.get(index))))
            .collect::<Result<_>>()
            .map(Value::Array),
        other => Ok(other),
    }
}

/// What [`seal`] stores for the text under `#key` beside `url`; `None` drops it. `kept` is the
/// text the same place holds now, beside `kept_url`.
fn seal_text(
    core: &Core,
    scope: &Scope,
    (key, text): (&str, String),
    url: &str,
    (kept, kept_url): (Option<&str>, Option<&str>),
) -> Result<Option<String>> {
    let ours = kept == Some(text.as_str());
    if let Some(sealed) = text.strip_prefix(SEALED_PREFIX) {
        if core.key.decrypt_bound(sealed, &scope.context(url)).is_ok() {
            return Ok(Some(text));
        }
        return if ours { Ok(None) } else { Err(foreign(key)) };
    }
    if let Some(sealed) = text.strip_prefix(LEGACY_PREFIX) {
        if !ours {
            return Err(foreign(key));
        }
        if kept_url != Some(url) {
            return Ok(None);
        }
        let plain = core.key.decrypt_bound(sealed, &scope.legacy_context()).map_err(|_| foreign(key))?;
        return Ok(Some(format!("{SEALED_PREFIX}{}", core.key.encrypt_bound(&plain, &scope.context(url))?)));
    }
    if text.starts_with("KBC::") {
        return Err(foreign(key));
    }
    Ok(Some(format!("{SEALED_PREFIX}{}", core.key.encrypt_bound(&text, &scope.context(url))?)))
}

/// Decrypts every sealed string under a `#` key of `scope` (each beside the `url` it was sealed
/// with); for running jobs and sync actions only. Values sealed before configurations were bound
/// open only from the catalog ([`Origin::Stored`]).
pub fn unseal(core: &Core, scope: &Scope, value: Value, origin: Origin) -> Result<Value> {
    let refused = |key: &str| {
        Error::new(
            Code::ConfigurationValidation,
            format!(
                "The value of \"{key}\" cannot be decrypted here: it belongs to another configuration or address, or is damaged."
            ),
        )
    };
    match value {
        Value::Object(map) => {
            let context = scope.context(url_of(&map));
            let mut out = Map::new();
            for (key, child) in map {
                let child = match child {
                    Value::String(text) if key.starts_with('#') => {
                        if let Some(sealed) = text.strip_prefix(SEALED_PREFIX) {
                            Value::String(core.key.decrypt_bound(sealed, &context).map_err(|_| refused(&key))?)
                        } else if let Some(sealed) = text.strip_prefix(LEGACY_PREFIX) {
                            if origin == Origin::Client {
                                return Err(refused(&key));
                            }
                            let plain = core.key.decrypt_bound(sealed, &scope.legacy_context());
                            Value::String(plain.map_err(|_| refused(&key))?)
                        } else {
                            Value::String(text)
                        }
                    }
                    other => unseal(core, scope, other, origin)?,
                };
                out.insert(key, child);
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => {
            items.into_iter().map(|item| unseal(core, scope, item, origin)).collect::<Result<_>>().map(Value::Array)
        }
        other => Ok(other),
    }
}

/// A configuration's sealed values opened in `from` and sealed again for `to` (a copy into
/// another configuration, or a row version brought back): the values are the stack's own, read
/// from the catalog.
pub fn reseal(core: &Core, from: &Scope, to: &Scope, value: Value) -> Result<Value> {
    let plain = unseal(core, from, value, Origin::Stored)?;
    seal(core, to, plain, None)
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

/// Sealed values use a fresh nonce each time, so compare configurations with them masked.
fn same_sealed(a: &Value, b: &Value) -> bool {
    fn mask(value: &Value) -> Value {
        match value {
            Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), mask(v))).collect()),
            Value::Array(items) => Value::Array(items.iter().map(mask).collect()),
            Value::String(text) if text.starts_with("KBC::") => Value::String("KBC::".into()),
            other => other.clone(),
        }
    }
    mask(a) == mask(b)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_comparison_ignores_the_nonce() {
        let a = json!({"#token": "KBC::ConfigSecure::v1:aaa", "url": "x"});
        let b = json!({"#token": "KBC::ConfigSecure::v1:bbb", "url": "x"});
        assert!(same_sealed(&a, &b));
        assert!(!same_sealed(&a, &json!({"#token": "KBC::ConfigSecure::v1:aaa", "url": "y"})));
    }

    /// A value as configurations were sealed before they were bound to one (and to a URL).
    fn legacy(core: &Core, scope: &Scope, plain: &str) -> String {
        format!("{LEGACY_PREFIX}{}", core.key.encrypt_bound(plain, &scope.legacy_context()).unwrap())
    }

    #[test]
    fn a_value_sealed_before_binding_opens_only_in_its_own_configuration_and_is_bound_when_sent_back() {
        let dir = tempfile::tempdir().unwrap();
        let core = crate::testing::core(dir.path());
        let (own, other) = (Scope::new(1, "keboola.wr-storage", "10"), Scope::new(1, "keboola.wr-storage", "11"));
        let stored = json!({"parameters": {"url": "https://a", "#token": legacy(&core, &own, "secret")}});
        // A job opens it from the catalog; a client may not hand it in.
        let opened = unseal(&core, &own, stored.clone(), Origin::Stored).unwrap();
        assert_eq!(opened["parameters"]["#token"], "secret");
        assert!(unseal(&core, &own, stored.clone(), Origin::Client).is_err());
        // Sent back unchanged, it is sealed again, bound to the configuration and its URL.
        let resealed = seal(&core, &own, stored.clone(), Some(&stored)).unwrap();
        let token = resealed["parameters"]["#token"].as_str().unwrap();
        assert!(token.starts_with(SEALED_PREFIX), "{token}");
        assert_eq!(unseal(&core, &own, resealed.clone(), Origin::Client).unwrap()["parameters"]["#token"], "secret");
        // Sent back beside another URL, it is dropped; given to another configuration, refused.
        let moved = json!({"parameters": {"url": "https://evil", "#token": stored["parameters"]["#token"]}});
        let dropped = seal(&core, &own, moved, Some(&stored)).unwrap();
        assert!(dropped["parameters"].get("#token").is_none(), "{dropped}");
        let error = seal(&core, &other, stored, None).unwrap_err();
        assert_eq!(error.code, Code::ConfigurationValidation);
        // Copied (server-side), a value opens in the copy and no longer in the source's place.
        let copied = reseal(&core, &own, &other, resealed).unwrap();
        assert_eq!(unseal(&core, &other, copied.clone(), Origin::Client).unwrap()["parameters"]["#token"], "secret");
        assert!(unseal(&core, &own, copied, Origin::Client).is_err());
    }
}
