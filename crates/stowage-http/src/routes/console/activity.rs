//! What happened in a project: its jobs (storage jobs and component runs in one list, newest first,
//! filtered by status and component, paged), a storage job's page, and the events feed (searched
//! with `q`, paged).

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use maud::{html, Markup};
use serde_json::Value;

use stowage_core::{events, jobs, queue};
use stowage_types::auth::AnyToken;
use stowage_types::time::Timestamp;
use stowage_types::Paging;

use super::{nav, problem, Signed};
use crate::error::ApiResult;
use crate::input::Query;
use crate::routes::html::{ago, badge, count, duration, size, url, Section};
use crate::routes::numeric_id;
use crate::{AppState, Table};

pub(super) fn register(t: Table) -> Table {
    t.page(Method::GET, "/console/projects/{id}/jobs", jobs_page)
        .page(Method::GET, "/console/projects/{id}/storage-jobs/{job}", storage_job_page)
        .page(Method::GET, "/console/projects/{id}/events", events_page)
}

/// Rows on a page of jobs or events.
const PAGE: i64 = 50;

/// How far back the job list reaches: both kinds are read from their start and merged, within the
/// lists' own limits (the queue's is 500).
const JOBS_REACHED: i64 = 500;

/// The component filter's value for storage jobs.
const STORAGE: &str = "storage";

/// The statuses the job list filters by; a component run's `created` counts as waiting and its
/// `terminating` as processing.
const STATUSES: [&str; 5] = ["waiting", "processing", "success", "error", "terminated"];

fn status_matches(wanted: &str, status: &str) -> bool {
    wanted.is_empty()
        || wanted == status
        || (wanted == "waiting" && status == "created")
        || (wanted == "processing" && status == "terminating")
}

/// A job of either kind, as a row of the list.
struct JobRow {
    id: i64,
    link: String,
    what: Markup,
    status: String,
    created: Timestamp,
    start: Option<Timestamp>,
    end: Option<Timestamp>,
    by: String,
}

/// The offset a list was asked for (`offset`), checked like the API's.
fn offset(query: &crate::input::Fields) -> ApiResult<i64> {
    let paging = query.paging()?;
    paging.bounds(PAGE, i64::MAX).map_err(Into::into).map(|(_, offset)| offset)
}

/// Previous and next links of a paged list.
fn pager(base: &str, offset: i64, more: bool) -> Markup {
    let glue = if base.contains('?') { "&" } else { "?" };
    html! {
        nav.pager aria-label="Pages" {
            @if offset > 0 { a href={ (base) (glue) "offset=" ((offset - PAGE).max(0)) } { "← Newer" } }
            @if more { a href={ (base) (glue) "offset=" (offset + PAGE) } { "Older →" } }
        }
    }
}

