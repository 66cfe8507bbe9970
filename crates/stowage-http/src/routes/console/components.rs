//! The Storage Writer and Storage Extractor in the console: a component's configurations, one
//! configuration's page (the other project and its token, the tables with search, enable and
//! disable, reorder, run one or all, delete, and the job history), a table's settings, and a
//! job's status and log.
//!
//! The pages change configurations through the same core functions as the components API, so the
//! pasted token is sealed like any `#` value and never shown again; the project and bucket it
//! reaches come from the component's own sync action (`info`, `sourceInfo`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use serde_json::{json, Map, Value};

use stowage_core::components::{self, Changes, ConfigView};
use stowage_core::console::Session;
use stowage_core::records::RowRecord;
use stowage_core::{queue, schedules, tables, tokens, triggers, Ctx};
use stowage_types::auth::{AnyToken, Granted, ReadComponent, Token, WriteComponent};
use stowage_types::time::{self, format};
use stowage_types::{Code, Error, Paging};

use super::{acting, acting_form, column_list, error_line, nav, problem, redirect};
use crate::error::ApiResult;
use crate::input::{Body, Fields, Query};
use crate::routes::html::{ago, badge, duration, escape, Section};
use crate::routes::numeric_id;
use crate::{AppState, Table};
use maud::PreEscaped;

pub(super) fn register(t: Table) -> Table {
    const BASE: &str = "/console/projects/{id}/components/{component}";
    let path = |rest: &str| format!("{BASE}{rest}");
    t.add(Method::GET, &path(""), configs_page)
        .add(Method::POST, &path(""), create_config)
        .add(Method::GET, &path("/{config}"), config_page)
        .add(Method::POST, &path("/{config}/target"), save_target)
        .add(Method::POST, &path("/{config}/rows"), add_row)
        .add(Method::GET, &path("/{config}/rows/{row}"), row_page)
        .add(Method::POST, &path("/{config}/rows/{row}"), save_row)
        .add(Method::POST, &path("/{config}/rows/{row}/enabled"), set_enabled)
        .add(Method::POST, &path("/{config}/rows/{row}/move"), move_row)
        .add(Method::POST, &path("/{config}/rows/{row}/delete"), delete_row)
        .add(Method::POST, &path("/{config}/rows/{row}/run"), run_row)
        .add(Method::POST, &path("/{config}/run"), run_config)
        .add(Method::POST, &path("/{config}/delete"), delete_config)
        .add(Method::POST, &path("/{config}/triggers"), add_trigger)
        .add(Method::POST, &path("/{config}/triggers/{trigger}/delete"), delete_trigger)
        .add(Method::POST, &path("/{config}/schedules"), add_schedule)
        .add(Method::POST, &path("/{config}/schedules/{schedule}/delete"), delete_schedule)
        .add(Method::GET, "/console/projects/{id}/jobs/{job}", job_page)
        .add(Method::POST, "/console/projects/{id}/jobs/{job}/terminate", terminate_job)
}

/// How long the page waits for the other stack to answer the `info` sync action.
const INFO_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an answer of the sync action is reused, as Keboola's UI caches it.
const INFO_REUSE: Duration = Duration::from_secs(60);
/// Answers kept at most.
const INFO_KEPT: usize = 1000;

/// Successful `info`/`sourceInfo` answers by project, component, URL and sealed token, so that
/// the configuration page does not ask the other stack again after every click. A new URL or
/// token is a new key; failures are never kept.
#[derive(Clone, Default)]
pub(crate) struct ReachCache(Arc<Mutex<HashMap<String, (Instant, Value)>>>);

impl ReachCache {
    fn get(&self, key: &str) -> Option<Value> {
        let map = self.0.lock().expect("reach cache lock");
        map.get(key).filter(|(at, _)| at.elapsed() < INFO_REUSE).map(|(_, answer)| answer.clone())
    }

    fn put(&self, key: String, answer: Value) {
        let mut map = self.0.lock().expect("reach cache lock");
        if map.len() >= INFO_KEPT {
            map.retain(|_, (at, _)| at.elapsed() < INFO_REUSE);
        }
        if map.len() < INFO_KEPT {
            map.insert(key, (Instant::now(), answer));
        }
    }
}

/// The choices of "Changed In Last": (value, label).
const CHANGED_IN_LAST: &[(&str, &str)] = &[
    ("", "Any time (all rows)"),
    ("-10 minutes", "10 minutes"),
    ("-30 minutes", "30 minutes"),
    ("-1 hours", "1 hour"),
    ("-2 hours", "2 hours"),
    ("-6 hours", "6 hours"),
    ("-12 hours", "12 hours"),
    ("-1 days", "1 day"),
    ("-2 days", "2 days"),
    ("-7 days", "7 days"),
    ("-14 days", "14 days"),
    ("-30 days", "30 days"),
    ("adaptive", "Adaptive (rows changed since the last run)"),
];

/// The writer's modes: (value, label).
const MODES: &[(&str, &str)] = &[
    ("replace", "Replace: the target table gets exactly these rows"),
    ("update", "Incremental: rows are added, or updated by primary key"),
    ("recreate", "Recreate: drop and create the target table (it briefly does not exist)"),
];

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Writer,
    Extractor,
}

impl Kind {
    fn of(component: &str) -> Option<Kind> {
        match component {
            "keboola.wr-storage" => Some(Kind::Writer),
            "keboola.ex-storage" => Some(Kind::Extractor),
            _ => None,
        }
    }

    fn id(self) -> &'static str {
        match self {
            Kind::Writer => "keboola.wr-storage",
            Kind::Extractor => "keboola.ex-storage",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Writer => "Storage Writer",
            Kind::Extractor => "Storage Extractor",
        }
    }

    /// The project at the other end, as the page names it.
    fn other(self) -> &'static str {
        match self {
            Kind::Writer => "target project",
            Kind::Extractor => "source project",
        }
    }

    /// What the pasted token must allow.
    fn access(self) -> &'static str {
        match self {
            Kind::Writer => "write access to a single bucket",
            Kind::Extractor => "read access to a single bucket",
        }
    }

    fn info_action(self) -> &'static str {
        match self {
            Kind::Writer => "info",
            Kind::Extractor => "sourceInfo",
        }
    }
}

/// Who is acting, in which project, on which component.
struct Place {
    session: Session,
    token: Arc<Token>,
    project_id: i64,
    kind: Kind,
}

impl Place {
    fn configs_url(&self) -> String {
        format!("/console/projects/{}/components/{}", self.project_id, self.kind.id())
    }

    fn config_url(&self, config_id: &str) -> String {
        format!("{}/{}", self.configs_url(), escape(config_id))
    }

    fn read(&self) -> Result<Granted<ReadComponent>, Error> {
        self.token.authorize(ReadComponent(self.kind.id().into()))
    }

