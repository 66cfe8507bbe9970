//! A configuration's triggers and schedules in the console.

use axum::extract::{Path, State};
use axum::response::Response;
use maud::{html, Markup};
use serde_json::json;
use stowage_core::components::ConfigView;
use stowage_core::{schedules, tokens, triggers, Ctx};
use stowage_types::auth::AnyToken;
use stowage_types::time::format;
use stowage_types::{Code, Error};

use super::{config_view, place, str_at, Feedback, Kind, Place};
use crate::error::ApiResult;
use crate::routes::console::{problem, redirect, user_message, SignedForm};
use crate::routes::html::{ago, form_error};
use crate::AppState;

/// The configuration's triggers, with a form to add one: by default on the tables the writer's
/// rows read, run as a token the acting token may pick (one without expiry).
pub(super) async fn triggers_section(ctx: &Ctx, place: &Place, view: &ConfigView, error: &str) -> ApiResult<Markup> {
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

pub(super) async fn add_trigger(
    State(state): State<AppState>,
    Path((_, component, config)): Path<(String, String, String)>,
    SignedForm { signed, body }: SignedForm,
) -> ApiResult<Response> {
    let place = or_answer!(place(signed, &component)?);
    let ctx = place.ctx.clone();
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

pub(super) async fn delete_trigger(
    State(state): State<AppState>,
    Path((_, component, config, trigger)): Path<(String, String, String, String)>,
    SignedForm { signed, .. }: SignedForm,
) -> ApiResult<Response> {
    let place = or_answer!(place(signed, &component)?);
    let ctx = place.ctx.clone();
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
pub(super) async fn schedules_section(ctx: &Ctx, place: &Place, view: &ConfigView, error: &str) -> ApiResult<Markup> {
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

pub(super) async fn add_schedule(
    State(state): State<AppState>,
    Path((_, component, config)): Path<(String, String, String)>,
    SignedForm { signed, body }: SignedForm,
) -> ApiResult<Response> {
    let place = or_answer!(place(signed, &component)?);
    let ctx = place.ctx.clone();
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

pub(super) async fn delete_schedule(
    State(state): State<AppState>,
    Path((_, component, config, schedule)): Path<(String, String, String, String)>,
    SignedForm { signed, .. }: SignedForm,
) -> ApiResult<Response> {
    let place = or_answer!(place(signed, &component)?);
    let ctx = place.ctx.clone();
    let Ok(schedule_id) = schedule.parse::<i64>() else {
        return problem(Error::new(Code::ScheduleNotFound, format!("Schedule \"{schedule}\" not found.")));
    };
    let removed = schedules::remove(&ctx, &place.token.authorize(AnyToken)?, schedule_id).await;
    after_automation(&state, &place, &config, removed, "schedules", Feedback::Schedules).await
}

// ---------------------------------------------------------------------------------------------
// A job