async fn jobs_page(State(state): State<AppState>, signed: Signed, Query(query): Query) -> ApiResult<Response> {
    let Signed { session, token, project_id, ctx } = signed;
    let wanted_status = query.string("status")?.unwrap_or_default();
    let component = query.string("component")?.unwrap_or_default();
    let offset = offset(&query)?;
    // Both lists are newest first: the first `offset + PAGE + 1` of each hold the page and tell
    // whether another follows. A status filter looks further, within the lists' own limits.
    let wanted = offset + PAGE + 1;
    let reach = if wanted_status.is_empty() { wanted } else { wanted * 4 }.min(JOBS_REACHED);
    let base = format!("/console/projects/{project_id}");
    let mut rows = Vec::new();
    if component.is_empty() || component == STORAGE {
        let grant = token.authorize(AnyToken)?;
        let paging = Paging { limit: Some(reach), offset: None };
        for job in jobs::list(&ctx, &grant, paging).await? {
            let what = html! {
                (job.operation_name)
                @if let Some(table) = &job.table_id { " " span.muted { (table) } }
            };
            rows.push(JobRow {
                id: job.id,
                link: format!("{base}/storage-jobs/{}", job.id),
                what,
                status: job.status.as_str().to_string(),
                created: job.created,
                start: job.start,
                end: job.end,
                by: job.creator_token_description,
            });
        }
    }
    if component != STORAGE {
        let only = Some(component.clone()).filter(|c| !c.is_empty());
        let paging = Paging { limit: Some(reach), offset: None };
        for job in queue::list(&ctx, &token, only, None, paging).await? {
            let what = html! {
                (component_name(&job.component_id)) " " span.muted { "configuration " (job.config_id) }
            };
            rows.push(JobRow {
                id: job.id,
                link: format!("{base}/jobs/{}", job.id),
                what,
                status: job.status,
                created: job.created,
                start: job.start,
                end: job.end,
                by: job.token_description,
            });
        }
    }
    rows.retain(|row| status_matches(&wanted_status, &row.status));
    rows.sort_by_key(|row| std::cmp::Reverse((row.created, row.id)));
    let at_the_end = offset + PAGE >= JOBS_REACHED;
    let more = rows.len() as i64 > offset + PAGE && !at_the_end;
    let shown: Vec<&JobRow> = rows.iter().skip(offset as usize).take(PAGE as usize).collect();
    let filtered = format!("{base}/jobs?status={}&component={}", url(&wanted_status), url(&component));
    let body = html! {
        form.filters method="get" action={ (base) "/jobs" } {
            div {
                label for="status" { "Status" }
                select #status name="status" {
                    option value="" { "any" }
                    @for status in STATUSES { option value=(status) selected[status == wanted_status] { (status) } }
                }
            }
            div {
                label for="component" { "Component" }
                select #component name="component" {
                    option value="" { "any" }
                    @for (value, label) in [(STORAGE, "Storage jobs"), ("keboola.wr-storage", "Storage Writer"), ("keboola.ex-storage", "Storage Extractor")] {
                        option value=(value) selected[value == component] { (label) }
                    }
                }
            }
            button type="submit" { "Filter" }
        }
        @if shown.is_empty() {
            p { "No jobs" @if !wanted_status.is_empty() || !component.is_empty() { " match the filter" } "." }
        } @else {
            table.cards #jobs {
                thead { tr { th { "Job" } th { "What" } th { "Status" } th { "Created" } th { "Duration" } th { "By" } } }
                tbody { @for row in &shown {
                    tr {
                        td data-label="Job" { a href=(row.link) { (row.id) } }
                        td data-label="What" { (row.what) }
                        td data-label="Status" { (badge(&row.status)) }
                        td data-label="Created" { (ago(row.created)) }
                        td data-label="Duration" { (duration(row.start, row.end)) }
                        td data-label="By" { (row.by) }
                    }
                } }
            }
        }
        (pager(&filtered, offset, more))
        @if at_the_end {
            p.muted {
                "The console pages through the newest " (JOBS_REACHED) " jobs of each kind; the API lists older ones ("
                code.inline { "GET /v2/storage/jobs" } ", " code.inline { "GET /queue/jobs" } ")."
            }
        }
    };
    let nav = nav(&state, &session, Some((project_id, Section::Jobs))).await?;
    Ok(nav.render(StatusCode::OK, "Jobs", body))
}

fn component_name(id: &str) -> &str {
    match id {
        "keboola.wr-storage" => "Storage Writer",
        "keboola.ex-storage" => "Storage Extractor",
        other => other,
    }
}

/// A byte count of a job's metrics, when it has one.
fn bytes(metrics: &Value, key: &str) -> Option<i64> {
    metrics[key].as_i64().filter(|bytes| *bytes > 0)
}