    fn write(&self) -> Result<Granted<WriteComponent>, Error> {
        self.token.authorize(WriteComponent(self.kind.id().into()))
    }

    /// A page in this component's section; `body` is HTML.
    async fn page(&self, state: &AppState, status: StatusCode, title: &str, body: &str) -> ApiResult<Response> {
        let section = match self.kind {
            Kind::Writer => Section::Writer,
            Kind::Extractor => Section::Extractor,
        };
        Ok(nav(state, &self.session, Some((self.project_id, section))).await?.page(status, title, body))
    }

    /// The hidden CSRF field of every form.
    fn csrf(&self) -> String {
        format!("<input type=\"hidden\" name=\"csrf\" value=\"{}\">", escape(&self.session.csrf))
    }
}

/// The [`Place`] of a request, or the page to answer instead (sign-in, refusal, unknown component,
/// expired form).
async fn place(
    state: &AppState,
    headers: &HeaderMap,
    project: &str,
    component: &str,
    form: Option<&Fields>,
) -> ApiResult<Result<Place, Response>> {
    let acting = match form {
        Some(body) => acting_form(state, headers, project, body).await?,
        None => acting(state, headers, project).await?,
    };
    let (session, token, project_id) = match acting {
        Ok(acting) => acting,
        Err(response) => return Ok(Err(response)),
    };
    match Kind::of(component) {
        Some(kind) => Ok(Ok(Place { session, token, project_id, kind })),
        None => problem(Error::new(
            Code::ComponentNotFound,
            format!("The console configures the Storage Writer and the Storage Extractor; \"{component}\" is neither."),
        ))
        .map(Err),
    }
}

/// A 4xx from core as a message for the page, a 5xx as an error for the log.
fn user_message(error: Error) -> ApiResult<String> {
    if error.code.status() < 500 {
        Ok(error.message)
    } else {
        Err(error.into())
    }
}

fn options(choices: &[(&str, &str)], current: &str) -> String {
    let mut out: String = choices
        .iter()
        .map(|(value, label)| {
            let selected = if *value == current { " selected" } else { "" };
            format!("<option value=\"{}\"{selected}>{}</option>", escape(value), escape(label))
        })
        .collect();
    if !choices.iter().any(|(value, _)| *value == current) {
        // A value set through the API stays as it is until someone picks another.
        out.push_str(&format!("<option value=\"{0}\" selected>{0}</option>", escape(current)));
    }
    out
}

/// The writer row's mode; the legacy `incremental` wins when present, as in the writer.
fn writer_mode(configuration: &Value) -> &str {
    match configuration.pointer("/parameters/incremental").and_then(Value::as_bool) {
        Some(true) => "update",
        Some(false) => "replace",
        None => configuration.pointer("/parameters/mode").and_then(Value::as_str).unwrap_or("replace"),
    }
}

/// The extractor row's primary key columns.
fn primary_key(parameters: &Value) -> Vec<&str> {
    parameters["primaryKey"].as_array().into_iter().flatten().filter_map(Value::as_str).collect()
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

// ---------------------------------------------------------------------------------------------
// A component's configurations

async fn configs_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, component)): Path<(String, String)>,
) -> ApiResult<Response> {
    let place = or_answer!(place(&state, &headers, &id, &component, None).await?);
    configs_list(&state, &place, "").await
}

async fn configs_list(state: &AppState, place: &Place, error: &str) -> ApiResult<Response> {
    let ctx = Ctx::internal(&state.core);
    let read = match place.read() {
        Ok(read) => read,
        Err(error) => return problem(error),
    };
    let list = components::list_configs(&ctx, &read, false).await?;
    let rows: String = list
        .iter()
        .map(|view| {
            let c = &view.config;
            let enabled = view.rows.iter().filter(|row| !row.is_disabled).count();
            format!(
                "<tr><td><a href=\"{url}\">{name}</a></td><td data-label=\"Description\">{description}</td>\
                 <td data-label=\"Tables\">{enabled} of {total} enabled</td><td data-label=\"Changed\">{changed}</td></tr>",
                url = place.config_url(&c.id),
                name = escape(&c.name),
                description = escape(&c.description),
                total = view.rows.len(),
                changed = format(c.version_created),
            )
        })
        .collect();
    let list = if rows.is_empty() {
        "<p>No configurations yet.</p>".to_string()
    } else {
        format!(
            "<table class=\"cards\"><thead><tr><th>Configuration</th><th>Description</th><th>Tables</th><th>Changed</th></tr></thead>\
             <tbody>{rows}</tbody></table>"
        )
    };
    let create = if place.write().is_ok() {
        format!(
            "<h2>New configuration</h2><form method=\"post\" action=\"{}\">\
             <label for=\"name\">Name</label><input id=\"name\" name=\"name\" required>\
             <label for=\"description\">Description</label><input id=\"description\" name=\"description\">\
             {}{}<button type=\"submit\">Create configuration</button></form>",
            place.configs_url(),
            error_line(error),
            place.csrf()
        )
    } else {
        String::new()
    };
    let body = format!("<p><a href=\"/console/projects/{}\">Project</a></p>{list}{create}", place.project_id);
    let status = if error.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    place.page(state, status, place.kind.name(), &body).await
}

async fn create_config(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, component)): Path<(String, String)>,
    Body(body): Body,
) -> ApiResult<Response> {
    let place = or_answer!(place(&state, &headers, &id, &component, Some(&body)).await?);
    let name = body.string("name")?.unwrap_or_default().trim().to_string();
    if name.is_empty() {
        return configs_list(&state, &place, "Name: give the configuration a name.").await;
    }
    let changes = Changes {
        name: Some(name),
        description: body.string("description")?,
        configuration: Some(json!({ "parameters": {} })),
        ..Changes::default()
    };
    let ctx = Ctx::internal(&state.core);
    let created = async { components::create(&ctx, &place.write()?, changes).await }.await;
    match created {
        Ok(view) => Ok(redirect(&place.config_url(&view.config.id))),
        Err(error) => configs_list(&state, &place, &user_message(error)?).await,
    }
}

// ---------------------------------------------------------------------------------------------
// One configuration

/// What the last form on a configuration's page did wrong, shown next to that form.
enum Feedback {
    Nothing,
    Target(String),
    NewTable(String),
    Tables(String),
    Triggers(String),
    Schedules(String),
}

async fn config_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, component, config)): Path<(String, String, String)>,
    Query(query): Query,
) -> ApiResult<Response> {
    let place = or_answer!(place(&state, &headers, &id, &component, None).await?);
    let search = query.string("q")?.unwrap_or_default();
    config_view(&state, &place, &config, &search, Feedback::Nothing).await
}

