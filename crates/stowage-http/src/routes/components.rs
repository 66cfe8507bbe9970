//! `components/...`: the component registry, configurations, rows, state and configuration
//! metadata, Keboola-shaped.

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use stowage_core::components::{self, Changes, ComponentView, ConfigView};
use stowage_core::records::{ConfigRecord, ConfigVersionRecord, RowRecord};
use stowage_core::{ComponentDef, Core};
use stowage_types::auth::{ListComponents, ReadComponent, TokenRef, WriteComponent};
use stowage_types::time::format;
use stowage_types::Code;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::input::{Body, Fields, Query};
use crate::routes::numeric_id;
use crate::{views, AppState, Table};

const CONFIG: &str = "/v2/storage/components/{component}/configs/{config}";

pub(crate) fn register(t: Table) -> Table {
    t.add(Method::GET, "/v2/storage/components", list_components)
        .add(Method::GET, "/v2/storage/components/{component}", get_component)
        .add(Method::GET, "/v2/storage/components/{component}/configs", list_configs)
        .add(Method::POST, "/v2/storage/components/{component}/configs", create_config)
        .add(Method::GET, CONFIG, get_config)
        .add(Method::PUT, CONFIG, update_config)
        .add(Method::DELETE, CONFIG, delete_config)
        .add(Method::POST, "/v2/storage/components/{component}/configs/{config}/restore", restore_config)
        .add(Method::PUT, "/v2/storage/components/{component}/configs/{config}/state", set_config_state)
        .add(Method::GET, "/v2/storage/components/{component}/configs/{config}/versions", list_versions)
        .add(Method::GET, "/v2/storage/components/{component}/configs/{config}/versions/{version}", get_version)
        .add(
            Method::POST,
            "/v2/storage/components/{component}/configs/{config}/versions/{version}/rollback",
            rollback_version,
        )
        .add(
            Method::POST,
            "/v2/storage/components/{component}/configs/{config}/versions/{version}/create",
            copy_version,
        )
        .add(Method::GET, ROW_VERSIONS, list_row_versions)
        .add(Method::GET, &format!("{ROW_VERSIONS}/{{version}}"), get_row_version)
        .add(Method::POST, &format!("{ROW_VERSIONS}/{{version}}/rollback"), rollback_row_version)
        .add(Method::POST, &format!("{ROW_VERSIONS}/{{version}}/create"), copy_row_version)
        .add(Method::GET, "/v2/storage/components/{component}/configs/{config}/rows", list_rows)
        .add(Method::POST, "/v2/storage/components/{component}/configs/{config}/rows", create_row)
        .add(Method::GET, "/v2/storage/components/{component}/configs/{config}/rows/{row}", get_row)
        .add(Method::PUT, "/v2/storage/components/{component}/configs/{config}/rows/{row}", update_row)
        .add(Method::DELETE, "/v2/storage/components/{component}/configs/{config}/rows/{row}", delete_row)
        .add(Method::PUT, "/v2/storage/components/{component}/configs/{config}/rows/{row}/state", set_row_state)
        .add(Method::GET, "/v2/storage/components/{component}/configs/{config}/metadata", list_config_metadata)
        .add(Method::POST, "/v2/storage/components/{component}/configs/{config}/metadata", create_config_metadata)
        .add(
            Method::DELETE,
            "/v2/storage/components/{component}/configs/{config}/metadata/{entry}",
            delete_config_metadata,
        )
}

const ROW_VERSIONS: &str = "/v2/storage/components/{component}/configs/{config}/rows/{row}/versions";

fn creator(token: &Option<TokenRef>) -> Value {
    match token {
        Some(token) => json!({ "id": token.id, "description": token.description }),
        None => Value::Null,
    }
}

fn row_view(row: &RowRecord) -> Value {
    json!({
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "configuration": row.configuration,
        "state": row.state,
        "isDisabled": row.is_disabled,
        "version": row.version,
        "created": format(row.created),
        "creatorToken": creator(&row.creator),
        "changeDescription": row.change_description,
    })
}

/// Which parts of a configuration to show.
#[derive(Clone, Copy)]
struct Parts {
    configuration: bool,
    rows: bool,
    state: bool,
}

const ALL_PARTS: Parts = Parts { configuration: true, rows: true, state: true };

fn config_summary(config: &ConfigRecord) -> Value {
    json!({
        "id": config.id,
        "name": config.name,
        "description": config.description,
        "created": format(config.created),
        "creatorToken": creator(&config.creator),
        "version": config.version,
        "changeDescription": config.change_description,
        "isDisabled": config.is_disabled,
        "isDeleted": config.is_deleted,
        "currentVersion": {
            "created": format(config.version_created),
            "creatorToken": creator(&config.version_creator),
            "changeDescription": config.change_description,
            "versionIdentifier": format!("{}-{}", config.id, config.version),
        },
    })
}

