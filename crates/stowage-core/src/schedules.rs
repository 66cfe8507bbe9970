//! Schedules, in Keboola's shape: a configuration of the `keboola.scheduler` component holds
//! `schedule {cronTab, timezone, state}` and `target {componentId, configurationId,
//! configurationRowIds, mode}`; activating it (`POST /scheduler/schedules {configurationId}`, as
//! Keboola's Scheduler API does) makes the schedule from the configuration as it is then, to run
//! as a token each time the expression matches in its time zone.
//!
//! [`fire_due`] runs in one process at a time (the `automation` lease) and, in one transaction per
//! look, submits the runs of the schedules whose time has come and moves each one's next run to
//! the first match after now, so the runs a stopped stack missed make one run, not one each. A
//! schedule whose previous run has not ended skips its turn: it never runs twice at once.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use serde_json::{json, Value};
use stowage_types::auth::{AnyToken, Granted, ReadComponent, TokenRef, WriteComponent};
use stowage_types::{time, Code, Error, Result};

use crate::components::{self, Changes};
use crate::events::{record, Happened};
use crate::records::ScheduleRecord;
use crate::triggers::{authorize_automation, check_covered, check_run_token, runner, submit_run};
use crate::{Core, Ctx};

/// The component whose configurations are schedules.
pub const SCHEDULER: &str = "keboola.scheduler";

fn not_found(id: i64) -> Error {
    Error::new(Code::ScheduleNotFound, format!("Schedule \"{id}\" not found."))
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(Code::ScheduleValidation, message)
}

/// What a scheduler configuration asks for, checked.
#[derive(Debug)]
struct Settings {
    cron: Cron,
    cron_tab: String,
    timezone: Tz,
    enabled: bool,
    target_component_id: String,
    target_configuration_id: String,
    target_row_ids: Vec<String>,
}

/// A field of the configuration as text (numbers are taken in their text form).
fn text_at(configuration: &Value, pointer: &str) -> Result<Option<String>> {
    match configuration.pointer(pointer) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.trim().to_string()).filter(|text| !text.is_empty())),
        Some(Value::Number(number)) => Ok(Some(number.to_string())),
        Some(_) => {
            Err(invalid(format!("Invalid configuration - {}: expected a string.", &pointer[1..].replace('/', "."))))
        }
    }
}

/// Reads and checks a scheduler configuration.
fn settings(configuration: &Value) -> Result<Settings> {
    let required = |pointer: &str| {
        text_at(configuration, pointer)?.ok_or_else(|| {
            invalid(format!("Invalid configuration - {}: this value is required.", &pointer[1..].replace('/', ".")))
        })
    };
    let cron_tab = required("/schedule/cronTab")?;
    let cron = Cron::from_str(&cron_tab)
        .map_err(|error| invalid(format!("Invalid configuration - schedule.cronTab \"{cron_tab}\": {error}.")))?;
    let zone = text_at(configuration, "/schedule/timezone")?.unwrap_or_else(|| "UTC".into());
    let timezone = Tz::from_str(&zone).map_err(|_| {
        invalid(format!(
            "Invalid configuration - schedule.timezone: \"{zone}\" is not a time zone (such as \"Europe/Prague\")."
        ))
    })?;
    let enabled = match text_at(configuration, "/schedule/state")?.as_deref() {
        None | Some("enabled") => true,
        Some("disabled") => false,
        Some(other) => {
            return Err(invalid(format!(
                "Invalid configuration - schedule.state: \"{other}\" is neither \"enabled\" nor \"disabled\"."
            )))
        }
    };
    if let Some(mode) = text_at(configuration, "/target/mode")?.filter(|mode| mode != "run") {
        return Err(invalid(format!("Invalid configuration - target.mode: \"{mode}\" is not supported; use \"run\".")));
    }
    let target_row_ids = match configuration.pointer("/target/configurationRowIds") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(ids)) => ids
            .iter()
            .map(|id| match id {
                Value::String(text) => Ok(text.clone()),
                Value::Number(number) => Ok(number.to_string()),
                _ => Err(invalid("Invalid configuration - target.configurationRowIds: expected a list of row ids.")),
            })
            .collect::<Result<_>>()?,
        Some(_) => {
            return Err(invalid("Invalid configuration - target.configurationRowIds: expected a list of row ids."))
        }
    };
    Ok(Settings {
        cron,
        cron_tab,
        timezone,
        enabled,
        target_component_id: required("/target/componentId")?,
        target_configuration_id: required("/target/configurationId")?,
        target_row_ids,
    })
}

