//! The storage browser: a project's buckets, a bucket's page (its tables, the CSV upload into a new
//! or an existing table, metadata, events, delete after a confirmation that names what goes), a
//! table's page in tabs (overview with column metadata and the primary key form, a data sample with
//! a column filter, events; delete after confirmation), and its download as CSV.
//!
//! The upload is the one form sent by script: it streams the file as the request body so the page
//! can show a progress bar, sends the session's CSRF value in a header, and gets JSON back.

use axum::body::Body as RawBody;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::json;

use std::sync::Arc;
use stowage_core::files::{self, BlobError, PrepareRequest};
use stowage_core::tables::{CreateRequest, ImportRequest};

use stowage_core::buckets::NewBucket;
use stowage_core::console::Session;
use stowage_core::records::MetadataEntry;
use stowage_core::{buckets, events, jobs, tables, Ctx};
use stowage_types::auth::{
    AnyToken, CreateBuckets, ManageBucket, ReadBucket, ReadTable, Token, WriteBucket, WriteTable,
};
use stowage_types::event::Event;
use stowage_types::job::JobStatus;
use stowage_types::names::BucketId;
use stowage_types::{Code, Error, Paging};

use super::{column_list, current, nav, problem, redirect, same, session_token, Signed, SignedForm};
use crate::auth::RequestCtx;
use crate::error::ApiResult;
use crate::input::Query;
use crate::routes::html::{ago, ago_or_never, count, size, url, Section};
use crate::routes::numeric_id;
use crate::{AppState, Table};
use maud::{html, Markup};

pub(super) fn register(t: Table) -> Table {
    t.page(Method::GET, "/console/projects/{id}", project_page)
        .page(Method::POST, "/console/projects/{id}/buckets", create_bucket)
        .page(Method::GET, "/console/projects/{id}/buckets/{bucket}", bucket_page)
        .page(Method::GET, "/console/projects/{id}/buckets/{bucket}/delete", confirm_bucket_delete)
        .page(Method::POST, "/console/projects/{id}/buckets/{bucket}/delete", delete_bucket)
        .page(Method::POST, "/console/projects/{id}/buckets/{bucket}/upload", upload)
        .page(Method::GET, "/console/projects/{id}/tables/{table}", table_page)
        .page(Method::GET, "/console/projects/{id}/tables/{table}/download", download)
        .page(Method::POST, "/console/projects/{id}/tables/{table}/primary-key", set_primary_key)
        .page(Method::GET, "/console/projects/{id}/tables/{table}/delete", confirm_table_delete)
        .page(Method::POST, "/console/projects/{id}/tables/{table}/delete", delete_table)
}

/// The header the upload script sends the session's CSRF value in.
const CSRF_HEADER: &str = "x-csrf-token";

async fn project_page(State(state): State<AppState>, signed: Signed, Query(query): Query) -> ApiResult<Response> {
    let Signed { session, token, project_id, ctx } = signed;
    let search = query.string("q")?.unwrap_or_default();
    project_view(&state, &ctx, &session, &token, project_id, "", &search).await
}

