//! `components/...`: the component registry, configurations, rows, state and configuration
//! metadata, Keboola-shaped.

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use stowage_core::components::{self, Changes, ComponentView, ConfigView};
use stowage_core::records::{ConfigVersionRecord, RowRecord};
use stowage_core::{ComponentDef, Core};
use stowage_types::auth::{ListComponents, ReadComponent, TokenRef, WriteComponent};
use stowage_types::time::format;
use stowage_types::Code;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::input::{lenient, Input, Page, Params};
use crate::openapi::Op;
use crate::routes::metadata::MetadataInput;
use crate::routes::numeric_id;
use crate::views::MetadataView;
use crate::{views, AppState, Table};

const CONFIG: &str = "/v2/storage/components/{component}/configs/{config}";

pub(crate) fn register(t: Table) -> Table {
    const CONFIGS: &str = "/v2/storage/components/{component}/configs";
    let config = |summary| Op::ok::<Configuration>(summary);
    let made = |summary| Op::created::<Configuration>(summary);
    let row = |summary| Op::ok::<Row>(summary);
    t.add(
        Method::GET,
        "/v2/storage/components",
        list_components,
        Op::list::<Component>("List components and their configurations"),
    )
    .add(Method::GET, "/v2/storage/components/{component}", get_component, Op::ok::<Component>("Component detail"))
    .add(Method::GET, CONFIGS, list_configs, Op::list::<Configuration>("List a component's configurations"))
    .add(Method::POST, CONFIGS, create_config, made("Create a configuration"))
    .add(Method::GET, CONFIG, get_config, config("Configuration detail"))
    .add(Method::PUT, CONFIG, update_config, config("Update a configuration"))
    .add(Method::DELETE, CONFIG, delete_config, Op::empty("Delete a configuration (to the trash, then for good)"))
    .add(Method::POST, &format!("{CONFIG}/restore"), restore_config, config("Restore a deleted configuration"))
    .add(Method::PUT, &format!("{CONFIG}/state"), set_config_state, config("Set a configuration's state"))
    .add(
        Method::GET,
        &format!("{CONFIG}/versions"),
        list_versions,
        Op::list::<ConfigVersion>("A configuration's versions"),
    )
    .add(
        Method::GET,
        &format!("{CONFIG}/versions/{{version}}"),
        get_version,
        Op::ok::<ConfigVersionDetail>("A configuration version"),
    )
    .add(
        Method::POST,
        &format!("{CONFIG}/versions/{{version}}/rollback"),
        rollback_version,
        made("Roll a configuration back to a version"),
    )
    .add(
        Method::POST,
        &format!("{CONFIG}/versions/{{version}}/create"),
        copy_version,
        made("Copy a configuration version into a new configuration"),
    )
    .add(Method::GET, ROW_VERSIONS, list_row_versions, Op::list::<RowVersionView>("A row's versions"))
    .add(
        Method::GET,
        &format!("{ROW_VERSIONS}/{{version}}"),
        get_row_version,
        Op::ok::<RowVersionView>("A row version"),
    )
    .add(
        Method::POST,
        &format!("{ROW_VERSIONS}/{{version}}/rollback"),
        rollback_row_version,
        Op::created::<Row>("Roll a row back to a version"),
    )
    .add(
        Method::POST,
        &format!("{ROW_VERSIONS}/{{version}}/create"),
        copy_row_version,
        Op::created::<Row>("Copy a row version into a configuration"),
    )
    .add(Method::GET, &format!("{CONFIG}/rows"), list_rows, Op::list::<Row>("A configuration's rows"))
    .add(Method::POST, &format!("{CONFIG}/rows"), create_row, Op::created::<Row>("Create a row"))
    .add(Method::GET, &format!("{CONFIG}/rows/{{row}}"), get_row, row("Row detail"))
    .add(Method::PUT, &format!("{CONFIG}/rows/{{row}}"), update_row, row("Update a row"))
    .add(Method::DELETE, &format!("{CONFIG}/rows/{{row}}"), delete_row, Op::empty("Delete a row"))
    .add(Method::PUT, &format!("{CONFIG}/rows/{{row}}/state"), set_row_state, row("Set a row's state"))
    .add(
        Method::GET,
        &format!("{CONFIG}/metadata"),
        list_config_metadata,
        Op::list::<MetadataView>("A configuration's metadata"),
    )
    .add(
        Method::POST,
        &format!("{CONFIG}/metadata"),
        create_config_metadata,
        Op::created_list::<MetadataView>("Set configuration metadata"),
    )
    .add(
        Method::DELETE,
        &format!("{CONFIG}/metadata/{{entry}}"),
        delete_config_metadata,
        Op::empty("Delete a configuration metadata entry"),
    )
}

