//! The storage browser: a project's buckets, a bucket's tables (with the CSV upload into a new or
//! an existing table), a table's detail with a preview, and its download as CSV.
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
use stowage_core::tokens as token_ops;
use stowage_core::{buckets, jobs, tables, Ctx};
use stowage_types::auth::{AnyToken, CreateBuckets, ReadBucket, Token, WriteBucket};
use stowage_types::job::JobStatus;
use stowage_types::names::BucketId;
use stowage_types::{Code, Error};

use super::{acting, acting_form, column_list, current, nav, problem, redirect, same, session_token};
use crate::error::ApiResult;
use crate::input::{Body, Query};
use crate::routes::html::{ago, count, escape, size, url, Section};
use crate::routes::numeric_id;
use crate::{AppState, Table};
use maud::html;

pub(super) fn register(t: Table) -> Table {
    t.add(Method::GET, "/console/projects/{id}", project_page)
        .add(Method::POST, "/console/projects/{id}/buckets", create_bucket)
        .add(Method::GET, "/console/projects/{id}/buckets/{bucket}", bucket_page)
        .add(Method::POST, "/console/projects/{id}/buckets/{bucket}/upload", upload)
        .add(Method::GET, "/console/projects/{id}/tables/{table}", table_page)
        .add(Method::GET, "/console/projects/{id}/tables/{table}/download", download)
}

/// The header the upload script sends the session's CSRF value in.
const CSRF_HEADER: &str = "x-csrf-token";

async fn project_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (session, token, project_id) = or_answer!(acting(&state, &headers, &id).await?);
    project_view(&state, &session, &token, project_id, "").await
}

/// A project's page: its buckets by stage with their tables' count, rows, size and last change, a
/// search over buckets and tables, and a form for a new bucket.
async fn project_view(
    state: &AppState,
    session: &Session,
    token: &Arc<Token>,
    project_id: i64,
    error: &str,
) -> ApiResult<Response> {
    let ctx = Ctx::internal(&state.core);
    let grant = token.authorize(AnyToken)?;
    let list = buckets::list(&ctx, &grant, false).await?;
    let tables = tables::list(&ctx, &grant).await?;
    let project = token_ops::verify(&ctx, &grant).await?.project;
    let base = format!("/console/projects/{project_id}");
    let stages = [("in", "Input buckets"), ("out", "Output buckets")];
    let body = html! {
        @if list.is_empty() {
            p { "No buckets yet." }
        } @else {
            label for="storage-search" { "Search buckets and tables" }
            input #storage-search type="search" data-filter="[data-search]" placeholder="Name or id";
        }
        @for (stage, heading) in stages {
            @let in_stage: Vec<_> = list.iter().filter(|view| view.bucket.stage == stage).collect();
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
    Ok(nav.render(status, &format!("{} (project {project_id})", project.name), body))
}

async fn create_bucket(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Response> {
    let (session, token, project_id) = or_answer!(acting_form(&state, &headers, &id, &body).await?);
    let ctx = Ctx::internal(&state.core);
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
            project_view(&state, &session, &token, project_id, &error.message).await
        }
        Err(error) => Err(error.into()),
    }
}

async fn bucket_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, bucket)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (session, token, project_id) = or_answer!(acting(&state, &headers, &id).await?);
    let ctx = Ctx::internal(&state.core);
    let Some(bucket_id) = BucketId::parse(&bucket) else {
        return problem(buckets::not_found(project_id, &bucket));
    };
    let can_write = token.authorize(WriteBucket(bucket_id.clone())).is_ok();
    let listed = async { tables::list_in_bucket(&ctx, &token.authorize(ReadBucket(bucket_id))?).await }.await;
    let list = match listed {
        Ok(list) => list,
        Err(error) => return problem(error),
    };
    let rows: String = list
        .iter()
        .map(|view| {
            let t = &view.table;
            format!(
                "<tr><td><a href=\"/console/projects/{project_id}/tables/{id}\">{name}</a></td><td class=\"number\" data-label=\"Rows\">{}</td>\
                 <td class=\"number\" data-label=\"Size\">{}</td><td data-label=\"Last import\">{}</td></tr>",
                count(t.rows_count),
                size(t.data_size_bytes),
                t.last_import.map(|at| ago(at).into_string()).unwrap_or_else(|| "never".into()),
                id = escape(&t.id),
                name = escape(&t.display_name),
            )
        })
        .collect();
    let upload = if can_write {
        let existing: String = list
            .iter()
            .map(|view| format!("<option value=\"{0}\">{1}</option>", escape(&view.table.id), escape(&view.table.name)))
            .collect();
        format!(
            "<h2>Upload a CSV</h2><form id=\"upload\" data-url=\"/console/projects/{project_id}/buckets/{bucket}/upload\" data-csrf=\"{csrf}\">\
             <label for=\"file\">CSV file (comma-separated, with a header row; may be gzipped)</label>\
             <input id=\"file\" type=\"file\" accept=\".csv,.gz,text/csv\" required>\
             <label for=\"into\">Load into</label><select id=\"into\">\
             <option value=\"\">a new table</option>{existing}</select>\
             <div id=\"new-table\"><label for=\"new-name\">Name of the new table</label><input id=\"new-name\">\
             <label for=\"primary-key\">Primary key of the new table (columns, separated by commas)</label><input id=\"primary-key\"></div>\
             <div id=\"existing-table\" hidden><label><input type=\"checkbox\" id=\"incremental\"> Incremental: add the rows \
             (updating rows with the same primary key) instead of replacing the table's rows</label></div>\
             <progress id=\"upload-progress\" max=\"100\" value=\"0\" hidden></progress><p id=\"upload-status\" role=\"status\"></p>\
             <p id=\"upload-error\" class=\"error\" role=\"alert\" hidden></p><button type=\"submit\">Upload</button></form>\
             <noscript><p>The upload needs JavaScript; the CLI's <code>stowage table import</code> works without it.</p></noscript>",
            bucket = escape(&bucket),
            csrf = escape(&session.csrf),
        )
    } else {
        String::new()
    };
    let body = format!(
        "<p><a href=\"/console/projects/{project_id}\">Project</a></p>{}{upload}",
        if rows.is_empty() {
            "<p>No tables yet.</p>".to_string()
        } else {
            format!(
                "<table class=\"cards\"><thead><tr><th>Table</th><th class=\"number\">Rows</th><th class=\"number\">Size</th><th>Last import</th></tr></thead>\
                 <tbody>{rows}</tbody></table>"
            )
        }
    );
    Ok(nav(&state, &session, Some((project_id, Section::Storage))).await?.page(StatusCode::OK, &bucket, &body))
}