/// The first time after `after` at which `cron` matches in `timezone`.
fn next_run(cron: &Cron, timezone: Tz, after: time::Timestamp) -> Result<time::Timestamp> {
    let local = DateTime::<Utc>::from_timestamp(after, 0).unwrap_or_default().with_timezone(&timezone);
    cron.find_next_occurrence(&local, false)
        .map(|next| next.timestamp())
        .map_err(|error| invalid(format!("The schedule's expression never matches again: {error}.")))
}

/// Makes (or remakes) the schedule of a scheduler configuration from what it holds now, to run as
/// `run_with_token_id` (the caller's own token when `None`).
pub async fn activate(
    ctx: &Ctx,
    grant: &Granted<AnyToken>,
    configuration_id: &str,
    run_with_token_id: Option<i64>,
) -> Result<ScheduleRecord> {
    let caller = grant.token();
    authorize_automation(caller, SCHEDULER, "Schedule")?;
    let view = components::get(ctx, &caller.authorize(ReadComponent(SCHEDULER.into()))?, configuration_id).await?;
    let settings = settings(&view.config.configuration)?;
    authorize_automation(caller, &settings.target_component_id, "Schedule")?;
    if !components::component(&ctx.core, &settings.target_component_id)?.runnable {
        return Err(invalid(format!(
            "Invalid configuration - target.componentId: this stack does not run component \"{}\".",
            settings.target_component_id
        )));
    }
    let now = time::now();
    let mut schedule = ScheduleRecord {
        project_id: caller.project_id,
        configuration_id: view.config.id.clone(),
        configuration_version: view.config.version,
        run_with_token_id: run_with_token_id.unwrap_or(caller.id),
        next_run: next_run(&settings.cron, settings.timezone, now)?,
        cron_tab: settings.cron_tab,
        timezone: settings.timezone.name().to_string(),
        enabled: settings.enabled,
        target_component_id: settings.target_component_id,
        target_configuration_id: settings.target_configuration_id,
        target_row_ids: settings.target_row_ids,
        creator: TokenRef { id: caller.id, description: caller.description.clone() },
        created: now,
        ..ScheduleRecord::default()
    };
    let caller = caller.clone();
    ctx.write(move |w, ctx| {
        let run_with = check_run_token(w, &caller, schedule.run_with_token_id)?;
        check_covered(&caller, &run_with)?;
        let (component, config_id) = (&schedule.target_component_id, &schedule.target_configuration_id);
        let target = w
            .configuration(caller.project_id, component, config_id)?
            .filter(|config| !config.is_deleted)
            .ok_or_else(|| Error::new(Code::ConfigurationNotFound, format!("Configuration {config_id} not found")))?;
        let rows = w.configuration_rows(target.pk)?;
        if let Some(missing) = schedule.target_row_ids.iter().find(|id| !rows.iter().any(|row| &row.id == *id)) {
            return Err(Error::new(Code::RowNotFound, format!("Row {missing} not found")));
        }
        schedule.id = w.put_schedule(&schedule)?;
        let id = schedule.id.to_string();
        let message = format!(
            "Schedule {id} runs configuration \"{config_id}\" of component \"{component}\" at \"{}\" ({}), next at {}",
            schedule.cron_tab,
            schedule.timezone,
            time::format(schedule.next_run)
        );
        let happened = Happened::about("storage.scheduleActivated", "schedule", &id, message).with_params(json!({
            "configurationId": schedule.configuration_id,
            "configurationVersionId": schedule.configuration_version.to_string(),
            "runWithTokenId": schedule.run_with_token_id,
        }));
        record(w, ctx, caller.project_id, Some(&caller), happened)?;
        w.schedule(caller.project_id, schedule.id)?.ok_or_else(|| not_found(schedule.id))
    })
    .await
}

