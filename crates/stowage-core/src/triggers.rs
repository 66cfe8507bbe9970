//! Triggers (`/v2/storage/triggers`): run a configuration, as a chosen token, once every watched
//! table has been imported to since the last run and the cool-down has passed.
//!
//! A trigger names any component and configuration, as in Keboola; whether the configuration can
//! run is found out when the trigger fires. [`fire_due`] is run by one process at a time (the
//! server's `automation` lease): in one transaction it submits the run as the trigger's token,
//! records the firing as an event of that token, and moves the trigger's last run, so a trigger
//! fires once for a set of imports whatever crashes. A run that cannot start (the configuration
//! deleted, the token no longer allowed) is recorded as a warning event instead.

use std::sync::Arc;

use serde_json::json;
use stowage_store::Writer;
use stowage_types::auth::{AnyToken, Granted, ReadTable, Role, Token, TokenRef, WriteComponent};
use stowage_types::job::Job;
use stowage_types::{time, Code, Error, Result};

use crate::events::{record, Happened};
use crate::jobs;
use crate::queue::ComponentRun;
use crate::records::{TriggerRecord, TriggerTable};
use crate::{components, tables, Core, Ctx};

/// What a create or an update asks for; `None` keeps the current value (update) or is missing
/// (create).
#[derive(Debug, Default)]
pub struct Changes {
    pub run_with_token_id: Option<i64>,
    pub component: Option<String>,
    pub configuration_id: Option<String>,
    pub cool_down_minutes: Option<i64>,
    pub table_ids: Option<Vec<String>>,
}

fn not_found(id: i64) -> Error {
    Error::new(Code::TriggerNotFound, format!("Trigger \"{id}\" not found."))
}

/// Changing automation (`what`: "Trigger", "Schedule") of `component`: what changing its
/// configurations takes, with Keboola's words.
pub(crate) fn authorize_automation(token: &Arc<Token>, component: &str, what: &str) -> Result<()> {
    if token.role() == Some(Role::ReadOnly) {
        return Err(Error::new(
            Code::AccessDenied,
            format!("{what} manipulation is restricted for your user role \"readOnly\"."),
        ));
    }
    token
        .authorize(WriteComponent(component.to_string()))
        .map(drop)
        .map_err(|_| Error::new(Code::AccessDenied, "Your token does not have sufficient privilege."))
}

/// The triggers of the caller's project, optionally of one component and configuration.
pub async fn list(
    ctx: &Ctx,
    grant: &Granted<AnyToken>,
    component: Option<String>,
    configuration_id: Option<String>,
) -> Result<Vec<TriggerRecord>> {
    let project_id = grant.project_id();
    let all = ctx.core.store.read(move |r| r.triggers(project_id)).await?;
    Ok(all
        .into_iter()
        .filter(|trigger| visible(grant.token(), trigger))
        .filter(|trigger| component.as_ref().is_none_or(|component| &trigger.component_id == component))
        .filter(|trigger| configuration_id.as_ref().is_none_or(|id| &trigger.configuration_id == id))
        .collect())
}

/// Whether `token` may see `trigger`: it names the tables it watches, so a token sees only the
/// triggers whose every table it can read (one that cannot read them does not learn they exist).
fn visible(token: &Token, trigger: &TriggerRecord) -> bool {
    trigger.tables.iter().all(|table| {
        let bucket = table.table_id.rsplit_once('.').map_or("", |(bucket, _)| bucket);
        token.bucket_access(bucket).is_some()
    })
}

/// One trigger of the caller's project, if the caller may see it ([`visible`]).
pub async fn get(ctx: &Ctx, grant: &Granted<AnyToken>, id: i64) -> Result<TriggerRecord> {
    let project_id = grant.project_id();
    let trigger = ctx.core.store.read(move |r| r.trigger(project_id, id)).await?;
    trigger.filter(|trigger| visible(grant.token(), trigger)).ok_or_else(|| not_found(id))
}