/// What the saved token reaches, from the component's sync action: a line for the page and, for
/// the extractor, the names of the tables in the source bucket.
async fn reach(state: &AppState, ctx: &Ctx, place: &Place, view: &ConfigView) -> ApiResult<(String, Vec<String>)> {
    let parameters = &view.config.configuration["parameters"];
    let url = parameters["url"].as_str().unwrap_or("");
    let has_token = parameters["#token"].as_str().is_some_and(|token| !token.is_empty());
    if url.is_empty() || !has_token {
        let line = format!(
            "<p id=\"reach\" class=\"muted\">Not set up yet: pick the region of the {} and paste its token.</p>",
            place.kind.other()
        );
        return Ok((line, Vec::new()));
    }
    let Ok(write) = place.write() else { return Ok((String::new(), Vec::new())) };
    let key = format!("{}\n{}\n{url}\n{}", place.project_id, place.kind.id(), parameters["#token"]);
    let asked = async {
        if let Some(info) = state.reach.get(&key) {
            return Ok(info);
        }
        let info = queue::action(ctx, &write, place.kind.info_action(), view.config.configuration.clone()).await?;
        state.reach.put(key.clone(), info.clone());
        Ok::<_, Error>(info)
    };
    let info = match tokio::time::timeout(INFO_TIMEOUT, asked).await {
        Ok(Ok(info)) => info,
        Ok(Err(error)) => {
            let line = format!("<p id=\"reach\" class=\"error\" role=\"alert\">{}</p>", escape(&user_message(error)?));
            return Ok((line, Vec::new()));
        }
        Err(_) => {
            let line = format!(
                "<p id=\"reach\" class=\"error\" role=\"alert\">The stack at {} did not answer within {} seconds.</p>",
                escape(url),
                INFO_TIMEOUT.as_secs()
            );
            return Ok((line, Vec::new()));
        }
    };
    let project = if place.kind == Kind::Writer { &info } else { &info["project"] };
    let tables: Vec<String> = info["tables"]
        .as_array()
        .map(|tables| tables.iter().filter_map(|t| t["name"].as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let verb = if place.kind == Kind::Writer { "Writes to" } else { "Reads from" };
    let line = format!(
        "<p id=\"reach\" role=\"status\">{verb} project <strong>{}</strong> (id {}) at {}, bucket <strong>{}</strong>.</p>",
        escape(project["projectName"].as_str().unwrap_or("")),
        project["projectId"],
        escape(url),
        escape(project["bucket"].as_str().unwrap_or("")),
    );
    Ok((line, tables))
}

/// The words a table row is found by and its settings in short.
fn row_summary(kind: Kind, row: &RowRecord) -> String {
    let c = &row.configuration;
    match kind {
        Kind::Writer => {
            let changed = str_at(c, "/storage/input/tables/0/changed_since");
            let mode = writer_mode(c);
            format!(
                "{} → {}; {mode}{}",
                str_at(c, "/storage/input/tables/0/source"),
                str_at(c, "/storage/input/tables/0/destination"),
                if changed.is_empty() { String::new() } else { format!("; changed in last {changed}") }
            )
        }
        Kind::Extractor => {
            let p = &c["parameters"];
            let changed = p["changedSince"].as_str().unwrap_or("");
            let key = primary_key(p);
            format!(
                "{}; {}{}{}",
                p["tableName"].as_str().unwrap_or(""),
                if p["incremental"].as_bool().unwrap_or(false) { "incremental" } else { "full load" },
                if key.is_empty() { String::new() } else { format!("; primary key {}", key.join(", ")) },
                if changed.is_empty() { String::new() } else { format!("; changed in last {changed}") }
            )
        }
    }
}

async fn config_view(
    state: &AppState,
    place: &Place,
    config_id: &str,
    search: &str,
    feedback: Feedback,
) -> ApiResult<Response> {
    let ctx = Ctx::internal(&state.core);
    let view = match async { components::get(&ctx, &place.read()?, config_id).await }.await {
        Ok(view) => view,
        Err(error) => return problem(error),
    };
    let (mut target_error, mut new_table_error, mut tables_error) = ("", "", "");
    let (mut triggers_error, mut schedules_error) = ("", "");
    match &feedback {
        Feedback::Nothing => {}
        Feedback::Target(text) => target_error = text,
        Feedback::NewTable(text) => new_table_error = text,
        Feedback::Tables(text) => tables_error = text,
        Feedback::Triggers(text) => triggers_error = text,
        Feedback::Schedules(text) => schedules_error = text,
    }
    let can_write = place.write().is_ok();
    let url = place.config_url(config_id);
    let csrf = place.csrf();
    let (reach, source_tables) = reach(state, &ctx, place, &view).await?;

    let target = if can_write { target_form(state, place, &view, &url, target_error) } else { String::new() };

    let needle = search.to_lowercase();
    let rows: String = view
        .rows
        .iter()
        .map(|row| (row, row_summary(place.kind, row)))
        .filter(|(row, summary)| {
            needle.is_empty() || format!("{} {summary}", row.name).to_lowercase().contains(&needle)
        })
        .map(|(row, summary)| {
            let row_url = format!("{url}/rows/{}", escape(&row.id));
            let form = |action: &str, fields: &str, label: &str, extra: &str| {
                format!(
                    "<form class=\"inline\" method=\"post\" action=\"{row_url}{action}\"{extra}>{fields}{csrf}\
                     <button type=\"submit\">{label}</button></form>"
                )
            };
            let actions = if can_write {
                let toggle = if row.is_disabled {
                    form("/enabled", "<input type=\"hidden\" name=\"enabled\" value=\"1\">", "Enable", "")
                } else {
                    form("/enabled", "<input type=\"hidden\" name=\"enabled\" value=\"0\">", "Disable", "")
                };
                [
                    form("/run", "", "Run", ""),
                    toggle,
                    form("/move", "<input type=\"hidden\" name=\"direction\" value=\"up\">", "Up", ""),
                    form("/move", "<input type=\"hidden\" name=\"direction\" value=\"down\">", "Down", ""),
                    form("/delete", "", "Delete", " data-confirm=\"Delete this table from the configuration?\""),
                ]
                .concat()
            } else {
                String::new()
            };
            format!(
                "<tr data-row=\"{id}\" data-search=\"{search}\"><td><a href=\"{row_url}\">{name}</a></td>\
                 <td data-label=\"Settings\">{settings}</td><td data-label=\"Status\" class=\"nowrap\">{status}</td><td>{actions}</td></tr>",
                id = escape(&row.id),
                search = escape(&format!("{} {summary}", row.name).to_lowercase()),
                name = escape(&row.name),
                settings = escape(&summary),
                status = if row.is_disabled { "Disabled" } else { "Enabled" },
            )
        })
        .collect();
    let list = if view.rows.is_empty() {
        "<p>No tables yet.</p>".to_string()
    } else {
        format!(
            "<form method=\"get\" action=\"{url}\" role=\"search\"><label for=\"search\">Search tables</label>\
             <input id=\"search\" name=\"q\" type=\"search\" value=\"{}\" \
             data-filter=\"#tables tbody tr\"></form>\
             <table class=\"cards\" id=\"tables\"><thead><tr><th>Table</th><th>Settings</th><th>Status</th><th></th></tr></thead>\
             <tbody>{rows}</tbody></table>",
            escape(search)
        )
    };
    let new_table = if can_write {
        new_table_form(&ctx, place, &url, &source_tables, new_table_error).await?
    } else {
        String::new()
    };
    let run_all = if can_write && !view.rows.is_empty() {
        format!(
            "<form method=\"post\" action=\"{url}/run\">{csrf}<button type=\"submit\" id=\"run-all\">Run all enabled tables</button></form>"
        )
    } else {
        String::new()
    };
    let jobs = job_history(&ctx, place, &view).await?;
    let triggers = triggers_section(&ctx, place, &view, triggers_error).await?;
    let schedules = schedules_section(&ctx, place, &view, schedules_error).await?;
    let delete = if can_write {
        format!(
            "<h2>Delete</h2><form method=\"post\" action=\"{url}/delete\" data-confirm=\"Move this configuration to the trash?\">\
             {csrf}<button type=\"submit\">Move configuration to trash</button></form>"
        )
    } else {
        String::new()
    };
    let description = if view.config.description.is_empty() {
        String::new()
    } else {
        format!("<p>{}</p>", escape(&view.config.description))
    };
    let body = format!(
        "<p><a href=\"/console/projects/{project}\">Project</a> · <a href=\"{configs}\">{component}</a></p>{description}\
         <h2>{other}</h2>{reach}{target}<h2>Tables</h2>{}{list}{run_all}{new_table}{schedules}{triggers}<h2>Jobs</h2>{jobs}{delete}",
        error_line(tables_error),
        project = place.project_id,
        configs = place.configs_url(),
        component = place.kind.name(),
        other = capitalized(place.kind.other()),
    );
    let status = if matches!(feedback, Feedback::Nothing) { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    place.page(state, status, &view.config.name, &body).await
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// The region, custom URL and token of the other project.
fn target_form(state: &AppState, place: &Place, view: &ConfigView, url: &str, error: &str) -> String {
    let parameters = &view.config.configuration["parameters"];
    let current = parameters["url"].as_str().unwrap_or("");
    let has_token = parameters["#token"].as_str().is_some_and(|token| !token.is_empty());
    let regions = &state.core.stack.regions;
    let known = regions.iter().any(|region| region.url == current);
    let mut choices: String = regions
        .iter()
        .map(|region| {
            format!(
                "<option value=\"{url}\"{selected}>{name} ({url})</option>",
                url = escape(&region.url),
                name = escape(&region.name),
                selected = if region.url == current { " selected" } else { "" }
            )
        })
        .collect();
    choices.push_str(&format!(
        "<option value=\"custom\"{}>Custom URL</option>",
        if known || (current.is_empty() && !regions.is_empty()) { "" } else { " selected" }
    ));
    let token_hint = if has_token {
        "A token is saved. Paste another one to replace it, or leave this empty to keep it."
    } else {
        "Create it in the other project and paste it here; it is stored encrypted and not shown again."
    };
    format!(
        "<form method=\"post\" action=\"{url}/target\"><label for=\"region\">Region</label><select id=\"region\" name=\"region\">{choices}</select>\
         <label for=\"customUrl\">Custom URL (when \"Custom URL\" is picked)</label>\
         <input id=\"customUrl\" name=\"customUrl\" type=\"url\" placeholder=\"https://stowage.example.com\" value=\"{custom}\">\
         <label for=\"token\">API token with {access}</label>\
         <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"off\" aria-describedby=\"token-hint\">\
         <p id=\"token-hint\" class=\"muted\">{token_hint}</p>{}{}<button type=\"submit\">Save</button></form>",
        error_line(error),
        place.csrf(),
        custom = if known { String::new() } else { escape(current) },
        access = place.kind.access(),
    )
}

/// "New Table": the writer picks one of this project's tables, the extractor names a table of the
/// source bucket (offering the ones the token reaches).
async fn new_table_form(
    ctx: &Ctx,
    place: &Place,
    url: &str,
    source_tables: &[String],
    error: &str,
) -> ApiResult<String> {
    let field = match place.kind {
        Kind::Writer => {
            let tables = tables::list(ctx, &place.token.authorize(AnyToken)?).await?;
            if tables.is_empty() {
                return Ok("<p>This project has no tables to write yet.</p>".into());
            }
            let choices: String = tables
                .iter()
                .map(|view| format!("<option value=\"{0}\">{0}</option>", escape(&view.table.id)))
                .collect();
            format!(
                "<label for=\"source\">Source table</label><select id=\"source\" name=\"source\">{choices}</select>"
            )
        }
        Kind::Extractor => {
            let choices: String =
                source_tables.iter().map(|name| format!("<option value=\"{}\">", escape(name))).collect();
            format!(
                "<label for=\"tableName\">Table name in the source bucket</label>\
                 <input id=\"tableName\" name=\"tableName\" list=\"source-tables\" required><datalist id=\"source-tables\">{choices}</datalist>"
            )
        }
    };
    Ok(format!(
        "<h3>New Table</h3><form method=\"post\" action=\"{url}/rows\">{field}{}{}<button type=\"submit\" id=\"new-table\">New Table</button></form>",
        error_line(error),
        place.csrf()
    ))
}

/// The configuration's last jobs, newest first.
async fn job_history(ctx: &Ctx, place: &Place, view: &ConfigView) -> ApiResult<String> {
    let config_id = Some(view.config.id.clone());
    let jobs = queue::list(ctx, &place.token, Some(place.kind.id().into()), config_id, Paging::first(20)).await?;
    if jobs.is_empty() {
        return Ok("<p>Not run yet.</p>".into());
    }
    let rows: String = jobs
        .iter()
        .map(|job| {
            format!(
                "<tr><td><a href=\"/console/projects/{project}/jobs/{id}\">Job {id}</a></td><td data-label=\"Status\" class=\"job-status\">{status}</td>\
                 <td data-label=\"Created\">{created}</td><td data-label=\"Duration\">{duration}</td><td data-label=\"Tables\">{tables}</td></tr>",
                project = place.project_id,
                id = job.id,
                status = badge(&job.status).into_string(),
                created = ago(job.created).into_string(),
                duration = duration(job.start, job.end),
                tables = job_tables(&job.row_ids, &view.rows),
            )
        })
        .collect();
    Ok(format!(
        "<table class=\"cards\" id=\"jobs\"><thead><tr><th>Job</th><th>Status</th><th>Created</th><th>Duration</th><th>Tables</th></tr></thead>\
         <tbody>{rows}</tbody></table>"
    ))
}

/// The tables a job ran, by their names where the configuration still has them.
fn job_tables(row_ids: &[String], rows: &[RowRecord]) -> String {
    if row_ids.is_empty() {
        return "all enabled".into();
    }
    let name = |id: &String| rows.iter().find(|row| &row.id == id).map_or(id.clone(), |row| row.name.clone());
    escape(&row_ids.iter().map(name).collect::<Vec<_>>().join(", "))
}

async fn save_target(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, component, config)): Path<(String, String, String)>,
    Body(body): Body,
) -> ApiResult<Response> {
    let place = or_answer!(place(&state, &headers, &id, &component, Some(&body)).await?);
    let ctx = Ctx::internal(&state.core);
    let view = match async { components::get(&ctx, &place.read()?, &config).await }.await {
        Ok(view) => view,
        Err(error) => return problem(error),
    };
    let region = body.string("region")?.unwrap_or_default();
    let url = if region == "custom" || region.is_empty() {
        body.string("customUrl")?.unwrap_or_default().trim().trim_end_matches('/').to_string()
    } else if state.core.stack.regions.iter().any(|known| known.url == region) {
        region
    } else {
        let message = "Region: pick one of the listed regions, or \"Custom URL\".".to_string();
        return config_view(&state, &place, &config, "", Feedback::Target(message)).await;
    };
    let looks_like_url = (url.starts_with("https://") || url.starts_with("http://"))
        && url.split("://").nth(1).is_some_and(|rest| !rest.is_empty())
        && !url.chars().any(char::is_whitespace);
    if !looks_like_url {
        let message = "Custom URL: give the address of the other stack, such as https://stowage.example.com.";
        return config_view(&state, &place, &config, "", Feedback::Target(message.into())).await;
    }
    let token = body.string("token")?.unwrap_or_default().trim().to_string();
    let mut configuration = view.config.configuration.clone();
    let parameters = object_at(&mut configuration, "parameters");
    let saved = parameters.get("#token").and_then(Value::as_str).is_some_and(|t| !t.is_empty());
    if token.is_empty() && !saved {
        let message = format!("Token: paste an API token of the {} with {}.", place.kind.other(), place.kind.access());
        return config_view(&state, &place, &config, "", Feedback::Target(message)).await;
    }
    parameters.insert("url".into(), Value::String(url));
    if !token.is_empty() {
        parameters.insert("#token".into(), Value::String(token));
    }
    let changes = Changes {
        configuration: Some(configuration),
        change_description: Some(format!("Set the {}", place.kind.other())),
        ..Changes::default()
    };
    match async { components::update(&ctx, &place.write()?, &config, changes).await }.await {
        Ok(_) => Ok(redirect(&place.config_url(&config))),
        Err(error) => config_view(&state, &place, &config, "", Feedback::Target(user_message(error)?)).await,
    }
}

/// The object under `key` of `value`, made one (as `value` itself) if missing or not an object.
fn object_at<'a>(value: &'a mut Value, key: &str) -> &'a mut Map<String, Value> {
    if !value.is_object() {
        *value = json!({});
    }
    object_in(value.as_object_mut().expect("made an object above"), key)
}