const ROW_VERSIONS: &str = "/v2/storage/components/{component}/configs/{config}/rows/{row}/versions";

/// The token that made a configuration, row or version (its id a number, as Keboola sends it).
#[derive(Serialize, ToSchema)]
pub(crate) struct Creator {
    id: i64,
    description: String,
}

fn creator(token: &Option<TokenRef>) -> Option<Creator> {
    token.as_ref().map(|token| Creator { id: token.id, description: token.description.clone() })
}

/// A configuration row.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Row {
    id: String,
    name: String,
    description: String,
    configuration: Value,
    state: Value,
    is_disabled: bool,
    version: i64,
    created: String,
    creator_token: Option<Creator>,
    change_description: String,
}

fn row_view(row: &RowRecord) -> Row {
    Row {
        id: row.id.clone(),
        name: row.name.clone(),
        description: row.description.clone(),
        configuration: row.configuration.clone(),
        state: row.state.clone(),
        is_disabled: row.is_disabled,
        version: row.version,
        created: format(row.created),
        creator_token: creator(&row.creator),
        change_description: row.change_description.clone(),
    }
}

/// Which parts of a configuration to show.
#[derive(Clone, Copy)]
struct Parts {
    configuration: bool,
    rows: bool,
    state: bool,
}

const ALL_PARTS: Parts = Parts { configuration: true, rows: true, state: true };

/// The version a configuration is at.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CurrentVersion {
    created: String,
    creator_token: Option<Creator>,
    change_description: String,
    version_identifier: String,
}

/// A configuration. `configuration`, `rowsSortOrder`, `rows` and `state` are left out of the
/// component listings unless asked for with `include`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Configuration {
    id: String,
    name: String,
    description: String,
    created: String,
    creator_token: Option<Creator>,
    version: i64,
    change_description: String,
    is_disabled: bool,
    is_deleted: bool,
    current_version: CurrentVersion,
    /// The configuration itself; keys that start with `#` are encrypted at rest and answered
    /// encrypted.
    #[serde(skip_serializing_if = "Option::is_none")]
    configuration: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rows_sort_order: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rows: Option<Vec<Row>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<Value>,
}

fn config_view(view: &ConfigView, parts: Parts) -> Configuration {
    let config = &view.config;
    Configuration {
        id: config.id.clone(),
        name: config.name.clone(),
        description: config.description.clone(),
        created: format(config.created),
        creator_token: creator(&config.creator),
        version: config.version,
        change_description: config.change_description.clone(),
        is_disabled: config.is_disabled,
        is_deleted: config.is_deleted,
        current_version: CurrentVersion {
            created: format(config.version_created),
            creator_token: creator(&config.version_creator),
            change_description: config.change_description.clone(),
            version_identifier: format!("{}-{}", config.id, config.version),
        },
        configuration: parts.configuration.then(|| config.configuration.clone()),
        rows_sort_order: parts.configuration.then(|| config.rows_sort_order.clone()),
        rows: parts.rows.then(|| view.rows.iter().map(row_view).collect()),
        state: parts.state.then(|| config.state.clone()),
    }
}