/// A project's page: its buckets by stage with their tables' count, rows, size and last change, a
/// search over buckets and tables (`search`: on the server, and as one types with the script), and
/// a form for a new bucket.
async fn project_view(
    state: &AppState,
    ctx: &Ctx,
    session: &Session,
    token: &Arc<Token>,
    project_id: i64,
    error: &str,
    search: &str,
) -> ApiResult<Response> {
    let grant = token.authorize(AnyToken)?;
    let list = buckets::list(ctx, &grant, false).await?;
    let tables = tables::list(ctx, &grant).await?;
    let base = format!("/console/projects/{project_id}");
    let stages = [("in", "Input buckets"), ("out", "Output buckets")];
    let needle = search.trim().to_lowercase();
    // A bucket is found by its id or the id of one of its tables.
    let found = |bucket: &str| {
        needle.is_empty()
            || bucket.to_lowercase().contains(&needle)
            || tables.iter().any(|t| t.table.bucket_id == bucket && t.table.id.to_lowercase().contains(&needle))
    };
    let shown = list.iter().filter(|view| found(&view.bucket.id)).count();
    let body = html! {
        @if list.is_empty() {
            p { "No buckets yet." }
        } @else {
            form.filters method="get" action=(base) role="search" {
                div {
                    label for="storage-search" { "Search buckets and tables" }
                    input #storage-search name="q" type="search" value=(search) data-filter="[data-search]"
                        placeholder="Name or id";
                }
                button type="submit" { "Search" }
            }
            @if !needle.is_empty() {
                p role="status" { (count(shown as i64)) " of " (count(list.len() as i64)) " buckets match." }
            }
        }
        @for (stage, heading) in stages {
            @let in_stage: Vec<_> = list.iter().filter(|view| view.bucket.stage == stage && found(&view.bucket.id)).collect();
            @if !in_stage.is_empty() {
                h2 { (heading) }
                table.cards {
                    thead { tr {
                        th { "Bucket" } th.number { "Tables" } th.number { "Rows" } th.number { "Size" }
                        th { "Last change" } th { "Description" }
                    } }
                    tbody { @for view in in_stage {
                        @let bucket = &view.bucket;
                        @let own: Vec<_> = tables.iter().filter(|t| t.table.bucket_id == bucket.id).collect();
                        @let search = own.iter().fold(bucket.id.to_lowercase(), |all, t| all + " " + &t.table.id.to_lowercase());
                        @let changed = own.iter().filter_map(|t| t.table.last_change).chain(bucket.last_change).max();
                        tr data-search=(search) {
                            td data-label="Bucket" { a href={ (base) "/buckets/" (url(&bucket.id)) } { (bucket.id) } }
                            td.number data-label="Tables" { (count(own.len() as i64)) }
                            td.number data-label="Rows" { (count(own.iter().map(|t| t.table.rows_count).sum())) }
                            td.number data-label="Size" { (size(own.iter().map(|t| t.table.data_size_bytes).sum())) }
                            td data-label="Last change" { @if let Some(at) = changed { (ago(at)) } @else { span.muted { "never" } } }
                            td data-label="Description" { (bucket.description) }
                        }
                    } }
                }
            }
        }
        @if token.authorize(CreateBuckets).is_ok() {
            h2 { "New bucket" }
            form method="post" action={ (base) "/buckets" } {
                label for="bucket-name" { "Name" } input #bucket-name name="name" required;
                label for="stage" { "Stage" }
                select #stage name="stage" {
                    option value="in" { "in (input data)" } option value="out" { "out (results)" }
                }
                label for="bucket-description" { "Description" } input #bucket-description name="description";
                @if !error.is_empty() { p.error role="alert" { (error) } }
                input type="hidden" name="csrf" value=(session.csrf);
                button type="submit" { "Create bucket" }
            }
        }
    };
    let status = if error.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    let nav = nav(state, session, Some((project_id, Section::Storage))).await?;
    // The header already read the session's projects; the page takes its name from there.
    let name = nav.projects.iter().find(|(id, _)| *id == project_id).map_or("", |(_, name)| name.as_str());
    Ok(nav.render(status, &format!("{name} (project {project_id})"), body))
}

async fn create_bucket(State(state): State<AppState>, SignedForm { signed, body }: SignedForm) -> ApiResult<Response> {
    let Signed { session, token, project_id, ctx } = signed;
    let input = NewBucket {
        name: body.string("name")?.map(|name| name.trim().to_string()),
        stage: body.string("stage")?,
        description: body.string("description")?,
        ..NewBucket::default()
    };
    match async { buckets::create(&ctx, &token.authorize(CreateBuckets)?, input).await }.await {
        Ok(bucket) => Ok(redirect(&format!("/console/projects/{project_id}/buckets/{}", bucket.id))),
        // Refused: the page has no form to show the message next to.
        Err(error) if error.code.status() == 403 => problem(error),
        Err(error) if error.code.status() < 500 => {
            project_view(&state, &ctx, &session, &token, project_id, &error.message, "").await
        }
        Err(error) => Err(error.into()),
    }
}

