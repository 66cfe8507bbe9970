//! The Storage Writer and Storage Extractor in the console: a component's configurations, one
//! configuration's page (the other project and its token, the tables with search, enable and
//! disable, reorder, run one or all, delete, and the job history), a table's settings
//! (`rows.rs`), triggers and schedules (`automation.rs`), and a job's status and log (`jobs.rs`).
//!
//! The pages change configurations through the same core functions as the components API, so the
//! pasted token is sealed like any `#` value and never shown again; the project and bucket it
//! reaches come from the component's own sync action (`info`, `sourceInfo`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use stowage_core::components::{self, Changes, ConfigView};
use stowage_core::console::Session;
use stowage_core::engines::settings;
use stowage_core::records::RowRecord;
use stowage_core::{queue, tables, Ctx};
use stowage_types::auth::{AnyToken, Granted, ReadComponent, Token, WriteComponent};
use stowage_types::{Code, Error, Paging};

use super::{nav, problem, redirect, user_message, Signed, SignedForm};
use crate::error::ApiResult;
use crate::input::Query;
use crate::routes::html::{ago, badge, duration, form_error, url, Section};
use crate::{AppState, Table};
use maud::{html, Markup};

mod automation;
mod jobs;
mod rows;

use automation::{add_schedule, add_trigger, delete_schedule, delete_trigger, schedules_section, triggers_section};
use jobs::{job_page, terminate_job};
use rows::{add_row, delete_row, move_row, row_page, run_config, run_row, save_row, set_enabled};

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
    /// The request's context: the caller, for the events of what the page does.
    ctx: Ctx,
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

/// The [`Place`] of a signed-in request, or the page to answer instead (an unknown component).
fn place(signed: Signed, component: &str) -> ApiResult<Result<Place, Response>> {
    let Signed { session, token, project_id, ctx } = signed;
    match Kind::of(component) {
        Some(kind) => Ok(Ok(Place { session, token, project_id, ctx, kind })),
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
    signed: Signed,
    Path((_, component)): Path<(String, String)>,
) -> ApiResult<Response> {
    let place = or_answer!(place(signed, &component)?);
    configs_list(&state, &place, "").await
}

async fn configs_list(state: &AppState, place: &Place, error: &str) -> ApiResult<Response> {
    let ctx = place.ctx.clone();
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
    Path((_, component)): Path<(String, String)>,
    SignedForm { signed, body }: SignedForm,
) -> ApiResult<Response> {
    let place = or_answer!(place(signed, &component)?);
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
    let ctx = place.ctx.clone();
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
    signed: Signed,
    Path((_, component, config)): Path<(String, String, String)>,
    Query(query): Query,
) -> ApiResult<Response> {
    let place = or_answer!(place(signed, &component)?);
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
    let ctx = place.ctx.clone();
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
    Path((_, component, config)): Path<(String, String, String)>,
    SignedForm { signed, body }: SignedForm,
) -> ApiResult<Response> {
    let place = or_answer!(place(signed, &component)?);
    let ctx = place.ctx.clone();
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
    if token.is_empty() && !settings::has_token(&view.config.configuration) {
        let message = format!("Token: paste an API token of the {} with {}.", place.kind.other(), place.kind.access());
        return config_view(&state, &place, &config, "", Feedback::Target(message)).await;
    }
    let target = settings::Target { url, token: Some(token).filter(|token| !token.is_empty()) };
    let changes = Changes {
        configuration: Some(settings::with_target(&view.config.configuration, target)),
        change_description: Some(format!("Set the {}", place.kind.other())),
        ..Changes::default()
    };
    match async { components::update(&ctx, &place.write()?, &config, changes).await }.await {
        Ok(_) => Ok(redirect(&place.config_url(&config))),
        Err(error) => config_view(&state, &place, &config, "", Feedback::Target(user_message(error)?)).await,
    }
}

async fn delete_config(
    Path((_, component, config)): Path<(String, String, String)>,
    SignedForm { signed, .. }: SignedForm,
) -> ApiResult<Response> {
    let place = or_answer!(place(signed, &component)?);
    let ctx = place.ctx.clone();
    match async { components::delete(&ctx, &place.write()?, &config).await }.await {
        Ok(()) => Ok(redirect(&place.configs_url())),
        Err(error) => problem(error),
    }
}

// ---------------------------------------------------------------------------------------------
// Triggers of a configuration