/// A component of the registry (the Storage Writer and Storage Extractor), Keboola-shaped.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Component {
    id: String,
    /// `writer` or `extractor`.
    #[serde(rename = "type")]
    kind: String,
    name: String,
    description: &'static str,
    long_description: &'static str,
    version: i64,
    complexity: &'static str,
    categories: Vec<String>,
    #[serde(rename = "hasUI")]
    has_ui: bool,
    has_run: bool,
    ico32: &'static str,
    ico64: &'static str,
    ico128: &'static str,
    data: BTreeMap<String, Value>,
    flags: Vec<String>,
    configuration_schema: BTreeMap<String, Value>,
    configuration_row_schema: BTreeMap<String, Value>,
    empty_configuration: BTreeMap<String, Value>,
    empty_configuration_row: BTreeMap<String, Value>,
    ui_options: BTreeMap<String, Value>,
    features: Vec<String>,
    documentation_url: &'static str,
    uri: String,
    configurations: Vec<Configuration>,
}

fn component_view(core: &Core, component: &ComponentDef, configurations: Vec<Configuration>) -> Component {
    Component {
        id: component.id.to_string(),
        kind: component.kind.to_string(),
        name: component.name.to_string(),
        description: "",
        long_description: "",
        version: 1,
        complexity: "",
        categories: Vec::new(),
        has_ui: false,
        has_run: component.runnable,
        ico32: "",
        ico64: "",
        ico128: "",
        data: BTreeMap::new(),
        flags: Vec::new(),
        configuration_schema: BTreeMap::new(),
        configuration_row_schema: BTreeMap::new(),
        empty_configuration: BTreeMap::new(),
        empty_configuration_row: BTreeMap::new(),
        ui_options: BTreeMap::new(),
        features: Vec::new(),
        documentation_url: "",
        uri: format!("{}/components/{}", core.storage_url(), component.id),
        configurations,
    }
}

fn listed(view: &ComponentView, parts: Parts) -> Vec<Configuration> {
    view.configurations.iter().map(|config| config_view(config, parts)).collect()
}

async fn list_components(
    State(state): State<AppState>,
    caller: Caller,
    Params(query): Params<ComponentQuery>,
    Params(page): Params<Page>,
) -> ApiResult<Json<Vec<Component>>> {
    let include = query.include.unwrap_or_default();
    let parts = Parts {
        configuration: include.iter().any(|i| i == "configuration"),
        rows: include.iter().any(|i| i == "rows"),
        state: include.iter().any(|i| i == "state"),
    };
    let kind = query.component_type.filter(|k| !k.is_empty());
    let deleted = query.is_deleted.unwrap_or(false);
    let grant = caller.token.authorize(ListComponents)?;
    let list = page.of(components::list(&caller.ctx, &grant, kind, deleted).await?)?;
    Ok(Json(list.iter().map(|view| component_view(&state.core, &view.component, listed(view, parts))).collect()))
}

async fn get_component(
    State(state): State<AppState>,
    caller: Caller,
    Path(component): Path<String>,
) -> ApiResult<Json<Component>> {
    let grant = caller.token.authorize(ReadComponent(component.clone()))?;
    let configs = components::list_configs(&caller.ctx, &grant, false).await?;
    let def = components::component(&state.core, &component)?;
    let summaries =
        configs.iter().map(|c| config_view(c, Parts { configuration: false, rows: false, state: false })).collect();
    Ok(Json(component_view(&state.core, &def, summaries)))
}

async fn list_configs(
    caller: Caller,
    Path(component): Path<String>,
    Params(query): Params<ConfigQuery>,
    Params(page): Params<Page>,
) -> ApiResult<Json<Vec<Configuration>>> {
    let deleted = query.is_deleted.unwrap_or(false);
    let grant = caller.token.authorize(ReadComponent(component))?;
    let configs = page.of(components::list_configs(&caller.ctx, &grant, deleted).await?)?;
    Ok(Json(configs.iter().map(|c| config_view(c, ALL_PARTS)).collect()))
}

