//! A configuration's tables in the console: add, settings, enable and disable, reorder, delete, run.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use serde_json::Value;
use stowage_core::components::{self, Changes, ConfigView};
use stowage_core::records::RowRecord;
use stowage_core::{queue, tables, Ctx};
use stowage_types::auth::AnyToken;
use stowage_types::time;
use stowage_types::{Code, Error};

use super::{
    config_view, options, place, primary_key, str_at, writer_mode, Feedback, Kind, Place, CHANGED_IN_LAST, MODES,
};
use crate::error::ApiResult;
use crate::input::Fields;
use crate::routes::console::{column_list, problem, redirect, user_message, Signed, SignedForm};
use crate::routes::html::form_error;
use crate::AppState;
use stowage_core::engines::settings::{ExtractorTable, WriterTable};

pub(super) async fn add_row(
    State(state): State<AppState>,
    Path((_, component, config)): Path<(String, String, String)>,
    SignedForm { signed, body }: SignedForm,
) -> ApiResult<Response> {
    let place = or_answer!(place(signed, &component)?);
    let ctx = place.ctx.clone();
    let (name, configuration) = match place.kind {
        Kind::Writer => {
            let source = body.string("source")?.unwrap_or_default();
            let readable = tables::list(&ctx, &place.token.authorize(AnyToken)?).await?;
            if !readable.iter().any(|view| view.table.id == source) {
                let message = "Source table: pick one of this project's tables.".to_string();
                return config_view(&state, &place, &config, "", Feedback::NewTable(message)).await;
            }
            let configuration = WriterTable::new_row(&source);
            (source, configuration)
        }
        Kind::Extractor => {
            let table_name = body.string("tableName")?.unwrap_or_default().trim().to_string();
            if let Err(error) = tables::validate_table_name(&table_name) {
                let message = format!("Table name: {}", error.message);
                return config_view(&state, &place, &config, "", Feedback::NewTable(message)).await;
            }
            let configuration = ExtractorTable::new_row(&table_name);
            (table_name, configuration)
        }
    };
    let changes = Changes {
        name: Some(name.clone()),
        configuration: Some(configuration),
        change_description: Some(format!("Added table {name}")),
        ..Changes::default()
    };
    match async { components::create_row(&ctx, &place.write()?, &config, changes).await }.await {
        Ok(_) => Ok(redirect(&format!("{}#tables", place.config_url(&config)))),
        Err(error) => config_view(&state, &place, &config, "", Feedback::NewTable(user_message(error)?)).await,
    }
}

// ---------------------------------------------------------------------------------------------
// One table (a configuration row)

async fn load_row(ctx: &Ctx, place: &Place, config_id: &str, row_id: &str) -> Result<(ConfigView, RowRecord), Error> {
    let view = components::get(ctx, &place.read()?, config_id).await?;
    let row = view
        .rows
        .iter()
        .find(|row| row.id == row_id)
        .cloned()
        .ok_or_else(|| Error::new(Code::RowNotFound, format!("Row {row_id} not found")))?;
    Ok((view, row))
}

pub(super) async fn row_page(
    State(state): State<AppState>,
    signed: Signed,
    Path((_, component, config, row)): Path<(String, String, String, String)>,
) -> ApiResult<Response> {
    let place = or_answer!(place(signed, &component)?);
    row_view(&state, &place, &config, &row, "").await
}