fn object_in<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let entry = map.entry(key.to_string()).or_insert_with(|| json!({}));
    if !entry.is_object() {
        *entry = json!({});
    }
    entry.as_object_mut().expect("made an object above")
}

async fn add_row(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, component, config)): Path<(String, String, String)>,
    Body(body): Body,
) -> ApiResult<Response> {
    let place = or_answer!(place(&state, &headers, &id, &component, Some(&body)).await?);
    let ctx = Ctx::internal(&state.core);
    let (name, configuration) = match place.kind {
        Kind::Writer => {
            let source = body.string("source")?.unwrap_or_default();
            let readable = tables::list(&ctx, &place.token.authorize(AnyToken)?).await?;
            if !readable.iter().any(|view| view.table.id == source) {
                let message = "Source table: pick one of this project's tables.".to_string();
                return config_view(&state, &place, &config, "", Feedback::NewTable(message)).await;
            }
            let destination = source.rsplit('.').next().unwrap_or(&source).to_string();
            let configuration = json!({
                "storage": { "input": { "tables": [{ "source": source, "destination": destination, "changed_since": "" }] } },
                "parameters": { "mode": "replace" },
            });
            (source, configuration)
        }
        Kind::Extractor => {
            let table_name = body.string("tableName")?.unwrap_or_default().trim().to_string();
            if let Err(error) = tables::validate_table_name(&table_name) {
                let message = format!("Table name: {}", error.message);
                return config_view(&state, &place, &config, "", Feedback::NewTable(message)).await;
            }
            let configuration = json!({
                "parameters": { "tableName": table_name, "changedSince": "", "incremental": false, "primaryKey": [] },
            });
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

async fn row_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, component, config, row)): Path<(String, String, String, String)>,
) -> ApiResult<Response> {
    let place = or_answer!(place(&state, &headers, &id, &component, None).await?);
    row_view(&state, &place, &config, &row, "").await
}