fn config_view(view: &ConfigView, parts: Parts) -> Value {
    let mut out = config_summary(&view.config);
    if parts.configuration {
        out["configuration"] = view.config.configuration.clone();
        out["rowsSortOrder"] = json!(view.config.rows_sort_order);
    }
    if parts.rows {
        out["rows"] = Value::Array(view.rows.iter().map(row_view).collect());
    }
    if parts.state {
        out["state"] = view.config.state.clone();
    }
    out
}

fn component_view(core: &Core, component: &ComponentDef, configurations: Option<Value>) -> Value {
    let mut out = json!({
        "id": component.id,
        "type": component.kind,
        "name": component.name,
        "description": "",
        "longDescription": "",
        "version": 1,
        "complexity": "",
        "categories": [],
        "hasUI": false,
        "hasRun": component.runnable,
        "ico32": "",
        "ico64": "",
        "ico128": "",
        "data": {},
        "flags": [],
        "configurationSchema": {},
        "configurationRowSchema": {},
        "emptyConfiguration": {},
        "emptyConfigurationRow": {},
        "uiOptions": {},
        "features": [],
        "documentationUrl": "",
        "uri": format!("{}/components/{}", core.storage_url(), component.id),
    });
    if let Some(configurations) = configurations {
        out["configurations"] = configurations;
    }
    out
}

fn listed(view: &ComponentView, parts: Parts) -> Vec<Value> {
    view.configurations.iter().map(|config| config_view(config, parts)).collect()
}

async fn list_components(State(state): State<AppState>, caller: Caller, Query(query): Query) -> ApiResult<Json<Value>> {
    let include = query.list("include")?.unwrap_or_default();
    let parts = Parts {
        configuration: include.iter().any(|i| i == "configuration"),
        rows: include.iter().any(|i| i == "rows"),
        state: include.iter().any(|i| i == "state"),
    };
    let kind = query.string("componentType")?.filter(|k| !k.is_empty());
    let deleted = query.bool("isDeleted")?.unwrap_or(false);
    let grant = caller.token.authorize(ListComponents)?;
    let list = query.page_of(components::list(&caller.ctx, &grant, kind, deleted).await?)?;
    Ok(Json(Value::Array(
        list.iter()
            .map(|view| component_view(&state.core, &view.component, Some(Value::Array(listed(view, parts)))))
            .collect(),
    )))
}

async fn get_component(
    State(state): State<AppState>,
    caller: Caller,
    Path(component): Path<String>,
) -> ApiResult<Json<Value>> {
    let grant = caller.token.authorize(ReadComponent(component.clone()))?;
    let configs = components::list_configs(&caller.ctx, &grant, false).await?;
    let def = components::component(&state.core, &component)?;
    let summaries =
        configs.iter().map(|c| config_view(c, Parts { configuration: false, rows: false, state: false })).collect();
    Ok(Json(component_view(&state.core, &def, Some(Value::Array(summaries)))))
}

async fn list_configs(caller: Caller, Path(component): Path<String>, Query(query): Query) -> ApiResult<Json<Value>> {
    let deleted = query.bool("isDeleted")?.unwrap_or(false);
    let grant = caller.token.authorize(ReadComponent(component))?;
    let configs = query.page_of(components::list_configs(&caller.ctx, &grant, deleted).await?)?;
    Ok(Json(Value::Array(configs.iter().map(|c| config_view(c, ALL_PARTS)).collect())))
}

/// Reads the fields of a configuration or row; `id_field` is `configurationId` or `rowId`.
fn changes(body: &Fields, id_field: &str) -> ApiResult<Changes> {
    let json_object = |name: &str| -> ApiResult<Option<Value>> {
        match body.raw(name) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Value::Object(map.clone()))),
            Some(Value::Array(items)) if items.is_empty() => Ok(Some(json!({}))),
            Some(_) => body.object(name).map_err(|_| {
                ApiError::new(Code::ConfigurationValidation, format!("Invalid data - {name}: must be a JSON object."))
            }),
        }
    };
    Ok(Changes {
        id: body.string(id_field)?.filter(|id| !id.is_empty()),
        name: body.string("name")?,
        description: body.string("description")?,
        configuration: json_object("configuration")?,
        state: json_object("state")?,
        change_description: body.string("changeDescription")?,
        is_disabled: body.bool("isDisabled")?,
        rows_sort_order: body.list("rowsSortOrder")?,
    })
}