/// The fields of a configuration or a row, to make or change it.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ChangesInput {
    #[serde(default, deserialize_with = "lenient::text")]
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    description: Option<String>,
    /// A JSON object (in a form, JSON text); keys starting with `#` are encrypted at rest.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    configuration: Option<Value>,
    /// A JSON object (in a form, JSON text).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    state: Option<Value>,
    #[serde(default, deserialize_with = "lenient::text")]
    change_description: Option<String>,
    #[serde(default, deserialize_with = "lenient::flag")]
    is_disabled: Option<bool>,
    /// Row ids in the order the rows run.
    #[serde(default, deserialize_with = "lenient::list")]
    rows_sort_order: Option<Vec<String>>,
}

/// A configuration to make or change.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConfigInput {
    /// The new configuration's id (one is made when absent).
    #[serde(default, deserialize_with = "lenient::text")]
    configuration_id: Option<String>,
    #[serde(flatten)]
    changes: ChangesInput,
}

/// A row to make or change.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RowInput {
    /// The new row's id (one is made when absent).
    #[serde(default, deserialize_with = "lenient::text")]
    row_id: Option<String>,
    #[serde(flatten)]
    changes: ChangesInput,
}

/// A configuration's or a row's new state.
#[derive(Deserialize, ToSchema)]
pub(crate) struct StateInput {
    /// A JSON object (in a form, JSON text).
    #[serde(default)]
    #[schema(value_type = Object)]
    state: Option<Value>,
}

/// Why a version is rolled back to.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RollbackInput {
    #[serde(default, deserialize_with = "lenient::text")]
    change_description: Option<String>,
}

/// Where a row version is copied to.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CopyRowInput {
    /// The configuration that gets the copy (the row's own when absent).
    #[serde(default, deserialize_with = "lenient::text")]
    target_config_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    change_description: Option<String>,
}

/// What to list components with.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ComponentQuery {
    /// `configuration`, `rows`, `state`: parts of each configuration to add.
    #[serde(default, deserialize_with = "lenient::list")]
    include: Option<Vec<String>>,
    /// `writer` or `extractor`.
    #[serde(default, deserialize_with = "lenient::text")]
    component_type: Option<String>,
    /// List the configurations in the trash instead.
    #[serde(default, deserialize_with = "lenient::flag")]
    is_deleted: Option<bool>,
}

/// Which configurations to list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConfigQuery {
    /// List the configurations in the trash instead.
    #[serde(default, deserialize_with = "lenient::flag")]
    is_deleted: Option<bool>,
}

/// A JSON object field of a configuration or row: an object, `[]` (PHP's empty map), or in a form
/// JSON text.
fn json_object(name: &str, value: Option<Value>) -> ApiResult<Option<Value>> {
    let refused =
        || ApiError::new(Code::ConfigurationValidation, format!("Invalid data - {name}: must be a JSON object."));
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(Value::Object(map))),
        Some(Value::Array(items)) if items.is_empty() => Ok(Some(json!({}))),
        Some(other) => crate::input::lenient::read_object(&other).map_err(|_| refused()),
    }
}

impl ChangesInput {
    fn changes(self, id: Option<String>) -> ApiResult<Changes> {
        Ok(Changes {
            id: id.filter(|id| !id.is_empty()),
            configuration: json_object("configuration", self.configuration)?,
            state: json_object("state", self.state)?,
            name: self.name,
            description: self.description,
            change_description: self.change_description,
            is_disabled: self.is_disabled,
            rows_sort_order: self.rows_sort_order,
        })
    }
}

async fn create_config(
    caller: Caller,
    Path(component): Path<String>,
    Input(body): Input<ConfigInput>,
) -> ApiResult<Response> {
    let changes = body.changes.changes(body.configuration_id)?;
    let grant = caller.token.authorize(WriteComponent(component))?;
    let view = components::create(&caller.ctx, &grant, changes).await?;
    Ok((StatusCode::CREATED, Json(config_view(&view, ALL_PARTS))).into_response())
}