async fn bucket_page(
    State(state): State<AppState>,
    signed: Signed,
    Path((_, bucket)): Path<(String, String)>,
) -> ApiResult<Response> {
    let Signed { session, token, project_id, ctx } = signed;
    let Some(bucket_id) = BucketId::parse(&bucket) else {
        return problem(buckets::not_found(project_id, &bucket));
    };
    let can_write = token.authorize(WriteBucket(bucket_id.clone())).is_ok();
    let can_delete = token.authorize(ManageBucket(bucket_id.clone())).is_ok();
    let looked_up = async {
        let grant = token.authorize(ReadBucket(bucket_id))?;
        let view = buckets::detail(&ctx, &grant).await?;
        let list = tables::list_in_bucket(&ctx, &grant).await?;
        let events = events::list_bucket(&ctx, &grant, recent()).await?;
        Ok::<_, Error>((view, list, events))
    };
    let (view, list, events) = match looked_up.await {
        Ok(found) => found,
        Err(error) => return problem(error),
    };
    let base = format!("/console/projects/{project_id}");
    let here = format!("{base}/buckets/{}", url(&bucket));
    let b = &view.bucket;
    let body = html! {
        table { tbody {
            tr { th { "Stage" } td { (b.stage) } }
            @if !b.description.is_empty() { tr { th { "Description" } td { (b.description) } } }
            tr { th { "Tables" } td { (count(list.len() as i64)) } }
            tr { th { "Rows" } td { (count(list.iter().map(|t| t.table.rows_count).sum())) } }
            tr { th { "Size" } td { (size(list.iter().map(|t| t.table.data_size_bytes).sum())) } }
            tr { th { "Created" } td { (ago(b.created)) } }
        } }
        h2 { "Tables" }
        @if list.is_empty() {
            p { "No tables yet." }
        } @else {
            table.cards {
                thead { tr { th { "Table" } th.number { "Rows" } th.number { "Size" } th { "Last import" } } }
                tbody { @for view in &list {
                    @let t = &view.table;
                    tr {
                        td { a href={ (base) "/tables/" (url(&t.id)) } { (t.display_name) } }
                        td.number data-label="Rows" { (count(t.rows_count)) }
                        td.number data-label="Size" { (size(t.data_size_bytes)) }
                        td data-label="Last import" { (ago_or_never(t.last_import)) }
                    }
                } }
            }
        }
        @if can_write {
            h2 { "Upload a CSV" }
            form #upload data-url={ (here) "/upload" } data-csrf=(session.csrf) {
                label for="file" { "CSV file (comma-separated, with a header row; may be gzipped)" }
                input #file type="file" accept=".csv,.gz,text/csv" required;
                label for="into" { "Load into" }
                select #into {
                    option value="" { "a new table" }
                    @for view in &list { option value=(view.table.id) { (view.table.name) } }
                }
                div #new-table {
                    label for="new-name" { "Name of the new table" } input #new-name;
                    label for="primary-key" { "Primary key of the new table (columns, separated by commas)" }
                    input #primary-key;
                }
                div #existing-table hidden {
                    label {
                        input #incremental type="checkbox";
                        " Incremental: add the rows (updating rows with the same primary key) instead of replacing the table's rows"
                    }
                }
                progress #upload-progress max="100" value="0" hidden {}
                p #upload-status role="status" {}
                p #upload-error .error role="alert" hidden {}
                button type="submit" { "Upload" }
            }
            noscript { p { "The upload needs JavaScript; the CLI's " code { "stowage table import" } " works without it." } }
        }
        (metadata_table(view.metadata.as_deref().unwrap_or_default()))
        (events_table(&events))
        @if can_delete {
            h2 { "Delete" }
            p { a href={ (here) "/delete" } { "Delete this bucket…" } }
        }
    };
    Ok(nav(&state, &session, Some((project_id, Section::Storage))).await?.render(StatusCode::OK, &bucket, body))
}

/// The last events of a bucket or table shown on its page.
fn recent() -> events::ListParams {
    events::ListParams { paging: Paging::first(20), ..events::ListParams::default() }
}

fn metadata_table(entries: &[MetadataEntry]) -> Markup {
    html! {
        @if !entries.is_empty() {
            h2 { "Metadata" }
            table.cards #metadata {
                thead { tr { th { "Key" } th { "Value" } th { "Provider" } } }
                tbody { @for entry in entries {
                    tr {
                        td data-label="Key" { (entry.key) }
                        td data-label="Value" { (entry.value) }
                        td data-label="Provider" { (entry.provider) }
                    }
                } }
            }
        }
    }
}