/// Checks a trigger as it would be stored: every field there, the token one it may run as, the
/// tables ones the caller reads. Fills in the tables' state now.
fn check(w: &Writer<'_>, caller: &Arc<Token>, trigger: &mut TriggerRecord) -> Result<()> {
    if trigger.cool_down_minutes < 1 {
        return Err(Error::new(Code::TriggerValidation, "Minimal cool down period is 1 minute"));
    }
    let run_with = check_run_token(w, caller, trigger.run_with_token_id)?;
    if trigger.tables.is_empty() {
        return Err(Error::new(Code::TriggerValidation, "Parameter \"tableIds\" must name at least one table."));
    }
    for table in trigger.tables.iter_mut().filter(|table| table.seen_pk.is_none()) {
        // A table the trigger did not watch so far: the caller must read it, and imports from now
        // on count. Tables it watched keep what it saw (and need not be readable to the caller).
        caller.authorize(ReadTable(tables::parse_id(caller.project_id, &table.table_id)?))?;
        let found = w.table(caller.project_id, &table.table_id)?.ok_or_else(|| {
            Error::new(
                Code::TableNotFound,
                format!("The table \"{}\" was not found in the project \"{}\"", table.table_id, caller.project_id),
            )
        })?;
        (table.seen_pk, table.seen_imports) = (Some(found.pk), found.imports);
    }
    check_covered(caller, &run_with)?;
    let mut seen = std::collections::HashSet::new();
    trigger.tables.retain(|table| seen.insert(table.table_id.clone()));
    Ok(())
}

/// Checks the token runs would use: one of the caller's project, without expiry, and a master
/// token only when the caller's is one. Returns it, for [`check_covered`].
pub(crate) fn check_run_token(w: &Writer<'_>, caller: &Token, id: i64) -> Result<Token> {
    let run_with = w
        .token(caller.project_id, id)?
        .ok_or_else(|| Error::new(Code::TokenNotFound, format!("Token with id \"{id}\" was not found.")))?;
    if run_with.expires.is_some() {
        return Err(Error::new(
            Code::TriggerValidation,
            "The 'runByToken' has expiration set. Use token without expiration.",
        ));
    }
    if run_with.is_master() && !caller.is_master() {
        return Err(Error::new(
            Code::TriggerValidation,
            "The 'runByToken' cannot be admin's token when your main token is not admin's",
        ));
    }
    Ok(run_with)
}

/// Refuses a run token that reaches further than the caller (`Token::covers`).
pub(crate) fn check_covered(caller: &Token, run_with: &Token) -> Result<()> {
    if !caller.covers(run_with) {
        return Err(Error::new(
            Code::TriggerValidation,
            format!(
                "The 'runByToken' (token {}) has permissions your token does not have; runs may only be made as a \
                 token that reaches no further than yours.",
                run_with.id
            ),
        ));
    }
    Ok(())
}

fn missing(name: &str) -> Error {
    Error::new(Code::TriggerValidation, format!("Missing required query parameter(s) \"{name}\""))
}

fn watched(table_ids: Vec<String>) -> Vec<TriggerTable> {
    table_ids.into_iter().map(|table_id| TriggerTable { table_id, ..TriggerTable::default() }).collect()
}

fn params(trigger: &TriggerRecord) -> serde_json::Value {
    json!({
        "component": trigger.component_id,
        "configurationId": trigger.configuration_id,
        "runWithTokenId": trigger.run_with_token_id,
        "coolDownPeriodMinutes": trigger.cool_down_minutes,
        "tableIds": trigger.tables.iter().map(|table| &table.table_id).collect::<Vec<_>>(),
    })
}