async fn create_config(caller: Caller, Path(component): Path<String>, Body(body): Body) -> ApiResult<Response> {
    let changes = changes(&body, "configurationId")?;
    let grant = caller.token.authorize(WriteComponent(component))?;
    let view = components::create(&caller.ctx, &grant, changes).await?;
    Ok((StatusCode::CREATED, Json(config_view(&view, ALL_PARTS))).into_response())
}

async fn get_config(caller: Caller, Path((component, config)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    let grant = caller.token.authorize(ReadComponent(component))?;
    Ok(Json(config_view(&components::get(&caller.ctx, &grant, &config).await?, ALL_PARTS)))
}

async fn update_config(
    caller: Caller,
    Path((component, config)): Path<(String, String)>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let changes = changes(&body, "configurationId")?;
    let grant = caller.token.authorize(WriteComponent(component))?;
    Ok(Json(config_view(&components::update(&caller.ctx, &grant, &config, changes).await?, ALL_PARTS)))
}

async fn delete_config(caller: Caller, Path((component, config)): Path<(String, String)>) -> ApiResult<StatusCode> {
    let grant = caller.token.authorize(WriteComponent(component))?;
    components::delete(&caller.ctx, &grant, &config).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn restore_config(caller: Caller, Path((component, config)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    let grant = caller.token.authorize(WriteComponent(component))?;
    Ok(Json(config_view(&components::restore(&caller.ctx, &grant, &config).await?, ALL_PARTS)))
}

/// A version as the list shows it: who made it, when and why.
fn version_summary(config_id: &str, version: &ConfigVersionRecord) -> Value {
    json!({
        "version": version.version,
        "created": format(version.created),
        "creatorToken": creator(&version.creator),
        "changeDescription": version.change_description,
        "isDeleted": false,
        "name": version.name,
        "versionIdentifier": format!("{config_id}-{}", version.version),
    })
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
    Query(query): Query,
) -> ApiResult<Json<Value>> {
    let grant = caller.token.authorize(ReadComponent(component))?;
    let versions = query.page_of(components::versions(&caller.ctx, &grant, &config).await?)?;
    Ok(Json(Value::Array(versions.iter().map(|v| version_summary(&config, v)).collect())))
}

async fn get_version(
    caller: Caller,
    Path((component, config, version)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    let grant = caller.token.authorize(ReadComponent(component))?;
    let kept = components::version(&caller.ctx, &grant, &config, version_number(&version)?).await?;
    let mut out = version_summary(&config, &kept);
    for field in ["description", "configuration", "rowsSortOrder", "isDisabled", "rows"] {
        out[field] = kept.snapshot[field].clone();
    }
    Ok(Json(out))
}

async fn rollback_version(
    caller: Caller,
    Path((component, config, version)): Path<(String, String, String)>,
    Body(body): Body,
) -> ApiResult<Response> {
    let change = body.string("changeDescription")?.filter(|c| !c.is_empty());
    let grant = caller.token.authorize(WriteComponent(component))?;
    let view = components::rollback(&caller.ctx, &grant, &config, version_number(&version)?, change).await?;
    Ok((StatusCode::CREATED, Json(config_view(&view, ALL_PARTS))).into_response())
}

async fn copy_version(
    caller: Caller,
    Path((component, config, version)): Path<(String, String, String)>,
    Body(body): Body,
) -> ApiResult<Response> {
    let changes = changes(&body, "configurationId")?;
    let grant = caller.token.authorize(WriteComponent(component))?;
    let view = components::copy_version(&caller.ctx, &grant, &config, version_number(&version)?, changes).await?;
    Ok((StatusCode::CREATED, Json(config_view(&view, ALL_PARTS))).into_response())
}

fn state_of(body: &Fields) -> ApiResult<Value> {
    changes(body, "id")?
        .state
        .ok_or_else(|| ApiError::new(Code::ConfigurationValidation, "Invalid data - state: a JSON object is required."))
}

async fn set_config_state(
    caller: Caller,
    Path((component, config)): Path<(String, String)>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let state = state_of(&body)?;
    let grant = caller.token.authorize(WriteComponent(component))?;
    Ok(Json(config_view(&components::set_state(&caller.ctx, &grant, &config, state).await?, ALL_PARTS)))
}

async fn list_rows(
    caller: Caller,
    Path((component, config)): Path<(String, String)>,
    Query(query): Query,
) -> ApiResult<Json<Value>> {
    let grant = caller.token.authorize(ReadComponent(component))?;
    let rows = query.page_of(components::list_rows(&caller.ctx, &grant, &config).await?)?;
    Ok(Json(Value::Array(rows.iter().map(row_view).collect())))
}

async fn create_row(
    caller: Caller,
    Path((component, config)): Path<(String, String)>,
    Body(body): Body,
) -> ApiResult<Response> {
    let changes = changes(&body, "rowId")?;
    let grant = caller.token.authorize(WriteComponent(component))?;
    let row = components::create_row(&caller.ctx, &grant, &config, changes).await?;
    Ok((StatusCode::CREATED, Json(row_view(&row))).into_response())
}

/// A kept version of a row; its configuration only in the detail.
fn row_version_view(row_id: &str, kept: &components::RowVersion, detail: bool) -> Value {
    let mut out = json!({
        "version": kept.version,
        "created": format(kept.created),
        "creatorToken": creator(&kept.creator),
        "changeDescription": kept.change_description,
        "isDisabled": kept.is_disabled,
        "name": kept.name,
        "description": kept.description,
        "versionIdentifier": format!("{row_id}-{}", kept.version),
    });
    if detail {
        out["configuration"] = kept.configuration.clone();
    }
    out
}

async fn list_row_versions(
    caller: Caller,
    Path((component, config, row)): Path<(String, String, String)>,
    Query(query): Query,
) -> ApiResult<Json<Value>> {
    let grant = caller.token.authorize(ReadComponent(component))?;
    let versions = query.page_of(components::row_versions(&caller.ctx, &grant, &config, &row).await?)?;
    Ok(Json(Value::Array(versions.iter().map(|kept| row_version_view(&row, kept, false)).collect())))
}

async fn get_row_version(
    caller: Caller,
    Path((component, config, row, version)): Path<(String, String, String, String)>,
) -> ApiResult<Json<Value>> {
    let grant = caller.token.authorize(ReadComponent(component))?;
    let kept = components::row_version(&caller.ctx, &grant, &config, &row, version_number(&version)?).await?;
    Ok(Json(row_version_view(&row, &kept, true)))
}

async fn rollback_row_version(
    caller: Caller,
    Path((component, config, row, version)): Path<(String, String, String, String)>,
    Body(body): Body,
) -> ApiResult<Response> {
    let change = body.string("changeDescription")?.filter(|c| !c.is_empty());
    let grant = caller.token.authorize(WriteComponent(component))?;
    let version = version_number(&version)?;
    let restored = components::rollback_row(&caller.ctx, &grant, &config, &row, version, change).await?;
    Ok((StatusCode::CREATED, Json(row_view(&restored))).into_response())
}

async fn copy_row_version(
    caller: Caller,
    Path((component, config, row, version)): Path<(String, String, String, String)>,
    Body(body): Body,
) -> ApiResult<Response> {
    let target = body.string("targetConfigId")?;
    let change = body.string("changeDescription")?.filter(|c| !c.is_empty());
    let grant = caller.token.authorize(WriteComponent(component))?;
    let source = (config.as_str(), row.as_str(), version_number(&version)?);
    let copied = components::copy_row_version(&caller.ctx, &grant, source, target, change).await?;
    Ok((StatusCode::CREATED, Json(row_view(&copied))).into_response())
}

async fn get_row(
    caller: Caller,
    Path((component, config, row)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    let grant = caller.token.authorize(ReadComponent(component))?;
    Ok(Json(row_view(&components::get_row(&caller.ctx, &grant, &config, &row).await?)))
}

async fn update_row(
    caller: Caller,
    Path((component, config, row)): Path<(String, String, String)>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let changes = changes(&body, "rowId")?;
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
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let state = state_of(&body)?;
    let grant = caller.token.authorize(WriteComponent(component))?;
    Ok(Json(row_view(&components::set_row_state(&caller.ctx, &grant, &config, &row, state).await?)))
}

fn config_metadata_json(entries: &[stowage_core::records::MetadataEntry]) -> Value {
    Value::Array(entries.iter().map(views::branch_metadata_entry).collect())
}

async fn list_config_metadata(
    caller: Caller,
    Path((component, config)): Path<(String, String)>,
    Query(query): Query,
) -> ApiResult<Json<Value>> {
    let grant = caller.token.authorize(ReadComponent(component))?;
    Ok(Json(config_metadata_json(&query.page_of(components::metadata(&caller.ctx, &grant, &config).await?)?)))
}

async fn create_config_metadata(
    caller: Caller,
    Path((component, config)): Path<(String, String)>,
    Body(body): Body,
) -> ApiResult<Response> {
    let entries = crate::routes::metadata::entries(&body)?.ok_or_else(|| {
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