fn events_table(list: &[Event]) -> Markup {
    html! {
        h2 { "Events" }
        @if list.is_empty() {
            p { "No events yet." }
        } @else {
            table.cards #events {
                thead { tr { th { "Time" } th { "Event" } th { "Message" } th { "Token" } } }
                tbody { @for event in list {
                    tr {
                        td data-label="Time" { (ago(event.created)) }
                        td data-label="Event" { (event.data.event) }
                        td data-label="Message" { (event.data.message) }
                        td data-label="Token" { @if let Some(name) = &event.data.token_name { (name) } }
                    }
                } }
            }
        }
    }
}

/// `GET .../buckets/{bucket}/delete`: what deleting the bucket takes with it, and the button.
async fn confirm_bucket_delete(
    State(state): State<AppState>,
    signed: Signed,
    Path((_, bucket)): Path<(String, String)>,
) -> ApiResult<Response> {
    let Signed { session, token, project_id, ctx } = signed;
    let Some(bucket_id) = BucketId::parse(&bucket) else {
        return problem(buckets::not_found(project_id, &bucket));
    };
    let looked_up = async {
        token.authorize(ManageBucket(bucket_id.clone()))?;
        tables::list_in_bucket(&ctx, &token.authorize(ReadBucket(bucket_id))?).await
    };
    let list = match looked_up.await {
        Ok(list) => list,
        Err(error) => return problem(error),
    };
    let here = format!("/console/projects/{project_id}/buckets/{}", url(&bucket));
    let body = html! {
        @if list.is_empty() {
            p { "The bucket holds no tables." }
        } @else {
            p { "These tables and their rows are deleted with it:" }
            ul #doomed { @for view in &list {
                li { (view.table.id) " (" (count(view.table.rows_count)) " rows)" }
            } }
        }
        p { "This cannot be undone." }
        form method="post" action={ (here) "/delete" } {
            input type="hidden" name="csrf" value=(session.csrf);
            button type="submit" { "Delete the bucket" }
        }
        p { a href=(here) { "Cancel" } }
    };
    let nav = nav(&state, &session, Some((project_id, Section::Storage))).await?;
    Ok(nav.render(StatusCode::OK, &format!("Delete {bucket}?"), body))
}

async fn delete_bucket(
    Path((_, bucket)): Path<(String, String)>,
    SignedForm { signed, .. }: SignedForm,
) -> ApiResult<Response> {
    let Signed { token, project_id, ctx, .. } = signed;
    let Some(bucket_id) = BucketId::parse(&bucket) else {
        return problem(buckets::not_found(project_id, &bucket));
    };
    let options = buckets::DeleteOptions { force: true, run_async: false };
    let deleted = async { buckets::delete(&ctx, token.authorize(ManageBucket(bucket_id))?, options).await };
    match deleted.await {
        Ok(_) => Ok(redirect(&format!("/console/projects/{project_id}"))),
        Err(error) => problem(error),
    }
}

/// How many rows the table page previews.
const PREVIEW_ROWS: i64 = 100;

/// The tabs of a table's page.
const TABS: [(&str, &str); 3] = [("overview", "Overview"), ("data", "Data sample"), ("events", "Events")];