async fn row_view(state: &AppState, place: &Place, config_id: &str, row_id: &str, error: &str) -> ApiResult<Response> {
    let ctx = Ctx::internal(&state.core);
    let (view, row) = match load_row(&ctx, place, config_id, row_id).await {
        Ok(found) => found,
        Err(error) => return problem(error),
    };
    let c = &row.configuration;
    let fields = match place.kind {
        Kind::Writer => {
            let mode = writer_mode(c);
            format!(
                "<h2>Source</h2><p>Table: <strong>{source}</strong> (to write another table, add a new one)</p>\
                 <label for=\"changedSince\">Changed In Last</label><select id=\"changedSince\" name=\"changedSince\">{changed}</select>\
                 <h2>Destination</h2><label for=\"destination\">Table Name</label><input id=\"destination\" name=\"destination\" value=\"{destination}\" required>\
                 <label for=\"mode\">Mode (the primary key comes from the source table)</label><select id=\"mode\" name=\"mode\">{modes}</select>",
                source = escape(str_at(c, "/storage/input/tables/0/source")),
                changed = options(CHANGED_IN_LAST, str_at(c, "/storage/input/tables/0/changed_since")),
                destination = escape(str_at(c, "/storage/input/tables/0/destination")),
                modes = options(MODES, mode),
            )
        }
        Kind::Extractor => {
            let p = &c["parameters"];
            let key = primary_key(p);
            let changed = match &p["changedSince"] {
                Value::Number(n) => n.to_string(),
                other => other.as_str().unwrap_or("").to_string(),
            };
            format!(
                "<h2>Source</h2><label for=\"tableName\">Table Name</label><input id=\"tableName\" name=\"tableName\" value=\"{name}\" required>\
                 <label for=\"changedSince\">Changed In Last</label><select id=\"changedSince\" name=\"changedSince\">{changed}</select>\
                 <h2>Save Settings</h2><label><input type=\"checkbox\" name=\"incremental\" value=\"1\"{incremental}> Incremental</label>\
                 <label for=\"primaryKey\">Primary Key (columns, separated by commas)</label><input id=\"primaryKey\" name=\"primaryKey\" value=\"{key}\">",
                name = escape(p["tableName"].as_str().unwrap_or("")),
                changed = options(&CHANGED_IN_LAST[..CHANGED_IN_LAST.len() - 1], &changed),
                incremental = if p["incremental"].as_bool().unwrap_or(false) { " checked" } else { "" },
                key = escape(&key.join(", ")),
            )
        }
    };
    let url = place.config_url(config_id);
    let save = if place.write().is_ok() {
        format!("{}{}<button type=\"submit\">Save</button>", error_line(error), place.csrf())
    } else {
        String::new()
    };
    let body = format!(
        "<p><a href=\"{url}\">{config}</a></p><form method=\"post\" action=\"{url}/rows/{row_id}\">{fields}{save}</form>",
        config = escape(&view.config.name),
        row_id = escape(&row.id),
    );
    let status = if error.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    place.page(state, status, &row.name, &body).await
}