async fn row_view(state: &AppState, place: &Place, config_id: &str, row_id: &str, error: &str) -> ApiResult<Response> {
    let ctx = place.ctx.clone();
    let (view, row) = match load_row(&ctx, place, config_id, row_id).await {
        Ok(found) => found,
        Err(error) => return problem(error),
    };
    let c = &row.configuration;
    let url = place.config_url(config_id);
    let body = html! {
        p { a href=(url) { (view.config.name) } }
        form method="post" action={ (url) "/rows/" (crate::routes::html::url(&row.id)) } {
            @match place.kind {
                Kind::Writer => {
                    h2 { "Source" }
                    p { "Table: " strong { (str_at(c, "/storage/input/tables/0/source")) } " (to write another table, add a new one)" }
                    label for="changedSince" { "Changed In Last" }
                    select #changedSince name="changedSince" {
                        (options(CHANGED_IN_LAST, str_at(c, "/storage/input/tables/0/changed_since")))
                    }
                    h2 { "Destination" }
                    label for="destination" { "Table Name" }
                    input #destination name="destination" value=(str_at(c, "/storage/input/tables/0/destination")) required;
                    label for="mode" { "Mode (the primary key comes from the source table)" }
                    select #mode name="mode" { (options(MODES, writer_mode(c))) }
                }
                Kind::Extractor => {
                    @let p = &c["parameters"];
                    @let changed = match &p["changedSince"] {
                        Value::Number(n) => n.to_string(),
                        other => other.as_str().unwrap_or("").to_string(),
                    };
                    h2 { "Source" }
                    label for="tableName" { "Table Name" }
                    input #tableName name="tableName" value=(p["tableName"].as_str().unwrap_or("")) required;
                    label for="changedSince" { "Changed In Last" }
                    select #changedSince name="changedSince" { (options(&CHANGED_IN_LAST[..CHANGED_IN_LAST.len() - 1], &changed)) }
                    h2 { "Save Settings" }
                    label { input type="checkbox" name="incremental" value="1" checked[p["incremental"].as_bool().unwrap_or(false)]; " Incremental" }
                    label for="primaryKey" { "Primary Key (columns, separated by commas)" }
                    input #primaryKey name="primaryKey" value=(primary_key(p).join(", "));
                }
            }
            @if place.write().is_ok() {
                (form_error(error))
                (place.csrf())
                button type="submit" { "Save" }
            }
        }
    };
    let status = if error.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    place.page(state, status, &row.name, body).await
}

/// The row's configuration with the form's settings applied; keys the form does not show stay.
fn edited_row(kind: Kind, row: &RowRecord, body: &Fields) -> ApiResult<Result<Value, String>> {
    let changed = body.string("changedSince")?.unwrap_or_default().trim().to_string();
    let adaptive = kind == Kind::Writer && changed == "adaptive";
    if !changed.is_empty() && !adaptive {
        if let Err(error) = tables::when::parse("changedSince", &changed, time::now()) {
            return Ok(Err(format!("Changed In Last: {}", error.message)));
        }
    }
    match kind {
        Kind::Writer => {
            let destination = body.string("destination")?.unwrap_or_default().trim().to_string();
            if let Err(error) = tables::validate_table_name(&destination) {
                return Ok(Err(format!("Table Name: {}", error.message)));
            }
            let mode = body.string("mode")?.unwrap_or_default();
            if !MODES.iter().any(|(value, _)| *value == mode) {
                return Ok(Err("Mode: pick replace, update or recreate.".into()));
            }
            Ok(Ok(WriterTable { destination, changed_since: changed, mode }.applied_to(&row.configuration)))
        }
        Kind::Extractor => {
            let table_name = body.string("tableName")?.unwrap_or_default().trim().to_string();
            if let Err(error) = tables::validate_table_name(&table_name) {
                return Ok(Err(format!("Table Name: {}", error.message)));
            }
            let table = ExtractorTable {
                table_name,
                changed_since: changed,
                incremental: body.bool("incremental")?.unwrap_or(false),
                primary_key: column_list(&body.string("primaryKey")?.unwrap_or_default()),
            };
            Ok(Ok(table.applied_to(&row.configuration)))
        }
    }
}

pub(super) async fn save_row(
    State(state): State<AppState>,
    Path((_, component, config, row_id)): Path<(String, String, String, String)>,
    SignedForm { signed, body }: SignedForm,
) -> ApiResult<Response> {
    let place = or_answer!(place(signed, &component)?);
    let ctx = place.ctx.clone();
    let (_, row) = match load_row(&ctx, &place, &config, &row_id).await {
        Ok(found) => found,
        Err(error) => return problem(error),
    };
    let configuration = match edited_row(place.kind, &row, &body)? {
        Ok(configuration) => configuration,
        Err(message) => return row_view(&state, &place, &config, &row_id, &message).await,
    };
    let changes = Changes {
        configuration: Some(configuration),
        change_description: Some(format!("Changed settings of table {}", row.name)),
        ..Changes::default()
    };
    match async { components::update_row(&ctx, &place.write()?, &config, &row_id, changes).await }.await {
        Ok(_) => Ok(redirect(&format!("{}#tables", place.config_url(&config)))),
        Err(error) => row_view(&state, &place, &config, &row_id, &user_message(error)?).await,
    }
}