async fn get_config(
    caller: Caller,
    Path((component, config)): Path<(String, String)>,
) -> ApiResult<Json<Configuration>> {
    let grant = caller.token.authorize(ReadComponent(component))?;
    Ok(Json(config_view(&components::get(&caller.ctx, &grant, &config).await?, ALL_PARTS)))
}

async fn update_config(
    caller: Caller,
    Path((component, config)): Path<(String, String)>,
    Input(body): Input<ConfigInput>,
) -> ApiResult<Json<Configuration>> {
    let changes = body.changes.changes(body.configuration_id)?;
    let grant = caller.token.authorize(WriteComponent(component))?;
    Ok(Json(config_view(&components::update(&caller.ctx, &grant, &config, changes).await?, ALL_PARTS)))
}

async fn delete_config(caller: Caller, Path((component, config)): Path<(String, String)>) -> ApiResult<StatusCode> {
    let grant = caller.token.authorize(WriteComponent(component))?;
    components::delete(&caller.ctx, &grant, &config).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn restore_config(
    caller: Caller,
    Path((component, config)): Path<(String, String)>,
) -> ApiResult<Json<Configuration>> {
    let grant = caller.token.authorize(WriteComponent(component))?;
    Ok(Json(config_view(&components::restore(&caller.ctx, &grant, &config).await?, ALL_PARTS)))
}

/// A version as the list shows it: who made it, when and why.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConfigVersion {
    version: i64,
    created: String,
    creator_token: Option<Creator>,
    change_description: String,
    is_deleted: bool,
    name: String,
    version_identifier: String,
}

/// A version with what the configuration held at it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConfigVersionDetail {
    #[serde(flatten)]
    summary: ConfigVersion,
    description: Value,
    configuration: Value,
    rows_sort_order: Value,
    is_disabled: Value,
    rows: Value,
}

fn version_summary(config_id: &str, version: &ConfigVersionRecord) -> ConfigVersion {
    ConfigVersion {
        version: version.version,
        created: format(version.created),
        creator_token: creator(&version.creator),
        change_description: version.change_description.clone(),
        is_deleted: false,
        name: version.name.clone(),
        version_identifier: format!("{config_id}-{}", version.version),
    }
}

fn version_number(text: &str) -> ApiResult<i64> {
    text.parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| ApiError::new(Code::ConfigurationVersionNotFound, format!("Version {text} not found")))
}

async fn list_versions(
    caller: Caller,
    Path((component, config)): Path<(String, String)>,
    Params(page): Params<Page>,
) -> ApiResult<Json<Vec<ConfigVersion>>> {
    let grant = caller.token.authorize(ReadComponent(component))?;
    let versions = page.of(components::versions(&caller.ctx, &grant, &config).await?)?;
    Ok(Json(versions.iter().map(|v| version_summary(&config, v)).collect()))
}

async fn get_version(
    caller: Caller,
    Path((component, config, version)): Path<(String, String, String)>,
) -> ApiResult<Json<ConfigVersionDetail>> {
    let grant = caller.token.authorize(ReadComponent(component))?;
    let kept = components::version(&caller.ctx, &grant, &config, version_number(&version)?).await?;
    let field = |name: &str| kept.snapshot[name].clone();
    Ok(Json(ConfigVersionDetail {
        description: field("description"),
        configuration: field("configuration"),
        rows_sort_order: field("rowsSortOrder"),
        is_disabled: field("isDisabled"),
        rows: field("rows"),
        summary: version_summary(&config, &kept),
    }))
}

async fn rollback_version(
    caller: Caller,
    Path((component, config, version)): Path<(String, String, String)>,
    Input(body): Input<RollbackInput>,
) -> ApiResult<Response> {
    let change = body.change_description.filter(|c| !c.is_empty());
    let grant = caller.token.authorize(WriteComponent(component))?;
    let view = components::rollback(&caller.ctx, &grant, &config, version_number(&version)?, change).await?;
    Ok((StatusCode::CREATED, Json(config_view(&view, ALL_PARTS))).into_response())
}