async fn table_page(
    State(state): State<AppState>,
    signed: Signed,
    Path((_, table)): Path<(String, String)>,
    Query(query): Query,
) -> ApiResult<Response> {
    let Signed { session, token, project_id, ctx } = signed;
    let tab = query.string("tab")?.unwrap_or_default();
    let tab = TABS.iter().find(|(name, _)| *name == tab).map_or("overview", |(name, _)| name);
    let filter_column = query.string("column")?.filter(|c| !c.is_empty());
    let filter_value = query.string("value")?.unwrap_or_default();
    let looked_up = async {
        let table_id = tables::parse_id(project_id, &table)?;
        let can_write = token.authorize(WriteTable(table_id.clone())).is_ok();
        let grant = token.authorize(ReadTable(table_id))?;
        let view = tables::detail(&ctx, &grant).await?;
        let shown = match tab {
            "data" => {
                let selection = tables::Selection {
                    limit: Some(PREVIEW_ROWS),
                    where_column: filter_column.clone(),
                    where_values: filter_column.as_ref().map(|_| vec![filter_value.clone()]).unwrap_or_default(),
                    ..Default::default()
                };
                Shown::Data(tables::preview(&ctx, &grant, selection).await?)
            }
            "events" => Shown::Events(events::list_table(&ctx, &grant, recent()).await?),
            _ => Shown::Overview,
        };
        Ok::<_, Error>((view, shown, can_write))
    };
    let (view, shown, can_write) = match looked_up.await {
        Ok(found) => found,
        Err(error) => return problem(error),
    };
    let t = &view.table;
    let here = format!("/console/projects/{project_id}/tables/{}", url(&t.id));
    let body = html! {
        p {
            a href={ "/console/projects/" (project_id) "/buckets/" (url(&view.bucket.id)) } { (view.bucket.id) }
            " · " a #download href={ (here) "/download" } download { "Download as CSV" }
        }
        nav.tabs aria-label="Table" {
            @for (name, label) in TABS {
                @if name == tab {
                    a href={ (here) "?tab=" (name) } aria-current="page" { (label) }
                } @else {
                    a href={ (here) "?tab=" (name) } { (label) }
                }
            }
        }
        @match &shown {
            Shown::Overview => {
                table { tbody {
                    tr { th { "Id" } td { (t.id) } }
                    tr { th { "Columns" } td { (columns_shown(t)) } }
                    tr { th { "Primary key" } td { @if t.primary_key.is_empty() { "none" } @else { (t.primary_key.join(", ")) } } }
                    tr { th { "Rows" } td { (count(t.rows_count)) } }
                    tr { th { "Size" } td { (size(t.data_size_bytes)) } }
                    tr { th { "Created" } td { (ago(t.created)) } }
                    tr { th { "Last import" } td { (ago_or_never(t.last_import)) } }
                    tr { th { "Last change" } td { (ago_or_never(t.last_change)) } }
                } }
                @if view.column_metadata.values().any(|entries| !entries.is_empty()) {
                    h2 { "Column metadata" }
                    table.cards #column-metadata {
                        thead { tr { th { "Column" } th { "Key" } th { "Value" } th { "Provider" } } }
                        tbody { @for (column, entries) in &view.column_metadata { @for entry in entries {
                            tr {
                                td data-label="Column" { (column) }
                                td data-label="Key" { (entry.key) }
                                td data-label="Value" { (entry.value) }
                                td data-label="Provider" { (entry.provider) }
                            }
                        } } }
                    }
                }
                (metadata_table(&view.metadata))
                @if can_write {
                    h2 { "Primary key" }
                    form method="post" action={ (here) "/primary-key" } {
                        label for="key-columns" { "Columns of the key, separated by commas (empty removes the key)" }
                        input #key-columns name="columns" value=(t.primary_key.join(", "));
                        input type="hidden" name="csrf" value=(session.csrf);
                        button type="submit" { "Set the primary key" }
                    }
                    h2 { "Delete" }
                    p { a href={ (here) "/delete" } { "Delete this table…" } }
                }
            }
            Shown::Data((columns, rows)) => {
                form.filters method="get" action=(here) {
                    input type="hidden" name="tab" value="data";
                    div {
                        label for="filter-column" { "Column" }
                        select #filter-column name="column" {
                            option value="" { "any" }
                            @for column in &t.columns {
                                option value=(column) selected[filter_column.as_deref() == Some(column.as_str())] { (column) }
                            }
                        }
                    }
                    div { label for="filter-value" { "equals" } input #filter-value name="value" value=(filter_value); }
                    button type="submit" { "Filter" }
                }
                @if filter_column.is_none() && t.rows_count > rows.len() as i64 {
                    p { "The first " (count(rows.len() as i64)) " of " (count(t.rows_count)) " rows." }
                } @else if filter_column.is_some() {
                    p { (count(rows.len() as i64)) " rows match" @if rows.len() as i64 == PREVIEW_ROWS { " (the first " (PREVIEW_ROWS) " shown)" } "." }
                }
                div.scroll { table #preview {
                    thead { tr { @for column in columns { th { (column) } } } }
                    tbody { @for row in rows { tr { @for value in row { td { (value) } } } } }
                } }
            }
            Shown::Events(list) => { (events_table(list)) }
        }
    };
    let nav = nav(&state, &session, Some((project_id, Section::Storage))).await?;
    Ok(nav.render(StatusCode::OK, &t.display_name, body))
}