/// Creates a scheduler configuration for `target` and activates it: what the console and
/// `stowage schedule create` do in one step.
pub async fn create(
    ctx: &Ctx,
    grant: &Granted<AnyToken>,
    name: String,
    schedule: Value,
    target: Value,
    run_with_token_id: Option<i64>,
) -> Result<ScheduleRecord> {
    let caller = grant.token();
    authorize_automation(caller, SCHEDULER, "Schedule")?;
    let configuration = json!({ "schedule": schedule, "target": target });
    settings(&configuration)?;
    let write = caller.authorize(WriteComponent(SCHEDULER.into()))?;
    let changes = Changes { name: Some(name), configuration: Some(configuration), ..Changes::default() };
    let config = components::create(ctx, &write, changes).await?;
    match activate(ctx, grant, &config.config.id, run_with_token_id).await {
        Ok(schedule) => Ok(schedule),
        Err(error) => {
            // A schedule that cannot be activated leaves no configuration behind.
            let _ = components::delete(ctx, &write, &config.config.id).await;
            Err(error)
        }
    }
}

/// The schedules of the caller's project.
pub async fn list(ctx: &Ctx, grant: &Granted<AnyToken>) -> Result<Vec<ScheduleRecord>> {
    let project_id = grant.project_id();
    ctx.core.store.read(move |r| r.schedules(project_id)).await
}

/// One schedule of the caller's project.
pub async fn get(ctx: &Ctx, grant: &Granted<AnyToken>, id: i64) -> Result<ScheduleRecord> {
    let project_id = grant.project_id();
    ctx.core.store.read(move |r| r.schedule(project_id, id)).await?.ok_or_else(|| not_found(id))
}

/// Deletes a schedule (its configuration stays, to be activated again).
pub async fn delete(ctx: &Ctx, grant: &Granted<AnyToken>, id: i64) -> Result<()> {
    let caller = grant.token().clone();
    ctx.write(move |w, ctx| {
        let schedule = w.schedule(caller.project_id, id)?.ok_or_else(|| not_found(id))?;
        authorize_automation(&caller, SCHEDULER, "Schedule")?;
        authorize_automation(&caller, &schedule.target_component_id, "Schedule")?;
        w.delete_schedule(caller.project_id, id)?;
        let happened =
            Happened::about("storage.scheduleDeleted", "schedule", &id.to_string(), format!("Deleted schedule {id}"))
                .with_params(json!({ "configurationId": schedule.configuration_id }));
        record(w, ctx, caller.project_id, Some(&caller), happened)
    })
    .await
}

/// Deletes a schedule and moves its configuration to the trash: what the console and `stowage
/// schedule delete` do in one step.
pub async fn remove(ctx: &Ctx, grant: &Granted<AnyToken>, id: i64) -> Result<()> {
    let schedule = get(ctx, grant, id).await?;
    delete(ctx, grant, id).await?;
    let write = grant.token().authorize(WriteComponent(SCHEDULER.into()))?;
    components::delete(ctx, &write, &schedule.configuration_id).await
}