async fn copy_version(
    caller: Caller,
    Path((component, config, version)): Path<(String, String, String)>,
    Input(body): Input<ConfigInput>,
) -> ApiResult<Response> {
    let changes = body.changes.changes(body.configuration_id)?;
    let grant = caller.token.authorize(WriteComponent(component))?;
    let view = components::copy_version(&caller.ctx, &grant, &config, version_number(&version)?, changes).await?;
    Ok((StatusCode::CREATED, Json(config_view(&view, ALL_PARTS))).into_response())
}

fn state_of(body: StateInput) -> ApiResult<Value> {
    json_object("state", body.state)?
        .ok_or_else(|| ApiError::new(Code::ConfigurationValidation, "Invalid data - state: a JSON object is required."))
}

async fn set_config_state(
    caller: Caller,
    Path((component, config)): Path<(String, String)>,
    Input(body): Input<StateInput>,
) -> ApiResult<Json<Configuration>> {
    let state = state_of(body)?;
    let grant = caller.token.authorize(WriteComponent(component))?;
    Ok(Json(config_view(&components::set_state(&caller.ctx, &grant, &config, state).await?, ALL_PARTS)))
}

async fn list_rows(
    caller: Caller,
    Path((component, config)): Path<(String, String)>,
    Params(page): Params<Page>,
) -> ApiResult<Json<Vec<Row>>> {
    let grant = caller.token.authorize(ReadComponent(component))?;
    let rows = page.of(components::list_rows(&caller.ctx, &grant, &config).await?)?;
    Ok(Json(rows.iter().map(row_view).collect()))
}

async fn create_row(
    caller: Caller,
    Path((component, config)): Path<(String, String)>,
    Input(body): Input<RowInput>,
) -> ApiResult<Response> {
    let changes = body.changes.changes(body.row_id)?;
    let grant = caller.token.authorize(WriteComponent(component))?;
    let row = components::create_row(&caller.ctx, &grant, &config, changes).await?;
    Ok((StatusCode::CREATED, Json(row_view(&row))).into_response())
}

/// A kept version of a row; its configuration only in the detail.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = RowVersion)]
pub(crate) struct RowVersionView {
    version: i64,
    created: String,
    creator_token: Option<Creator>,
    change_description: String,
    is_disabled: bool,
    name: String,
    description: String,
    version_identifier: String,
    /// Only in a version's detail.
    #[serde(skip_serializing_if = "Option::is_none")]
    configuration: Option<Value>,
}

fn row_version_view(row_id: &str, kept: &components::RowVersion, detail: bool) -> RowVersionView {
    RowVersionView {
        version: kept.version,
        created: format(kept.created),
        creator_token: creator(&kept.creator),
        change_description: kept.change_description.clone(),
        is_disabled: kept.is_disabled,
        name: kept.name.clone(),
        description: kept.description.clone(),
        version_identifier: format!("{row_id}-{}", kept.version),
        configuration: detail.then(|| kept.configuration.clone()),
    }
}

async fn list_row_versions(
    caller: Caller,
    Path((component, config, row)): Path<(String, String, String)>,
    Params(page): Params<Page>,
) -> ApiResult<Json<Vec<RowVersionView>>> {
    let grant = caller.token.authorize(ReadComponent(component))?;
    let versions = page.of(components::row_versions(&caller.ctx, &grant, &config, &row).await?)?;
    Ok(Json(versions.iter().map(|kept| row_version_view(&row, kept, false)).collect()))
}

async fn get_row_version(
    caller: Caller,
    Path((component, config, row, version)): Path<(String, String, String, String)>,
) -> ApiResult<Json<RowVersionView>> {
    let grant = caller.token.authorize(ReadComponent(component))?;
    let kept = components::row_version(&caller.ctx, &grant, &config, &row, version_number(&version)?).await?;
    Ok(Json(row_version_view(&row, &kept, true)))
}