/// The row's configuration with the form's settings applied; keys the form does not show stay.
fn edited_row(kind: Kind, row: &RowRecord, body: &Fields) -> ApiResult<Result<Value, String>> {
    let mut configuration = row.configuration.clone();
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
            // The first input table is the row's table; anything else set through the API stays.
            let input = object_in(object_at(&mut configuration, "storage"), "input");
            let tables = input.entry("tables").or_insert_with(|| json!([]));
            if !tables.as_array().is_some_and(|tables| tables.first().is_some_and(Value::is_object)) {
                *tables = json!([{}]);
            }
            let table = tables[0].as_object_mut().expect("made an object above");
            table.insert("destination".into(), Value::String(destination));
            table.insert("changed_since".into(), Value::String(changed));
            let parameters = object_at(&mut configuration, "parameters");
            // `incremental` (the old form) would override the mode picked here.
            parameters.remove("incremental");
            parameters.insert("mode".into(), Value::String(mode));
        }
        Kind::Extractor => {
            let table_name = body.string("tableName")?.unwrap_or_default().trim().to_string();
            if let Err(error) = tables::validate_table_name(&table_name) {
                return Ok(Err(format!("Table Name: {}", error.message)));
            }
            let key = column_list(&body.string("primaryKey")?.unwrap_or_default());
            let parameters = object_at(&mut configuration, "parameters");
            parameters.insert("tableName".into(), Value::String(table_name));
            parameters.insert("changedSince".into(), Value::String(changed));
            parameters.insert("incremental".into(), Value::Bool(body.bool("incremental")?.unwrap_or(false)));
            parameters.insert("primaryKey".into(), json!(key));
        }
    }
    Ok(Ok(configuration))
}

async fn save_row(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, component, config, row_id)): Path<(String, String, String, String)>,
    Body(body): Body,
) -> ApiResult<Response> {
    let place = or_answer!(place(&state, &headers, &id, &component, Some(&body)).await?);
    let ctx = Ctx::internal(&state.core);
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

async fn set_enabled(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, component, config, row_id)): Path<(String, String, String, String)>,
    Body(body): Body,
) -> ApiResult<Response> {
    let place = or_answer!(place(&state, &headers, &id, &component, Some(&body)).await?);
    let ctx = Ctx::internal(&state.core);
    let enabled = body.bool("enabled")?.unwrap_or(false);
    let changes = Changes {
        is_disabled: Some(!enabled),
        change_description: Some(if enabled { "Enabled a table" } else { "Disabled a table" }.into()),
        ..Changes::default()
    };
    let result = async { components::update_row(&ctx, &place.write()?, &config, &row_id, changes).await.map(drop) };
    after_table_change(&state, &place, &config, result.await).await
}

async fn move_row(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, component, config, row_id)): Path<(String, String, String, String)>,
    Body(body): Body,
) -> ApiResult<Response> {
    let place = or_answer!(place(&state, &headers, &id, &component, Some(&body)).await?);
    let ctx = Ctx::internal(&state.core);
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

async fn delete_row(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, component, config, row_id)): Path<(String, String, String, String)>,
    Body(body): Body,
) -> ApiResult<Response> {
    let place = or_answer!(place(&state, &headers, &id, &component, Some(&body)).await?);
    let ctx = Ctx::internal(&state.core);
    let result = async { components::delete_row(&ctx, &place.write()?, &config, &row_id).await };
    after_table_change(&state, &place, &config, result.await).await
}

async fn run_row(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, component, config, row_id)): Path<(String, String, String, String)>,
    Body(body): Body,
) -> ApiResult<Response> {
    let place = or_answer!(place(&state, &headers, &id, &component, Some(&body)).await?);
    start_job(&state, &place, &config, vec![row_id]).await
}

async fn run_config(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, component, config)): Path<(String, String, String)>,
    Body(body): Body,
) -> ApiResult<Response> {
    let place = or_answer!(place(&state, &headers, &id, &component, Some(&body)).await?);
    start_job(&state, &place, &config, Vec::new()).await
}

/// Starts a job and opens its page.
async fn start_job(state: &AppState, place: &Place, config_id: &str, rows: Vec<String>) -> ApiResult<Response> {
    let ctx = Ctx::internal(&state.core);
    match async { queue::run(&ctx, &place.write()?, config_id, rows).await }.await {
        Ok(job) => Ok(redirect(&format!("/console/projects/{}/jobs/{}", place.project_id, job.id))),
        Err(error) => after_table_change(state, place, config_id, Err(error)).await,
    }
}

async fn delete_config(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, component, config)): Path<(String, String, String)>,
    Body(body): Body,
) -> ApiResult<Response> {
    let place = or_answer!(place(&state, &headers, &id, &component, Some(&body)).await?);
    let ctx = Ctx::internal(&state.core);
    match async { components::delete(&ctx, &place.write()?, &config).await }.await {
        Ok(()) => Ok(redirect(&place.configs_url())),
        Err(error) => problem(error),
    }
}

// ---------------------------------------------------------------------------------------------
// Triggers of a configuration