/// Creates a trigger; its last run is now, so imports from now on count.
pub async fn create(ctx: &Ctx, grant: &Granted<AnyToken>, changes: Changes) -> Result<TriggerRecord> {
    let caller = grant.token();
    let component = changes.component.filter(|c| !c.is_empty()).ok_or_else(|| missing("component"))?;
    let configuration_id =
        changes.configuration_id.filter(|c| !c.is_empty()).ok_or_else(|| missing("configurationId"))?;
    let cool_down_minutes = changes.cool_down_minutes.ok_or_else(|| missing("coolDownPeriodMinutes"))?;
    let run_with_token_id = changes.run_with_token_id.ok_or_else(|| missing("runWithTokenId"))?;
    let table_ids = changes.table_ids.ok_or_else(|| missing("tableIds"))?;
    components::component(&ctx.core, &component)?;
    authorize_automation(caller, &component, "Trigger")?;
    let mut trigger = TriggerRecord {
        project_id: caller.project_id,
        run_with_token_id,
        component_id: component,
        configuration_id,
        cool_down_minutes,
        last_run: time::now(),
        creator: TokenRef { id: caller.id, description: caller.description.clone() },
        tables: watched(table_ids),
        ..TriggerRecord::default()
    };
    let caller = caller.clone();
    ctx.write(move |w, ctx| {
        check(w, &caller, &mut trigger)?;
        let id = w.insert_trigger(&trigger)?;
        let happened =
            Happened::about("storage.triggerCreated", "trigger", &id.to_string(), format!("Created trigger {id}"))
                .with_params(params(&trigger));
        record(w, ctx, caller.project_id, Some(&caller), happened)?;
        w.trigger(caller.project_id, id)?.ok_or_else(|| not_found(id))
    })
    .await
}

/// Changes a trigger: the caller must be allowed both the component it runs and the one it will.
pub async fn update(ctx: &Ctx, grant: &Granted<AnyToken>, id: i64, changes: Changes) -> Result<TriggerRecord> {
    if let Some(component) = &changes.component {
        components::component(&ctx.core, component)?;
    }
    let caller = grant.token().clone();
    ctx.write(move |w, ctx| {
        let mut trigger = w.trigger(caller.project_id, id)?.ok_or_else(|| not_found(id))?;
        authorize_automation(&caller, &trigger.component_id, "Trigger")?;
        if let Some(component) = changes.component.filter(|c| !c.is_empty()) {
            authorize_automation(&caller, &component, "Trigger")?;
            trigger.component_id = component;
        }
        if let Some(configuration_id) = changes.configuration_id.filter(|c| !c.is_empty()) {
            trigger.configuration_id = configuration_id;
        }
        trigger.run_with_token_id = changes.run_with_token_id.unwrap_or(trigger.run_with_token_id);
        trigger.cool_down_minutes = changes.cool_down_minutes.unwrap_or(trigger.cool_down_minutes);
        if let Some(table_ids) = changes.table_ids {
            // Tables it watched keep what it saw of them.
            let mut before = std::mem::take(&mut trigger.tables);
            trigger.tables = table_ids
                .into_iter()
                .map(|table_id| match before.iter().position(|table| table.table_id == table_id) {
                    Some(at) => before.swap_remove(at),
                    None => TriggerTable { table_id, ..TriggerTable::default() },
                })
                .collect();
        }
        check(w, &caller, &mut trigger)?;
        w.update_trigger(&trigger)?;
        let happened =
            Happened::about("storage.triggerUpdated", "trigger", &id.to_string(), format!("Updated trigger {id}"))
                .with_params(params(&trigger));
        record(w, ctx, caller.project_id, Some(&caller), happened)?;
        w.trigger(caller.project_id, id)?.ok_or_else(|| not_found(id))
    })
    .await
}

/// Deletes a trigger.
pub async fn delete(ctx: &Ctx, grant: &Granted<AnyToken>, id: i64) -> Result<()> {
    let caller = grant.token().clone();
    ctx.write(move |w, ctx| {
        let trigger = w.trigger(caller.project_id, id)?.ok_or_else(|| not_found(id))?;
        authorize_automation(&caller, &trigger.component_id, "Trigger")?;
        w.delete_trigger(caller.project_id, id)?;
        let happened =
            Happened::about("storage.triggerDeleted", "trigger", &id.to_string(), format!("Deleted trigger {id}"))
                .with_params(params(&trigger));
        record(w, ctx, caller.project_id, Some(&caller), happened)
    })
    .await
}

