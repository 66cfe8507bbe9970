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

use super::{acting, acting_form, column_list, nav, problem, redirect, user_message};
use crate::error::ApiResult;
use crate::input::{Body, Fields, Query};
use crate::routes::html::{ago, badge, duration, form_error, url, Section};
use crate::routes::numeric_id;
use crate::{AppState, Table};
use maud::{html, Markup};

pub(super) fn register(t: Table) -> Table {
    const BASE: &str = "/console/projects/{id}/components/{component}";
    let path = |rest: &str| format!("{BASE}{rest}");
    t.page(Method::GET, &path(""), configs_page)
        .page(Method::POST, &path(""), create_config)
        .page(Method::GET, &path("/{config}"), config_page)
        .page(Method::POST, &path("/{config}/target"), save_target)
        .page(Method::POST, &path("/{config}/rows"), add_row)
        .page(Method::GET, &path("/{config}/rows/{row}"), row_page)
        .page(Method::POST, &path("/{config}/rows/{row}"), save_row)
        .page(Method::POST, &path("/{config}/rows/{row}/enabled"), set_enabled)
        .page(Method::POST, &path("/{config}/rows/{row}/move"), move_row)
        .page(Method::POST, &path("/{config}/rows/{row}/delete"), delete_row)
        .page(Method::POST, &path("/{config}/rows/{row}/run"), run_row)
        .page(Method::POST, &path("/{config}/run"), run_config)
        .page(Method::POST, &path("/{config}/delete"), delete_config)
        .page(Method::POST, &path("/{config}/triggers"), add_trigger)
        .page(Method::POST, &path("/{config}/triggers/{trigger}/delete"), delete_trigger)
        .page(Method::POST, &path("/{config}/schedules"), add_schedule)
        .page(Method::POST, &path("/{config}/schedules/{schedule}/delete"), delete_schedule)
        .page(Method::GET, "/console/projects/{id}/jobs/{job}", job_page)
        .page(Method::POST, "/console/projects/{id}/jobs/{job}/terminate", terminate_job)
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
        format!("{}/{}", self.configs_url(), url(config_id))
    }

    fn read(&self) -> Result<Granted<ReadComponent>, Error> {
        self.token.authorize(ReadComponent(self.kind.id().into()))
    }

    fn write(&self) -> Result<Granted<WriteComponent>, Error> {
        self.token.authorize(WriteComponent(self.kind.id().into()))
    }

    /// A page in this component's section.
    async fn page(&self, state: &AppState, status: StatusCode, title: &str, body: Markup) -> ApiResult<Response> {
        let section = match self.kind {
            Kind::Writer => Section::Writer,
            Kind::Extractor => Section::Extractor,
        };
        Ok(nav(state, &self.session, Some((self.project_id, section))).await?.render(status, title, body))
    }

    /// The hidden CSRF field of every form.
    fn csrf(&self) -> Markup {
        html! { input type="hidden" name="csrf" value=(self.session.csrf); }
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

fn options(choices: &[(&str, &str)], current: &str) -> Markup {
    html! {
        @for (value, label) in choices { option value=(value) selected[*value == current] { (label) } }
        // A value set through the API stays as it is until someone picks another.
        @if !choices.iter().any(|(value, _)| *value == current) { option value=(current) selected { (current) } }
    }
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
    let body = html! {
        @if list.is_empty() {
            p { "No configurations yet." }
        } @else {
            table.cards {
                thead { tr { th { "Configuration" } th { "Description" } th { "Tables" } th { "Changed" } } }
                tbody { @for view in &list {
                    @let c = &view.config;
                    tr {
                        td { a href=(place.config_url(&c.id)) { (c.name) } }
                        td data-label="Description" { (c.description) }
                        td data-label="Tables" {
                            (view.rows.iter().filter(|row| !row.is_disabled).count()) " of " (view.rows.len()) " enabled"
                        }
                        td data-label="Changed" { (ago(c.version_created)) }
                    }
                } }
            }
        }
        @if place.write().is_ok() {
            h2 { "New configuration" }
            form method="post" action=(place.configs_url()) {
                label for="name" { "Name" } input #name name="name" required;
                label for="description" { "Description" } input #description name="description";
                (form_error(error))
                (place.csrf())
                button type="submit" { "Create configuration" }
            }
        }
    };
    let status = if error.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    place.page(state, status, place.kind.name(), body).await
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
async fn reach(state: &AppState, ctx: &Ctx, place: &Place, view: &ConfigView) -> ApiResult<(Markup, Vec<String>)> {
    let parameters = &view.config.configuration["parameters"];
    let url = parameters["url"].as_str().unwrap_or("");
    let has_token = parameters["#token"].as_str().is_some_and(|token| !token.is_empty());
    let problem_line = |message: String| html! { p id="reach" class="error" role="alert" { (message) } };
    if url.is_empty() || !has_token {
        let line = html! {
            p id="reach" class="muted" {
                "Not set up yet: pick the region of the " (place.kind.other()) " and paste its token."
            }
        };
        return Ok((line, Vec::new()));
    }
    let Ok(write) = place.write() else { return Ok((html! {}, Vec::new())) };
    let key = format!("{}\n{}\n{url}\n{}", place.project_id, place.kind.id(), parameters["#token"]);
    let asked = async {
        if let Some(info) = state.reach.get(&key) {
            return Ok(info);
        }
        let stored = (Some(view.config.id.as_str()), components::Origin::Stored);
        let info =
            queue::action(ctx, &write, place.kind.info_action(), view.config.configuration.clone(), stored).await?;
        state.reach.put(key.clone(), info.clone());
        Ok::<_, Error>(info)
    };
    let info = match tokio::time::timeout(INFO_TIMEOUT, asked).await {
        Ok(Ok(info)) => info,
        Ok(Err(error)) => return Ok((problem_line(user_message(error)?), Vec::new())),
        Err(_) => {
            let message = format!("The stack at {url} did not answer within {} seconds.", INFO_TIMEOUT.as_secs());
            return Ok((problem_line(message), Vec::new()));
        }
    };
    let project = if place.kind == Kind::Writer { &info } else { &info["project"] };
    let tables: Vec<String> = info["tables"]
        .as_array()
        .map(|tables| tables.iter().filter_map(|t| t["name"].as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let line = html! {
        p id="reach" role="status" {
            (if place.kind == Kind::Writer { "Writes to" } else { "Reads from" })
            " project " strong { (str_at(project, "/projectName")) } " (id " (project["projectId"]) ") at " (url)
            ", bucket " strong { (str_at(project, "/bucket")) } "."
        }
    };
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
    let (reach, source_tables) = reach(state, &ctx, place, &view).await?;
    let needle = search.to_lowercase();
    let rows: Vec<(&RowRecord, String)> = view
        .rows
        .iter()
        .map(|row| (row, row_summary(place.kind, row)))
        .filter(|(row, summary)| {
            needle.is_empty() || format!("{} {summary}", row.name).to_lowercase().contains(&needle)
        })
        .collect();
    let new_table = if can_write {
        new_table_form(&ctx, place, &url, &source_tables, new_table_error).await?
    } else {
        html! {}
    };
    let jobs = job_history(&ctx, place, &view).await?;
    let mut versions = components::versions(&ctx, &place.read()?, config_id).await?;
    versions.sort_by_key(|version| std::cmp::Reverse(version.version));
    let triggers = triggers_section(&ctx, place, &view, triggers_error).await?;
    let schedules = schedules_section(&ctx, place, &view, schedules_error).await?;
    let row_form = |row_url: &str, action: &str, field: Option<(&str, &str)>, label: &str, confirm: Option<&str>| {
        html! {
            form.inline method="post" action={ (row_url) (action) } data-confirm=[confirm] {
                @if let Some((name, value)) = field { input type="hidden" name=(name) value=(value); }
                (place.csrf())
                button type="submit" { (label) }
            }
        }
    };
    let body = html! {
        @if !view.config.description.is_empty() { p { (view.config.description) } }
        h2 { (capitalized(place.kind.other())) }
        (reach)
        @if can_write { (target_form(state, place, &view, &url, target_error)) }
        h2 { "Tables" }
        (form_error(tables_error))
        @if view.rows.is_empty() {
            p { "No tables yet." }
        } @else {
            form method="get" action=(url) role="search" {
                label for="search" { "Search tables" }
                input #search name="q" type="search" value=(search) data-filter="#tables tbody tr";
            }
            table.cards #tables {
                thead { tr { th { "Table" } th { "Settings" } th { "Status" } th { "Actions" } } }
                tbody { @for (row, summary) in &rows {
                    @let row_url = format!("{url}/rows/{}", crate::routes::html::url(&row.id));
                    tr data-row=(row.id) data-search=(format!("{} {summary}", row.name).to_lowercase()) {
                        td { a href=(row_url) { (row.name) } }
                        td data-label="Settings" { (summary) }
                        td data-label="Status" class="nowrap" { (if row.is_disabled { "Disabled" } else { "Enabled" }) }
                        td {
                            @if can_write {
                                (row_form(&row_url, "/run", None, "Run", None))
                                @if row.is_disabled {
                                    (row_form(&row_url, "/enabled", Some(("enabled", "1")), "Enable", None))
                                } @else {
                                    (row_form(&row_url, "/enabled", Some(("enabled", "0")), "Disable", None))
                                }
                                (row_form(&row_url, "/move", Some(("direction", "up")), "Up", None))
                                (row_form(&row_url, "/move", Some(("direction", "down")), "Down", None))
                                (row_form(&row_url, "/delete", None, "Delete", Some("Delete this table from the configuration?")))
                            }
                        }
                    }
                } }
            }
        }
        @if can_write && !view.rows.is_empty() {
            form method="post" action={ (url) "/run" } {
                (place.csrf())
                button #run-all type="submit" { "Run all enabled tables" }
            }
        }
        (new_table)
        (schedules)
        (triggers)
        h2 { "Jobs" }
        (jobs)
        h2 { "Versions" }
        table.cards #versions {
            thead { tr { th { "Version" } th { "Changed" } th { "By" } th { "Change" } } }
            tbody { @for version in versions.iter().take(20) {
                tr {
                    td data-label="Version" { (version.version) }
                    td data-label="Changed" { (ago(version.created)) }
                    td data-label="By" { @if let Some(by) = &version.creator { (by.description) } }
                    td data-label="Change" { (version.change_description) }
                }
            } }
        }
        @if can_write {
            h2 { "Delete" }
            form method="post" action={ (url) "/delete" } data-confirm="Move this configuration to the trash?" {
                (place.csrf())
                button type="submit" { "Move configuration to trash" }
            }
        }
    };
    let status = if matches!(feedback, Feedback::Nothing) { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    place.page(state, status, &view.config.name, body).await
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// The region, custom URL and token of the other project.
fn target_form(state: &AppState, place: &Place, view: &ConfigView, url: &str, error: &str) -> Markup {
    let parameters = &view.config.configuration["parameters"];
    let current = parameters["url"].as_str().unwrap_or("");
    let has_token = parameters["#token"].as_str().is_some_and(|token| !token.is_empty());
    let regions = &state.core.stack.regions;
    let known = regions.iter().any(|region| region.url == current);
    let custom = !(known || (current.is_empty() && !regions.is_empty()));
    html! {
        form method="post" action={ (url) "/target" } {
            label for="region" { "Region" }
            select #region name="region" {
                @for region in regions {
                    option value=(region.url) selected[region.url == current] { (region.name) " (" (region.url) ")" }
                }
                option value="custom" selected[custom] { "Custom URL" }
            }
            label for="customUrl" { "Custom URL (when \"Custom URL\" is picked)" }
            input #customUrl name="customUrl" type="url" placeholder="https://stowage.example.com"
                value=(if known { "" } else { current });
            label for="token" { "API token with " (place.kind.access()) }
            input #token name="token" type="password" autocomplete="off" aria-describedby="token-hint";
            p #token-hint .muted {
                @if has_token {
                    "A token is saved. Paste another one to replace it, or leave this empty to keep it."
                } @else {
                    "Create it in the other project and paste it here; it is stored encrypted and not shown again."
                }
            }
            (form_error(error))
            (place.csrf())
            button type="submit" { "Save" }
        }
    }
}

/// "New Table": the writer picks one of this project's tables, the extractor names a table of the
/// source bucket (offering the ones the token reaches).
async fn new_table_form(
    ctx: &Ctx,
    place: &Place,
    url: &str,
    source_tables: &[String],
    error: &str,
) -> ApiResult<Markup> {
    let writable = match place.kind {
        Kind::Writer => tables::list(ctx, &place.token.authorize(AnyToken)?).await?,
        Kind::Extractor => Vec::new(),
    };
    if place.kind == Kind::Writer && writable.is_empty() {
        return Ok(html! { p { "This project has no tables to write yet." } });
    }
    Ok(html! {
        h3 { "New Table" }
        form method="post" action={ (url) "/rows" } {
            @match place.kind {
                Kind::Writer => {
                    label for="source" { "Source table" }
                    select #source name="source" { @for view in &writable { option value=(view.table.id) { (view.table.id) } } }
                }
                Kind::Extractor => {
                    label for="tableName" { "Table name in the source bucket" }
                    input #tableName name="tableName" list="source-tables" required;
                    datalist #source-tables { @for name in source_tables { option value=(name); } }
                }
            }
            (form_error(error))
            (place.csrf())
            button #new-table type="submit" { "New Table" }
        }
    })
}

/// The configuration's last jobs, newest first.
async fn job_history(ctx: &Ctx, place: &Place, view: &ConfigView) -> ApiResult<Markup> {
    let config_id = Some(view.config.id.clone());
    let jobs = queue::list(ctx, &place.token, Some(place.kind.id().into()), config_id, Paging::first(20)).await?;
    Ok(html! {
        @if jobs.is_empty() {
            p { "Not run yet." }
        } @else {
            table.cards #jobs {
                thead { tr { th { "Job" } th { "Status" } th { "Created" } th { "Duration" } th { "Tables" } } }
                tbody { @for job in &jobs {
                    tr {
                        td { a href={ "/console/projects/" (place.project_id) "/jobs/" (job.id) } { "Job " (job.id) } }
                        td data-label="Status" class="job-status" { (badge(&job.status)) }
                        td data-label="Created" { (ago(job.created)) }
                        td data-label="Duration" { (duration(job.start, job.end)) }
                        td data-label="Tables" { (job_tables(&job.row_ids, &view.rows)) }
                    }
                } }
            }
        }
    })
}

/// The tables a job ran, by their names where the configuration still has them.
fn job_tables(row_ids: &[String], rows: &[RowRecord]) -> String {
    if row_ids.is_empty() {
        return "all enabled".into();
    }
    let name = |id: &String| rows.iter().find(|row| &row.id == id).map_or(id.clone(), |row| row.name.clone());
    row_ids.iter().map(name).collect::<Vec<_>>().join(", ")
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
async fn triggers_section(ctx: &Ctx, place: &Place, view: &ConfigView, error: &str) -> ApiResult<Markup> {
    let url = place.config_url(&view.config.id);
    let can_write = place.write().is_ok();
    let found = triggers::list(
        ctx,
        &place.token.authorize(AnyToken)?,
        Some(place.kind.id().into()),
        Some(view.config.id.clone()),
    )
    .await?;
    let sources: Vec<&str> = match place.kind {
        Kind::Writer => view
            .rows
            .iter()
            .map(|row| str_at(&row.configuration, "/storage/input/tables/0/source"))
            .filter(|source| !source.is_empty())
            .collect(),
        Kind::Extractor => Vec::new(),
    };
    let choices = if can_write {
        run_as_choices(ctx, place).await?
    } else {
        html! {}
    };
    Ok(html! {
        h2 { "Triggers" }
        @if found.is_empty() {
            p { "No triggers: the configuration runs when someone runs it." }
        } @else {
            table.cards #triggers {
                thead { tr {
                    th { "Runs when these tables were imported to" } th { "Cool-down" } th { "Runs as" } th { "Last run" }
                    th { "Actions" }
                } }
                tbody { @for trigger in &found {
                    tr data-trigger=(trigger.id) {
                        td data-label="Tables" { (trigger.tables.iter().map(|t| t.table_id.as_str()).collect::<Vec<_>>().join(", ")) }
                        td data-label="Cool-down" { (trigger.cool_down_minutes) " min" }
                        td data-label="Runs as" { "token " (trigger.run_with_token_id) }
                        td data-label="Last run" class="nowrap" { (ago(trigger.last_run)) }
                        td { @if can_write {
                            form.inline method="post" action={ (url) "/triggers/" (trigger.id) "/delete" }
                                data-confirm="Delete this trigger?" {
                                (place.csrf())
                                button type="submit" { "Delete" }
                            }
                        } }
                    }
                } }
            }
        }
        @if can_write {
            form #new-trigger method="post" action={ (url) "/triggers" } {
                label for="trigger-tables" { "Run when these tables were all imported to (comma-separated)" }
                input #trigger-tables name="tables" required value=(sources.join(", "));
                label for="trigger-token" { "Run as token" }
                select #trigger-token name="runWithTokenId" { (choices) }
                label for="trigger-cool-down" { "Cool-down: minutes after a run before the next may start" }
                input #trigger-cool-down name="coolDownPeriodMinutes" type="number" min="1" value="5" required;
                (form_error(error))
                (place.csrf())
                button type="submit" { "Add trigger" }
            }
        }
    })
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
async fn run_as_choices(ctx: &Ctx, place: &Place) -> ApiResult<Markup> {
    let tokens = tokens::list(ctx, &place.token.authorize(AnyToken)?).await?;
    Ok(html! {
        @for view in tokens.iter().filter(|view| view.token.expires.is_none()) {
            option value=(view.token.id) selected[view.token.id == place.token.id] {
                (view.token.description) " (token " (view.token.id) ")"
            }
        }
    })
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
async fn schedules_section(ctx: &Ctx, place: &Place, view: &ConfigView, error: &str) -> ApiResult<Markup> {
    let url = place.config_url(&view.config.id);
    let can_write = place.write().is_ok();
    let found = schedules::list(ctx, &place.token.authorize(AnyToken)?).await?;
    let found: Vec<_> = found
        .iter()
        .filter(|s| s.target_component_id == place.kind.id() && s.target_configuration_id == view.config.id)
        .collect();
    let choices = if can_write {
        run_as_choices(ctx, place).await?
    } else {
        html! {}
    };
    Ok(html! {
        h2 { "Schedules" }
        @if found.is_empty() {
            p { "No schedules." }
        } @else {
            table.cards #schedules {
                thead { tr { th { "When" } th { "Runs as" } th { "Next run" } th { "Last run" } th { "Actions" } } }
                tbody { @for schedule in &found {
                    tr data-schedule=(schedule.id) {
                        td data-label="When" { (schedule.cron_tab) " (" (schedule.timezone) ")" }
                        td data-label="Runs as" { "token " (schedule.run_with_token_id) }
                        td data-label="Next run" class="nowrap" {
                            @if schedule.enabled { (format(schedule.next_run)) } @else { "disabled" }
                        }
                        td data-label="Last run" class="nowrap" {
                            @if let Some(at) = schedule.last_run { (ago(at)) } @else { "not yet" }
                        }
                        td { @if can_write {
                            form.inline method="post" action={ (url) "/schedules/" (schedule.id) "/delete" }
                                data-confirm="Delete this schedule?" {
                                (place.csrf())
                                button type="submit" { "Delete" }
                            }
                        } }
                    }
                } }
            }
        }
        @if can_write {
            form #new-schedule method="post" action={ (url) "/schedules" } {
                label for="schedule-cron" {
                    "When: a cron expression (minute hour day month weekday), such as 0 6 * * 1-5"
                }
                input #schedule-cron name="cronTab" required placeholder="0 6 * * 1-5";
                label for="schedule-timezone" { "Time zone" }
                input #schedule-timezone name="timezone" value="UTC" required;
                label for="schedule-token" { "Run as token" }
                select #schedule-token name="runWithTokenId" { (choices) }
                (form_error(error))
                (place.csrf())
                button type="submit" { "Add schedule" }
            }
        }
    })
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
        format!("/console/projects/{project_id}/components/{}/{}", url(&job.component_id), url(&job.config_id));
    let can_terminate = running && token.authorize(WriteComponent(job.component_id.clone())).is_ok();
    let body = html! {
        p { a href=(config_url) { (config_name) } }
        table { tbody {
            tr { th { "Status" } td #status { (badge(&job.status)) } }
            tr { th { "Tables" } td { (job_tables(&job.row_ids, &rows)) } }
            tr { th { "Created" } td { (ago(job.created)) } }
            tr { th { "Duration" } td { (duration(job.start, job.end)) } }
            tr { th { "Run by" } td { (job.token_description) } }
            tr { th { "Result" } td #result { (job.result["message"].as_str().unwrap_or("")) } }
        } }
        @if running { p.muted { "This page reloads until the job ends." } }
        @if can_terminate {
            form method="post" action={ "/console/projects/" (project_id) "/jobs/" (job.id) "/terminate" } {
                input type="hidden" name="csrf" value=(session.csrf);
                button type="submit" { "Terminate" }
            }
        }
        h2 { "Log" }
        table.cards #log {
            thead { tr { th { "Time" } th { "Type" } th { "Message" } } }
            tbody { @for event in &events {
                tr class={ "log-" (event.data.kind) } {
                    td data-label="Time" { (format(event.created)) }
                    td data-label="Type" { (event.data.kind) }
                    td { (event.data.message) }
                }
            } }
        }
    };
    let title = format!("Job {}", job.id);
    let nav = nav(&state, &session, Some((project_id, Section::Jobs))).await?;
    Ok(if running { nav.reloading(StatusCode::OK, &title, body, 2) } else { nav.render(StatusCode::OK, &title, body) })
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