/// The configuration's triggers, with a form to add one: by default on the tables the writer's
/// rows read, run as a token the acting token may pick (one without expiry).
async fn triggers_section(ctx: &Ctx, place: &Place, view: &ConfigView, error: &str) -> ApiResult<String> {
    let url = place.config_url(&view.config.id);
    let csrf = place.csrf();
    let can_write = place.write().is_ok();
    let found = triggers::list(
        ctx,
        &place.token.authorize(AnyToken)?,
        Some(place.kind.id().into()),
        Some(view.config.id.clone()),
    )
    .await?;
    let rows: String = found
        .iter()
        .map(|trigger| {
            let tables: Vec<&str> = trigger.tables.iter().map(|t| t.table_id.as_str()).collect();
            let delete = if can_write {
                format!(
                    "<form class=\"inline\" method=\"post\" action=\"{url}/triggers/{}/delete\" \
                     data-confirm=\"Delete this trigger?\">{csrf}<button type=\"submit\">Delete</button></form>",
                    trigger.id
                )
            } else {
                String::new()
            };
            format!(
                "<tr data-trigger=\"{id}\"><td data-label=\"Tables\">{tables}</td>\
                 <td data-label=\"Cool-down\">{cool_down} min</td><td data-label=\"Runs as\">token {token}</td>\
                 <td data-label=\"Last run\" class=\"nowrap\">{last_run}</td><td>{delete}</td></tr>",
                id = trigger.id,
                tables = escape(&tables.join(", ")),
                cool_down = trigger.cool_down_minutes,
                token = trigger.run_with_token_id,
                last_run = format(trigger.last_run),
            )
        })
        .collect();
    let list = if rows.is_empty() {
        "<p>No triggers: the configuration runs when someone runs it.</p>".to_string()
    } else {
        format!(
            "<table class=\"cards\" id=\"triggers\"><thead><tr><th>Runs when these tables were imported to</th>\
             <th>Cool-down</th><th>Runs as</th><th>Last run</th><th></th></tr></thead><tbody>{rows}</tbody></table>"
        )
    };
    if !can_write {
        return Ok(format!("<h2>Triggers</h2>{list}"));
    }
    let sources: Vec<&str> = match place.kind {
        Kind::Writer => {
            view.rows.iter().map(|row| str_at(&row.configuration, "/storage/input/tables/0/source")).collect()
        }
        Kind::Extractor => Vec::new(),
    };
    let choices = run_as_choices(ctx, place).await?;
    Ok(format!(
        "<h2>Triggers</h2>{list}<form method=\"post\" action=\"{url}/triggers\" id=\"new-trigger\">\
         <label for=\"trigger-tables\">Run when these tables were all imported to (comma-separated)</label>\
         <input id=\"trigger-tables\" name=\"tables\" required value=\"{sources}\">\
         <label for=\"trigger-token\">Run as token</label><select id=\"trigger-token\" name=\"runWithTokenId\">{choices}</select>\
         <label for=\"trigger-cool-down\">Cool-down: minutes after a run before the next may start</label>\
         <input id=\"trigger-cool-down\" name=\"coolDownPeriodMinutes\" type=\"number\" min=\"1\" value=\"5\" required>\
         {}{csrf}<button type=\"submit\">Add trigger</button></form>",
        error_line(error),
        sources = escape(&sources.into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join(", ")),
    ))
}

/// After a change to a trigger or schedule: back to its section (`anchor`), or the page again
/// with the problem next to that section's form.
async fn after_automation(
    state: &AppState,
    place: &Place,
    config_id: &str,
    result: Result<(), Error>,
    anchor: &str,
    feedback: fn(String) -> Feedback,
) -> ApiResult<Response> {
    match result {
        Ok(()) => Ok(redirect(&format!("{}#{anchor}", place.config_url(config_id)))),
        Err(error) => config_view(state, place, config_id, "", feedback(user_message(error)?)).await,
    }
}

/// The tokens automated runs may use (those without expiry the acting token sees), as options.
async fn run_as_choices(ctx: &Ctx, place: &Place) -> ApiResult<String> {
    let tokens = tokens::list(ctx, &place.token.authorize(AnyToken)?).await?;
    Ok(tokens
        .iter()
        .filter(|view| view.token.expires.is_none())
        .map(|view| {
            let selected = if view.token.id == place.token.id { " selected" } else { "" };
            format!(
                "<option value=\"{id}\"{selected}>{} (token {id})</option>",
                escape(&view.token.description),
                id = view.token.id
            )
        })
        .collect())
}

async fn add_trigger(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, component, config)): Path<(String, String, String)>,
    Body(body): Body,
) -> ApiResult<Response> {
    let place = or_answer!(place(&state, &headers, &id, &component, Some(&body)).await?);
    let ctx = Ctx::internal(&state.core);
    let changes = triggers::Changes {
        run_with_token_id: body.int("runWithTokenId")?,
        component: Some(place.kind.id().into()),
        configuration_id: Some(config.clone()),
        cool_down_minutes: body.int("coolDownPeriodMinutes")?,
        table_ids: body.list("tables")?.map(|tables| tables.into_iter().filter(|t| !t.is_empty()).collect()),
    };
    let created = triggers::create(&ctx, &place.token.authorize(AnyToken)?, changes).await.map(drop);
    after_automation(&state, &place, &config, created, "triggers", Feedback::Triggers).await
}

async fn delete_trigger(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, component, config, trigger)): Path<(String, String, String, String)>,
    Body(body): Body,
) -> ApiResult<Response> {
    let place = or_answer!(place(&state, &headers, &id, &component, Some(&body)).await?);
    let ctx = Ctx::internal(&state.core);
    let Ok(trigger_id) = trigger.parse::<i64>() else {
        return problem(Error::new(Code::TriggerNotFound, format!("Trigger \"{trigger}\" not found.")));
    };
    let deleted = triggers::delete(&ctx, &place.token.authorize(AnyToken)?, trigger_id).await;
    after_automation(&state, &place, &config, deleted, "triggers", Feedback::Triggers).await
}

// ---------------------------------------------------------------------------------------------
// Schedules of a configuration

