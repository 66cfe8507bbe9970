//! The storage browser: a project's buckets, a bucket's tables, a table's detail and preview.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;

use stowage_core::{buckets, tables, Ctx};
use stowage_types::auth::ReadBucket;
use stowage_types::names::BucketId;
use stowage_types::time::format;

use super::{acting, problem};
use crate::error::ApiResult;
use crate::routes::html::{escape, page};
use crate::{AppState, Table};

pub(super) fn register(t: Table) -> Table {
    t.add(Method::GET, "/console/projects/{id}/buckets/{bucket}", bucket_page).add(
        Method::GET,
        "/console/projects/{id}/tables/{table}",
        table_page,
    )
}

async fn bucket_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, bucket)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (_, token, project_id) = match acting(&state, &headers, &id).await? {
        Ok(acting) => acting,
        Err(response) => return Ok(response),
    };
    let ctx = Ctx::internal(&state.core);
    let Some(bucket_id) = BucketId::parse(&bucket) else {
        return problem(buckets::not_found(project_id, &bucket));
    };
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
                "<tr><td><a href=\"/console/projects/{project_id}/tables/{id}\">{name}</a></td><td data-label=\"Rows\">{}</td>\
                 <td data-label=\"Size\">{} B</td><td data-label=\"Last import\">{}</td></tr>",
                t.rows_count,
                t.data_size_bytes,
                t.last_import.map(format).unwrap_or_else(|| "never".into()),
                id = escape(&t.id),
                name = escape(&t.display_name),
            )
        })
        .collect();
    let body = format!(
        "<p><a href=\"/console/projects/{project_id}\">Project</a></p>{}",
        if rows.is_empty() {
            "<p>No tables yet.</p>".to_string()
        } else {
            format!(
                "<table class=\"cards\"><thead><tr><th>Table</th><th>Rows</th><th>Size</th><th>Last import</th></tr></thead>\
                 <tbody>{rows}</tbody></table>"
            )
        }
    );
    Ok(page(StatusCode::OK, &bucket, &body))
}

/// How many rows the table page previews.
const PREVIEW_ROWS: i64 = 100;

async fn table_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, table)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (_, token, project_id) = match acting(&state, &headers, &id).await? {
        Ok(acting) => acting,
        Err(response) => return Ok(response),
    };
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
        format!("<p>The first {} of {} rows.</p>", rows.len(), t.rows_count)
    } else {
        String::new()
    };
    let body = format!(
        "<p><a href=\"/console/projects/{project_id}/buckets/{bucket}\">{bucket}</a></p><table><tbody>\
         <tr><th>Id</th><td>{id}</td></tr><tr><th>Columns</th><td>{}</td></tr><tr><th>Primary key</th><td>{}</td></tr>\
         <tr><th>Rows</th><td>{}</td></tr><tr><th>Last import</th><td>{}</td></tr></tbody></table>\
         <h2>Data preview</h2>{shown}<div style=\"overflow-x:auto\"><table id=\"preview\"><thead><tr>{head}</tr></thead><tbody>{body_rows}</tbody></table></div>",
        escape(&t.columns.join(", ")),
        if t.primary_key.is_empty() { "none".to_string() } else { escape(&t.primary_key.join(", ")) },
        t.rows_count,
        t.last_import.map(format).unwrap_or_else(|| "never".into()),
        bucket = escape(&view.bucket.id),
        id = escape(&t.id),
    );
    Ok(page(StatusCode::OK, &t.display_name, &body))
}