async fn storage_job_page(
    State(state): State<AppState>,
    signed: Signed,
    Path((_, job)): Path<(String, String)>,
) -> ApiResult<Response> {
    let Signed { session, token, project_id, ctx } = signed;
    let job = match jobs::get(&ctx, &token.authorize(AnyToken)?, numeric_id(&job)?).await {
        Ok(job) => job,
        Err(error) => return problem(error),
    };
    let running = !job.status.is_finished();
    let results = serde_json::to_string_pretty(&job.results).unwrap_or_default();
    let body = html! {
        table { tbody {
            tr { th { "Status" } td #status { (badge(job.status.as_str())) } }
            tr { th { "Operation" } td { (job.operation_name) } }
            @if let Some(table) = &job.table_id {
                tr { th { "Table" } td { a href={ "/console/projects/" (project_id) "/tables/" (url(table)) } { (table) } } }
            }
            tr { th { "Created" } td { (ago(job.created)) } }
            tr { th { "Duration" } td { (duration(job.start, job.end)) } }
            tr { th { "Run by" } td { (job.creator_token_description) } }
            @if let Some(read) = bytes(&job.metrics, "inBytes") { tr { th { "Read" } td { (size(read)) } } }
            @if let Some(written) = bytes(&job.metrics, "outBytes") { tr { th { "Written" } td { (size(written)) } } }
            @if let Some(rows) = job.results["rowsCount"].as_i64() { tr { th { "Rows" } td { (count(rows)) } } }
            @if let Some(error) = &job.error {
                tr { th { "Error" } td #error .error { (error["message"].as_str().unwrap_or("")) } }
            }
        } }
        @if running { p.muted { "This page reloads until the job ends." } }
        @if !job.results.is_null() { h2 { "Results" } pre.scroll { (results) } }
    };
    let nav = nav(&state, &session, Some((project_id, Section::Jobs))).await?;
    let title = format!("Storage job {}", job.id);
    Ok(if running { nav.reloading(StatusCode::OK, &title, body, 2) } else { nav.render(StatusCode::OK, &title, body) })
}

async fn events_page(State(state): State<AppState>, signed: Signed, Query(query): Query) -> ApiResult<Response> {
    let Signed { session, token, project_id, ctx } = signed;
    let q = query.string("q")?.unwrap_or_default();
    let offset = offset(&query)?;
    let params = events::ListParams {
        q: Some(q.clone()).filter(|q| !q.trim().is_empty()),
        paging: Paging { limit: Some(PAGE + 1), offset: Some(offset) },
        ..events::ListParams::default()
    };
    let (list, error) = match events::list(&ctx, &token.authorize(AnyToken)?, params).await {
        Ok(list) => (list, None),
        Err(error) if error.code.status() == 400 => (Vec::new(), Some(error.message)),
        Err(error) => return problem(error),
    };
    let more = list.len() as i64 > PAGE;
    let base = format!("/console/projects/{project_id}/events");
    let body = html! {
        form.filters method="get" action=(base) role="search" {
            div {
                label for="q" { "Search" }
                input #q type="search" name="q" value=(q) placeholder="event:storage.tableImportDone objectId:in.c-sales.orders token.id:7";
            }
            button type="submit" { "Search" }
        }
        @if let Some(error) = &error { p.error role="alert" { (error) } }
        @if list.is_empty() && error.is_none() {
            p { "No events" @if !q.is_empty() { " match the search" } "." }
        } @else if !list.is_empty() {
            table.cards #events {
                thead { tr { th { "Time" } th { "Event" } th { "Message" } th { "Object" } th { "Token" } } }
                tbody { @for event in list.iter().take(PAGE as usize) {
                    @let data = &event.data;
                    tr class={ "event-" (data.kind) } {
                        td data-label="Time" { (ago(event.created)) }
                        td data-label="Event" { (data.event) }
                        td data-label="Message" { (data.message) }
                        td data-label="Object" { @if let Some(object) = &data.object_id { (object) } }
                        td data-label="Token" { @if let Some(name) = &data.token_name { (name) } }
                    }
                } }
            }
        }
        (pager(&format!("{base}?q={}", url(&q)), offset, more))
    };
    let nav = nav(&state, &session, Some((project_id, Section::Events))).await?;
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    Ok(nav.render(status, "Events", body))
}