/// The configuration page after a change to its table list: back to the list, or the list with
/// the error next to it.
async fn after_table_change(
    state: &AppState,
    place: &Place,
    config_id: &str,
    result: Result<(), Error>,
) -> ApiResult<Response> {
    match result {
        Ok(()) => Ok(redirect(&format!("{}#tables", place.config_url(config_id)))),
        Err(error) if error.code == Code::ConfigurationNotFound => problem(error),
        Err(error) => config_view(state, place, config_id, "", Feedback::Tables(user_message(error)?)).await,
    }
}

pub(super) async fn set_enabled(
    State(state): State<AppState>,
    Path((_, component, config, row_id)): Path<(String, String, String, String)>,
    SignedForm { signed, body }: SignedForm,
) -> ApiResult<Response> {
    let place = or_answer!(place(signed, &component)?);
    let ctx = place.ctx.clone();
    let enabled = body.bool("enabled")?.unwrap_or(false);
    let changes = Changes {
        is_disabled: Some(!enabled),
        change_description: Some(if enabled { "Enabled a table" } else { "Disabled a table" }.into()),
        ..Changes::default()
    };
    let result = async { components::update_row(&ctx, &place.write()?, &config, &row_id, changes).await.map(drop) };
    after_table_change(&state, &place, &config, result.await).await
}

pub(super) async fn move_row(
    State(state): State<AppState>,
    Path((_, component, config, row_id)): Path<(String, String, String, String)>,
    SignedForm { signed, body }: SignedForm,
) -> ApiResult<Response> {
    let place = or_answer!(place(signed, &component)?);
    let ctx = place.ctx.clone();
    let direction = body.string("direction")?.unwrap_or_default();
    let result = async {
        let (view, _) = load_row(&ctx, &place, &config, &row_id).await?;
        let mut order: Vec<String> = view.rows.iter().map(|row| row.id.clone()).collect();
        let at = order.iter().position(|id| *id == row_id).expect("load_row found the row");
        let to = match direction.as_str() {
            "up" => at.saturating_sub(1),
            "down" => (at + 1).min(order.len() - 1),
            _ => return Err(Error::validation("Move: the direction is \"up\" or \"down\".")),
        };
        if to != at {
            order.swap(at, to);
            let changes = Changes {
                rows_sort_order: Some(order),
                change_description: Some("Changed the order of the tables".into()),
                ..Changes::default()
            };
            components::update(&ctx, &place.write()?, &config, changes).await?;
        }
        Ok(())
    };
    after_table_change(&state, &place, &config, result.await).await
}

pub(super) async fn delete_row(
    State(state): State<AppState>,
    Path((_, component, config, row_id)): Path<(String, String, String, String)>,
    SignedForm { signed, .. }: SignedForm,
) -> ApiResult<Response> {
    let place = or_answer!(place(signed, &component)?);
    let ctx = place.ctx.clone();
    let result = async { components::delete_row(&ctx, &place.write()?, &config, &row_id).await };
    after_table_change(&state, &place, &config, result.await).await
}

pub(super) async fn run_row(
    State(state): State<AppState>,
    Path((_, component, config, row_id)): Path<(String, String, String, String)>,
    SignedForm { signed, .. }: SignedForm,
) -> ApiResult<Response> {
    let place = or_answer!(place(signed, &component)?);
    start_job(&state, &place, &config, vec![row_id]).await
}

pub(super) async fn run_config(
    State(state): State<AppState>,
    Path((_, component, config)): Path<(String, String, String)>,
    SignedForm { signed, .. }: SignedForm,
) -> ApiResult<Response> {
    let place = or_answer!(place(signed, &component)?);
    start_job(&state, &place, &config, Vec::new()).await
}

/// Starts a job and opens its page.
async fn start_job(state: &AppState, place: &Place, config_id: &str, rows: Vec<String>) -> ApiResult<Response> {
    let ctx = place.ctx.clone();
    match async { queue::run(&ctx, &place.write()?, config_id, rows).await }.await {
        Ok(job) => Ok(redirect(&format!("/console/projects/{}/jobs/{}", place.project_id, job.id))),
        Err(error) => after_table_change(state, place, config_id, Err(error)).await,
    }
}