/// The schedules that run the configuration, with a form to add one (a `keboola.scheduler`
/// configuration, activated at once).
async fn schedules_section(ctx: &Ctx, place: &Place, view: &ConfigView, error: &str) -> ApiResult<String> {
    let url = place.config_url(&view.config.id);
    let csrf = place.csrf();
    let can_write = place.write().is_ok();
    let found = schedules::list(ctx, &place.token.authorize(AnyToken)?).await?;
    let rows: String = found
        .iter()
        .filter(|s| s.target_component_id == place.kind.id() && s.target_configuration_id == view.config.id)
        .map(|schedule| {
            let delete = if can_write {
                format!(
                    "<form class=\"inline\" method=\"post\" action=\"{url}/schedules/{}/delete\" \
                     data-confirm=\"Delete this schedule?\">{csrf}<button type=\"submit\">Delete</button></form>",
                    schedule.id
                )
            } else {
                String::new()
            };
            let next = if schedule.enabled { format(schedule.next_run) } else { "disabled".to_string() };
            format!(
                "<tr data-schedule=\"{id}\"><td data-label=\"When\">{cron} ({zone})</td>\
                 <td data-label=\"Runs as\">token {token}</td><td data-label=\"Next run\" class=\"nowrap\">{next}</td>\
                 <td data-label=\"Last run\" class=\"nowrap\">{last}</td><td>{delete}</td></tr>",
                id = schedule.id,
                cron = escape(&schedule.cron_tab),
                zone = escape(&schedule.timezone),
                token = schedule.run_with_token_id,
                last = schedule.last_run.map(format).unwrap_or_else(|| "not yet".into()),
            )
        })
        .collect();
    let list = if rows.is_empty() {
        "<p>No schedules.</p>".to_string()
    } else {
        format!(
            "<table class=\"cards\" id=\"schedules\"><thead><tr><th>When</th><th>Runs as</th><th>Next run</th>\
             <th>Last run</th><th></th></tr></thead><tbody>{rows}</tbody></table>"
        )
    };
    if !can_write {
        return Ok(format!("<h2>Schedules</h2>{list}"));
    }
    let choices = run_as_choices(ctx, place).await?;
    Ok(format!(
        "<h2>Schedules</h2>{list}<form method=\"post\" action=\"{url}/schedules\" id=\"new-schedule\">\
         <label for=\"schedule-cron\">When: a cron expression (minute hour day month weekday), such as 0 6 * * 1-5</label>\
         <input id=\"schedule-cron\" name=\"cronTab\" required placeholder=\"0 6 * * 1-5\">\
         <label for=\"schedule-timezone\">Time zone</label>\
         <input id=\"schedule-timezone\" name=\"timezone\" value=\"UTC\" required>\
         <label for=\"schedule-token\">Run as token</label><select id=\"schedule-token\" name=\"runWithTokenId\">{choices}</select>\
         {}{csrf}<button type=\"submit\">Add schedule</button></form>",
        error_line(error),
    ))
}

async fn add_schedule(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, component, config)): Path<(String, String, String)>,
    Body(body): Body,
) -> ApiResult<Response> {
    let place = or_answer!(place(&state, &headers, &id, &component, Some(&body)).await?);
    let ctx = Ctx::internal(&state.core);
    let cron = body.string("cronTab")?.unwrap_or_default();
    let timezone = body.string("timezone")?.unwrap_or_default();
    let name = format!("{} {config} at {cron}", place.kind.name());
    let schedule = json!({ "cronTab": cron, "timezone": timezone, "state": "enabled" });
    let target = json!({ "componentId": place.kind.id(), "configurationId": config, "mode": "run" });
    let run_with = body.int("runWithTokenId")?;
    let created =
        schedules::create(&ctx, &place.token.authorize(AnyToken)?, name, schedule, target, run_with).await.map(drop);
    after_automation(&state, &place, &config, created, "schedules", Feedback::Schedules).await
}

async fn delete_schedule(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, component, config, schedule)): Path<(String, String, String, String)>,
    Body(body): Body,
) -> ApiResult<Response> {
    let place = or_answer!(place(&state, &headers, &id, &component, Some(&body)).await?);
    let ctx = Ctx::internal(&state.core);
    let Ok(schedule_id) = schedule.parse::<i64>() else {
        return problem(Error::new(Code::ScheduleNotFound, format!("Schedule \"{schedule}\" not found.")));
    };
    let removed = schedules::remove(&ctx, &place.token.authorize(AnyToken)?, schedule_id).await;
    after_automation(&state, &place, &config, removed, "schedules", Feedback::Schedules).await
}

// ---------------------------------------------------------------------------------------------
// A job

async fn job_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, job)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (session, token, project_id) = or_answer!(acting(&state, &headers, &id).await?);
    let ctx = Ctx::internal(&state.core);
    let (job, events) = match queue::get(&ctx, &token, numeric_id(&job)?).await {
        Ok(found) => found,
        Err(error) => return problem(error),
    };
    let running = matches!(job.status.as_str(), "created" | "processing" | "terminating");
    let read = token.authorize(ReadComponent(job.component_id.clone()))?;
    // The configuration may be in the trash by now; the job page still opens.
    let (config_name, rows) = match components::get(&ctx, &read, &job.config_id).await {
        Ok(view) => (view.config.name, view.rows),
        Err(_) => (format!("Configuration {}", job.config_id), Vec::new()),
    };
    let config_url =
        format!("/console/projects/{project_id}/components/{}/{}", job.component_id, escape(&job.config_id));
    let log: String = events
        .iter()
        .map(|event| {
            format!(
                "<tr class=\"log-{kind}\"><td data-label=\"Time\">{}</td><td data-label=\"Type\">{kind}</td><td>{}</td></tr>",
                format(event.created),
                escape(&event.data.message),
                kind = escape(&event.data.kind),
            )
        })
        .collect();
    let message = job.result["message"].as_str().unwrap_or("");
    let body = format!(
        "<p><a href=\"{config_url}\">{config}</a></p><table><tbody>\
         <tr><th>Status</th><td id=\"status\">{status}</td></tr><tr><th>Tables</th><td>{tables}</td></tr>\
         <tr><th>Created</th><td>{created}</td></tr><tr><th>Duration</th><td>{duration}</td></tr>\
         <tr><th>Run by</th><td>{by}</td></tr><tr><th>Result</th><td id=\"result\">{message}</td></tr></tbody></table>\
         {refresh}{terminate}<h2>Log</h2><table class=\"cards\" id=\"log\"><thead><tr><th>Time</th><th>Type</th><th>Message</th></tr></thead><tbody>{log}</tbody></table>",
        config = escape(&config_name),
        status = badge(&job.status).into_string(),
        tables = job_tables(&job.row_ids, &rows),
        created = ago(job.created).into_string(),
        duration = duration(job.start, job.end),
        by = escape(&job.token_description),
        message = escape(message),
        refresh = if running { "<p class=\"muted\">This page reloads until the job ends.</p>" } else { "" },
        terminate = if running && token.authorize(WriteComponent(job.component_id.clone())).is_ok() {
            format!(
                "<form method=\"post\" action=\"/console/projects/{project_id}/jobs/{}/terminate\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\">Terminate</button></form>",
                job.id,
                escape(&session.csrf)
            )
        } else {
            String::new()
        },
    );
    let title = format!("Job {}", job.id);
    let nav = nav(&state, &session, Some((project_id, Section::Jobs))).await?;
    Ok(if running {
        nav.reloading(StatusCode::OK, &title, PreEscaped(body), 2)
    } else {
        nav.page(StatusCode::OK, &title, &body)
    })
}

async fn terminate_job(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, job)): Path<(String, String)>,
    Body(body): Body,
) -> ApiResult<Response> {
    let (_, token, project_id) = or_answer!(acting_form(&state, &headers, &id, &body).await?);
    let ctx = Ctx::internal(&state.core);
    let job = numeric_id(&job)?;
    match queue::terminate(&ctx, &token, job).await {
        Ok(_) => Ok(redirect(&format!("/console/projects/{project_id}/jobs/{job}"))),
        Err(error) => problem(error),
    }
}