async fn rollback_row_version(
    caller: Caller,
    Path((component, config, row, version)): Path<(String, String, String, String)>,
    Input(body): Input<RollbackInput>,
) -> ApiResult<Response> {
    let change = body.change_description.filter(|c| !c.is_empty());
    let grant = caller.token.authorize(WriteComponent(component))?;
    let version = version_number(&version)?;
    let restored = components::rollback_row(&caller.ctx, &grant, &config, &row, version, change).await?;
    Ok((StatusCode::CREATED, Json(row_view(&restored))).into_response())
}

async fn copy_row_version(
    caller: Caller,
    Path((component, config, row, version)): Path<(String, String, String, String)>,
    Input(body): Input<CopyRowInput>,
) -> ApiResult<Response> {
    let target = body.target_config_id;
    let change = body.change_description.filter(|c| !c.is_empty());
    let grant = caller.token.authorize(WriteComponent(component))?;
    let source = (config.as_str(), row.as_str(), version_number(&version)?);
    let copied = components::copy_row_version(&caller.ctx, &grant, source, target, change).await?;
    Ok((StatusCode::CREATED, Json(row_view(&copied))).into_response())
}

async fn get_row(
    caller: Caller,
    Path((component, config, row)): Path<(String, String, String)>,
) -> ApiResult<Json<Row>> {
    let grant = caller.token.authorize(ReadComponent(component))?;
    Ok(Json(row_view(&components::get_row(&caller.ctx, &grant, &config, &row).await?)))
}

async fn update_row(
    caller: Caller,
    Path((component, config, row)): Path<(String, String, String)>,
    Input(body): Input<RowInput>,
) -> ApiResult<Json<Row>> {
    let changes = body.changes.changes(body.row_id)?;
    let grant = caller.token.authorize(WriteComponent(component))?;
    Ok(Json(row_view(&components::update_row(&caller.ctx, &grant, &config, &row, changes).await?)))
}

async fn delete_row(
    caller: Caller,
    Path((component, config, row)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let grant = caller.token.authorize(WriteComponent(component))?;
    components::delete_row(&caller.ctx, &grant, &config, &row).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_row_state(
    caller: Caller,
    Path((component, config, row)): Path<(String, String, String)>,
    Input(body): Input<StateInput>,
) -> ApiResult<Json<Row>> {
    let state = state_of(body)?;
    let grant = caller.token.authorize(WriteComponent(component))?;
    Ok(Json(row_view(&components::set_row_state(&caller.ctx, &grant, &config, &row, state).await?)))
}

fn config_metadata_json(entries: &[stowage_core::records::MetadataEntry]) -> Vec<MetadataView> {
    entries.iter().map(views::branch_metadata_entry).collect()
}

async fn list_config_metadata(
    caller: Caller,
    Path((component, config)): Path<(String, String)>,
    Params(page): Params<Page>,
) -> ApiResult<Json<Vec<MetadataView>>> {
    let grant = caller.token.authorize(ReadComponent(component))?;
    Ok(Json(config_metadata_json(&page.of(components::metadata(&caller.ctx, &grant, &config).await?)?)))
}

async fn create_config_metadata(
    caller: Caller,
    Path((component, config)): Path<(String, String)>,
    Input(body): Input<MetadataInput>,
) -> ApiResult<Response> {
    let entries = body.entries()?.ok_or_else(|| {
        ApiError::new(Code::MetadataValidation, "Invalid data - metadata: expected a list of {key, value} objects.")
    })?;
    let grant = caller.token.authorize(WriteComponent(component))?;
    let all = components::set_metadata(&caller.ctx, &grant, &config, entries).await?;
    Ok((StatusCode::CREATED, Json(config_metadata_json(&all))).into_response())
}

async fn delete_config_metadata(
    caller: Caller,
    Path((component, config, entry)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let entry = numeric_id(&entry)?;
    let grant = caller.token.authorize(WriteComponent(component))?;
    components::delete_metadata(&caller.ctx, &grant, &config, entry).await?;
    Ok(StatusCode::NO_CONTENT)
}