/// What a table's page shows below its tabs.
enum Shown {
    Overview,
    Data((Vec<String>, Vec<Vec<String>>)),
    Events(Vec<Event>),
}

/// The table's columns; a typed table's with their type, length and whether they may be empty.
fn columns_shown(table: &stowage_core::records::TableRecord) -> Markup {
    html! {
        @match &table.definition {
            None => (table.columns.join(", ")),
            Some(definition) => @for (i, column) in definition.iter().enumerate() {
                @if i > 0 { ", " }
                (column.name) " "
                span.muted {
                    (column.basetype)
                    @if let Some(length) = &column.length { "(" (length) ")" }
                    @if !column.nullable { " not null" }
                }
            },
        }
    }
}

async fn set_primary_key(
    Path((_, table)): Path<(String, String)>,
    SignedForm { signed, body }: SignedForm,
) -> ApiResult<Response> {
    let Signed { token, project_id, ctx, .. } = signed;
    let columns = column_list(&body.string("columns")?.unwrap_or_default());
    let changed = async {
        let grant = token.authorize(WriteTable(tables::parse_id(project_id, &table)?))?;
        let columns = Some(columns).filter(|columns| !columns.is_empty());
        tables::change_primary_key(&ctx, grant, columns).await
    };
    match changed.await {
        // The job's page reloads until the key is set (or says why it could not be).
        Ok(job) => Ok(redirect(&format!("/console/projects/{project_id}/storage-jobs/{}", job.id))),
        Err(error) => problem(error),
    }
}

/// `GET .../tables/{table}/delete`: what deleting the table takes, and the button.
async fn confirm_table_delete(
    State(state): State<AppState>,
    signed: Signed,
    Path((_, table)): Path<(String, String)>,
) -> ApiResult<Response> {
    let Signed { session, token, project_id, ctx } = signed;
    let looked_up = async {
        let table_id = tables::parse_id(project_id, &table)?;
        token.authorize(WriteTable(table_id.clone()))?;
        tables::detail(&ctx, &token.authorize(ReadTable(table_id))?).await
    };
    let view = match looked_up.await {
        Ok(view) => view,
        Err(error) => return problem(error),
    };
    let here = format!("/console/projects/{project_id}/tables/{}", url(&view.table.id));
    let body = html! {
        p #doomed { "The table " (view.table.id) " and its " (count(view.table.rows_count)) " rows are deleted. This cannot be undone." }
        form method="post" action={ (here) "/delete" } {
            input type="hidden" name="csrf" value=(session.csrf);
            button type="submit" { "Delete the table" }
        }
        p { a href=(here) { "Cancel" } }
    };
    let nav = nav(&state, &session, Some((project_id, Section::Storage))).await?;
    Ok(nav.render(StatusCode::OK, &format!("Delete {}?", view.table.id), body))
}

async fn delete_table(
    Path((_, table)): Path<(String, String)>,
    SignedForm { signed, .. }: SignedForm,
) -> ApiResult<Response> {
    let Signed { token, project_id, ctx, .. } = signed;
    let deleted = async {
        let table_id = tables::parse_id(project_id, &table)?;
        tables::delete(&ctx, token.authorize(WriteTable(table_id.clone()))?, false).await?;
        Ok::<_, Error>(table_id.bucket().clone())
    };
    match deleted.await {
        Ok(bucket) => Ok(redirect(&format!("/console/projects/{project_id}/buckets/{}", url(bucket.as_str())))),
        Err(error) => problem(error),
    }
}