/// The token an automated run of `config_id` of `component` in `project_id` runs as, or why it
/// cannot start now.
pub(crate) fn runner(
    w: &Writer<'_>,
    core: &Core,
    project_id: i64,
    token_id: i64,
    (component, config_id): (&str, &str),
) -> Result<std::result::Result<Arc<Token>, String>> {
    let Some(token) = w.token(project_id, token_id)?.map(Arc::new) else {
        return Ok(Err(format!("its token {token_id} no longer exists")));
    };
    if token.authorize(WriteComponent(component.to_string())).is_err() {
        return Ok(Err(format!("its token may not run component \"{component}\"")));
    }
    if !components::component(core, component).is_ok_and(|component| component.runnable) {
        return Ok(Err(format!("this stack does not run component \"{component}\"")));
    }
    Ok(match w.configuration(project_id, component, config_id)? {
        None => Err(format!("configuration \"{config_id}\" does not exist")),
        Some(config) if config.is_deleted => Err(format!("configuration \"{config_id}\" is in the trash")),
        Some(config) if config.is_disabled => Err(format!("configuration \"{config_id}\" is disabled")),
        Some(_) => Ok(token),
    })
}

/// Submits an automated run of a configuration (`rows`, or its enabled rows when empty) as
/// `token`, inside the caller's transaction; `origin` names what started it (`triggerId`, ...).
pub(crate) fn submit_run(
    w: &Writer<'_>,
    ctx: &Ctx,
    token: &Token,
    (component, config_id): (&str, &str),
    rows: &[String],
    (origin, id): (&str, i64),
) -> Result<Job> {
    let kind = ComponentRun {
        component_id: component.into(),
        config_id: config_id.into(),
        row_ids: rows.to_vec(),
        origin: Some((origin.into(), id)),
    };
    jobs::submit(w, ctx, token, &kind)
}

/// Fires every trigger that is due: submits its run as its token, records the firing as an event
/// of that token and moves its last run, all in one transaction. Returns how many runs started.
pub async fn fire_due(core: &Core) -> Result<usize> {
    // Most looks find nothing due: a read answers them without taking the catalog's write turn.
    let now = time::now();
    let due = core.store.read(move |r| Ok(r.cooled_down_triggers(now)?.iter().any(TriggerRecord::is_due))).await?;
    if !due {
        return Ok(0);
    }
    let ctx = Ctx::internal(core);
    let started = ctx
        .write(move |w, ctx| {
            let now = time::now();
            let mut started = 0;
            for trigger in w.cooled_down_triggers(now)?.into_iter().filter(TriggerRecord::is_due) {
                let id = trigger.id.to_string();
                let (component, config_id) = (&trigger.component_id, &trigger.configuration_id);
                let mut params = params(&trigger);
                let run = runner(w, &ctx.core, trigger.project_id, trigger.run_with_token_id, (component, config_id))?;
                let (token, happened) = match run {
                    Err(reason) => {
                        let message = format!(
                            "Trigger {id} did not run configuration \"{config_id}\" of component \"{component}\": {reason}."
                        );
                        (None, Happened::about("storage.triggerSkipped", "trigger", &id, message))
                    }
                    Ok(token) => {
                        let job = submit_run(w, ctx, &token, (component, config_id), &[], ("triggerId", trigger.id))?;
                        params["jobId"] = json!(job.id.to_string());
                        started += 1;
                        let tables = trigger.tables.iter().map(|t| t.table_id.as_str()).collect::<Vec<_>>().join(", ");
                        let message = format!(
                            "Trigger {id} ran configuration \"{config_id}\" of component \"{component}\" as job {}: \
                             {tables} imported to.",
                            job.id
                        );
                        (Some(token), Happened::about("storage.triggerFired", "trigger", &id, message))
                    }
                };
                w.mark_trigger_run(&trigger, now)?;
                record(w, ctx, trigger.project_id, token.as_deref(), happened.with_params(params))?;
            }
            Ok(started)
        })
        .await?;
    if started > 0 {
        core.jobs.wake_workers();
    }
    Ok(started)
}