/// How many rows the table page previews.
const PREVIEW_ROWS: i64 = 100;

async fn table_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, table)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (session, token, project_id) = or_answer!(acting(&state, &headers, &id).await?);
    let ctx = Ctx::internal(&state.core);
    let looked_up = async {
        let (bucket_id, _) = tables::parse_id(project_id, &table)?;
        let grant = token.authorize(ReadBucket(bucket_id))?;
        let view = tables::detail(&ctx, &grant, &table).await?;
        let selection = tables::Selection { limit: Some(PREVIEW_ROWS), ..Default::default() };
        let (columns, rows) = tables::preview(&ctx, &grant, &table, selection).await?;
        Ok::<_, stowage_types::Error>((view, columns, rows))
    };
    let (view, columns, rows) = match looked_up.await {
        Ok(found) => found,
        Err(error) => return problem(error),
    };
    let t = &view.table;
    let head: String = columns.iter().map(|c| format!("<th>{}</th>", escape(c))).collect();
    let body_rows: String = rows
        .iter()
        .map(|row| format!("<tr>{}</tr>", row.iter().map(|v| format!("<td>{}</td>", escape(v))).collect::<String>()))
        .collect();
    let shown = if t.rows_count > rows.len() as i64 {
        format!("<p>The first {} of {} rows.</p>", count(rows.len() as i64), count(t.rows_count))
    } else {
        String::new()
    };
    let body = format!(
        "<p><a href=\"/console/projects/{project_id}/buckets/{bucket}\">{bucket}</a></p><table><tbody>\
         <tr><th>Id</th><td>{id}</td></tr><tr><th>Columns</th><td>{}</td></tr><tr><th>Primary key</th><td>{}</td></tr>\
         <tr><th>Rows</th><td>{}</td></tr><tr><th>Size</th><td>{}</td></tr><tr><th>Created</th><td>{}</td></tr>\
         <tr><th>Last import</th><td>{}</td></tr><tr><th>Last change</th><td>{}</td></tr></tbody></table>\
         <p><a id=\"download\" href=\"/console/projects/{project_id}/tables/{id}/download\" download>Download as CSV</a></p>\
         <h2>Data preview</h2>{shown}<div class=\"scroll\"><table id=\"preview\"><thead><tr>{head}</tr></thead><tbody>{body_rows}</tbody></table></div>",
        columns_shown(t),
        if t.primary_key.is_empty() { "none".to_string() } else { escape(&t.primary_key.join(", ")) },
        count(t.rows_count),
        size(t.data_size_bytes),
        ago(t.created).into_string(),
        t.last_import.map(|at| ago(at).into_string()).unwrap_or_else(|| "never".into()),
        t.last_change.map(|at| ago(at).into_string()).unwrap_or_else(|| "never".into()),
        bucket = escape(&view.bucket.id),
        id = escape(&t.id),
    );
    let nav = nav(&state, &session, Some((project_id, Section::Storage))).await?;
    Ok(nav.page(StatusCode::OK, &t.display_name, &body))
}

/// A table's columns; a typed table's with their types (`amount NUMERIC(10,2) not null`).
fn columns_shown(table: &stowage_core::records::TableRecord) -> String {
    let Some(definition) = &table.definition else { return escape(&table.columns.join(", ")) };
    let typed: Vec<String> = definition
        .iter()
        .map(|column| {
            let length = column.length.as_deref().map(|l| format!("({l})")).unwrap_or_default();
            let required = if column.nullable { "" } else { " not null" };
            format!("{} <span class=\"muted\">{}{length}{required}</span>", escape(&column.name), column.basetype)
        })
        .collect();
    typed.join(", ")
}

/// Streams the request body into a new file, then creates the table from it or loads it into an
/// existing table, and waits for that job: `{"location": <the table's page>}` or an error.
async fn upload(
    State(state): State<AppState>,
    headers: HeaderMap,
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
    let ctx = Ctx::internal(&state.core);
    let bucket_id = buckets::parse_id(project_id, &bucket)?;
    let grant = token.authorize(WriteBucket(bucket_id))?;
    let existing = query.string("table")?.filter(|table| !table.is_empty());
    let name = match &existing {
        Some(table) => {
            let (table_bucket, name) = tables::parse_id(project_id, table)?;
            if table_bucket.to_string() != bucket {
                return Err(Error::validation(format!("The table {table} is not in the bucket {bucket}.")).into());
            }
            name
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
            tables::import(&ctx, grant, table_id, request).await?
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
async fn download(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, table)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (_, token, project_id) = or_answer!(acting(&state, &headers, &id).await?);
    let ctx = Ctx::internal(&state.core);
    let streamed = async {
        let (bucket_id, _) = tables::parse_id(project_id, &table)?;
        tables::stream_csv(&ctx, &token.authorize(ReadBucket(bucket_id))?, &table, None, false).await
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