/// Streams the request body into a new file, then creates the table from it or loads it into an
/// existing table, and waits for that job: `{"location": <the table's page>}` or an error.
async fn upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestCtx(ctx): RequestCtx,
    Path((id, bucket)): Path<(String, String)>,
    Query(query): Query,
    body: RawBody,
) -> ApiResult<Response> {
    let Some((_, session)) = current(&state, &headers).await? else {
        return Err(Error::new(Code::SignInFailed, "Sign in again: the console session ended.").into());
    };
    let project_id = numeric_id(&id)?;
    let Some(token) = session_token(&state, &session, project_id).await? else {
        return Err(Error::new(Code::AccessDenied, "You cannot open this project.").into());
    };
    let given = headers.get(CSRF_HEADER).and_then(|value| value.to_str().ok()).unwrap_or("");
    if given.is_empty() || !same(&session.csrf, given) {
        return Err(Error::validation("The form expired: reload the page and upload again.").into());
    }
    let bucket_id = buckets::parse_id(project_id, &bucket)?;
    let grant = token.authorize(WriteBucket(bucket_id))?;
    let existing = query.string("table")?.filter(|table| !table.is_empty());
    let name = match &existing {
        Some(table) => {
            let table_id = tables::parse_id(project_id, table)?;
            if table_id.bucket().as_str() != bucket {
                return Err(Error::validation(format!("The table {table} is not in the bucket {bucket}.")).into());
            }
            table_id.name().to_string()
        }
        None => {
            let name = query.string("name")?.unwrap_or_default().trim().to_string();
            tables::validate_table_name(&name)
                .map_err(|error| Error::validation(format!("Name: {}", error.message)))?;
            name
        }
    };
    let prepare = PrepareRequest { name: Some(format!("{name}.csv")), ..PrepareRequest::default() };
    let (file, _) = files::prepare(&ctx, &token.authorize(AnyToken)?, prepare).await?;
    let stream = body.into_data_stream().map(|chunk| chunk.map_err(|error| error.to_string()));
    let file = match files::put_blob(&state.core, &file, stream).await {
        Ok(file) => file,
        Err(BlobError::Internal(error)) => return Err(error.into()),
        Err(BlobError::Invalid(_, message)) => return Err(Error::validation(message).into()),
        Err(_) => return Err(Error::validation("The upload did not arrive whole; try again.").into()),
    };
    let job = match existing {
        Some(table_id) => {
            let request = ImportRequest {
                data_file_id: Some(file.id),
                incremental: query.bool("incremental")?.unwrap_or(false),
                ..ImportRequest::default()
            };
            let grant = token.authorize(WriteTable(tables::parse_id(project_id, &table_id)?))?;
            tables::import(&ctx, grant, request).await?
        }
        None => {
            let primary_key = column_list(&query.string("primaryKey")?.unwrap_or_default());
            let request = CreateRequest {
                name: Some(name),
                data_file_id: Some(file.id),
                primary_key,
                ..CreateRequest::default()
            };
            tables::create(&ctx, grant, request).await?
        }
    };
    let job = jobs::wait(&state.core, job).await?;
    if job.status != JobStatus::Success {
        let error = job.error.unwrap_or_default();
        let message = error["message"].as_str().unwrap_or("The import failed.").to_string();
        // The file's fault is the person's to fix; the stack's own failure stays a 5xx.
        return Err(
            if error["code"] == "internal" { Error::internal(message) } else { Error::validation(message) }.into()
        );
    }
    let table_id = job.table_id.unwrap_or_default();
    let location = format!("/console/projects/{project_id}/tables/{table_id}");
    Ok((StatusCode::OK, axum::Json(json!({ "location": location, "table": table_id }))).into_response())
}

/// The whole table as CSV with a header, streamed.
async fn download(signed: Signed, Path((_, table)): Path<(String, String)>) -> ApiResult<Response> {
    let Signed { token, project_id, ctx, .. } = signed;
    let streamed = async {
        tables::stream_csv(&ctx, &token.authorize(ReadTable(tables::parse_id(project_id, &table)?))?, None, false).await
    };
    let (record, body) = match streamed.await {
        Ok(streamed) => streamed,
        Err(error) => return problem(error),
    };
    let filename = format!(
        "{}.csv",
        record.id.replace(|c: char| !c.is_ascii_alphanumeric() && c != '.' && c != '-' && c != '_', "_")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        RawBody::from_stream(body),
    )
        .into_response())
}