/// Starts the run of every schedule whose time has come and moves each one's next run past now;
/// returns how many runs started.
pub async fn fire_due(core: &Core) -> Result<usize> {
    // Most looks find nothing due: a read answers them without taking the catalog's write turn.
    let now = time::now();
    if core.store.read(move |r| r.due_schedules(now)).await?.is_empty() {
        return Ok(0);
    }
    let ctx = Ctx::internal(core);
    let started = ctx
        .write(move |w, ctx| {
            let now = time::now();
            let mut started = 0;
            for schedule in w.due_schedules(now)? {
                let id = schedule.id.to_string();
                let (component, config_id) = (&schedule.target_component_id, &schedule.target_configuration_id);
                // A stored schedule was checked when it was made; an expression that can no longer
                // match (a year long past) leaves it waiting for good.
                let next = Cron::from_str(&schedule.cron_tab)
                    .ok()
                    .zip(Tz::from_str(&schedule.timezone).ok())
                    .and_then(|(cron, timezone)| next_run(&cron, timezone, now).ok())
                    .unwrap_or(i64::MAX);
                let mut params = json!({ "configurationId": schedule.configuration_id });
                let busy = match schedule.last_job_id {
                    Some(job) if w.job_unfinished(job)? => Some(job),
                    _ => None,
                };
                let outcome = match busy {
                    Some(job) => Err(format!("its previous run (job {job}) has not ended")),
                    None => match w.configuration(schedule.project_id, SCHEDULER, &schedule.configuration_id)? {
                        Some(config) if !config.is_deleted => {
                            runner(w, &ctx.core, schedule.project_id, schedule.run_with_token_id, (component, config_id))?
                        }
                        _ => Err(format!("its configuration \"{}\" was deleted", schedule.configuration_id)),
                    },
                };
                let (token, happened, job) = match outcome {
                    Err(reason) => {
                        let message = format!(
                            "Schedule {id} did not run configuration \"{config_id}\" of component \"{component}\": {reason}."
                        );
                        (None, Happened::about("storage.scheduleSkipped", "schedule", &id, message), None)
                    }
                    Ok(token) => {
                        let rows = &schedule.target_row_ids;
                        let job = submit_run(w, ctx, &token, (component, config_id), rows, ("scheduleId", schedule.id))?;
                        params["jobId"] = json!(job.id.to_string());
                        started += 1;
                        let message = format!(
                            "Schedule {id} ran configuration \"{config_id}\" of component \"{component}\" as job {}.",
                            job.id
                        );
                        (Some(token), Happened::about("storage.scheduleFired", "schedule", &id, message), Some(job.id))
                    }
                };
                w.mark_schedule_run(schedule.id, next, job.map(|job| (now, job)))?;
                record(w, ctx, schedule.project_id, token.as_deref(), happened.with_params(params))?;
            }
            Ok(started)
        })
        .await?;
    if started > 0 {
        core.jobs.wake_workers();
    }
    Ok(started)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_run_is_the_first_match_after_now_in_the_schedules_time_zone() {
        let cron = Cron::from_str("30 2 * * *").unwrap();
        // 2026-01-10 12:00 UTC; Prague keeps winter time then (UTC+1).
        let now = 1_768_046_400;
        assert_eq!(time::format(next_run(&cron, Tz::UTC, now).unwrap()), "2026-01-11T02:30:00+0000");
        let prague = next_run(&cron, Tz::Europe__Prague, now).unwrap();
        assert_eq!(time::format(prague), "2026-01-11T01:30:00+0000");
    }

    #[test]
    fn a_scheduler_configuration_is_read_with_keboolas_defaults_and_checked() {
        let read = settings(&json!({"schedule": {"cronTab": "*/10 * * * *"},
            "target": {"componentId": "keboola.wr-storage", "configurationId": 12}}))
        .unwrap();
        assert_eq!((read.timezone, read.enabled, read.target_configuration_id.as_str()), (Tz::UTC, true, "12"));
        let message = |configuration: Value| settings(&configuration).unwrap_err().message;
        assert_eq!(
            message(json!({"schedule": {"cronTab": "*/10 * * * *"}, "target": {"configurationId": "1"}})),
            "Invalid configuration - target.componentId: this value is required."
        );
        assert!(message(json!({"schedule": {"cronTab": "61 * * * *"}}))
            .starts_with("Invalid configuration - schedule.cronTab \"61 * * * *\":"));
        assert_eq!(
            message(json!({"schedule": {"cronTab": "0 * * * *", "timezone": "Mars/Olympus"}})),
            "Invalid configuration - schedule.timezone: \"Mars/Olympus\" is not a time zone (such as \"Europe/Prague\")."
        );
    }
}
