//! A component job's page in the console: its status, its log, termination.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use stowage_core::{components, queue};
use stowage_types::auth::{ReadComponent, WriteComponent};
use stowage_types::time::format;

use super::job_tables;

use crate::error::ApiResult;
use crate::routes::console::{nav, problem, redirect, Signed, SignedForm};
use crate::routes::html::{ago, badge, duration, url, Section};
use crate::routes::numeric_id;
use crate::AppState;

pub(super) async fn job_page(
    State(state): State<AppState>,
    signed: Signed,
    Path((_, job)): Path<(String, String)>,
) -> ApiResult<Response> {
    let Signed { session, token, project_id, ctx } = signed;
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

pub(super) async fn terminate_job(
    Path((_, job)): Path<(String, String)>,
    SignedForm { signed, .. }: SignedForm,
) -> ApiResult<Response> {
    let Signed { token, project_id, ctx, .. } = signed;
    let job = numeric_id(&job)?;
    match queue::terminate(&ctx, &token, job).await {
        Ok(_) => Ok(redirect(&format!("/console/projects/{project_id}/jobs/{job}"))),
        Err(error) => problem(error),
    }
}
