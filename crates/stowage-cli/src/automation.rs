//! `trigger`: run a configuration when the tables it watches have been imported to; `schedule`:
//! run it on a cron expression (a `keboola.scheduler` configuration, activated).

use clap::Subcommand;
use reqwest::Method;
use serde_json::{json, Map, Value};

use crate::{confirm, lines, print, storage_remote, text, CliError, GlobalArgs};

#[derive(Debug, Subcommand)]
pub enum TriggerCommand {
    /// List the project's triggers. Example: stowage trigger list --component keboola.wr-storage
    List {
        /// Only triggers of this component
        #[arg(long)]
        component: Option<String>,
        /// Only triggers of this configuration
        #[arg(long)]
        config: Option<String>,
    },
    /// Run a configuration, as a token, once every listed table has been imported to; prints its id.
    /// Example: stowage trigger create keboola.wr-storage 12 --run-as 7 --table in.c-sales.orders --cool-down 10
    Create {
        /// The component's id, such as keboola.wr-storage
        component: String,
        /// The configuration's id
        config: String,
        /// Id of the token the runs use (a token without expiry; see `stowage token list`)
        #[arg(long)]
        run_as: i64,
        /// A table to watch (repeatable): the run starts once each has been imported to
        #[arg(long = "table", required = true)]
        tables: Vec<String>,
        /// Minutes to wait after a run before the next one may start (at least 1)
        #[arg(long, default_value_t = 5)]
        cool_down: i64,
    },
    /// Show a trigger. Example: stowage trigger show 3
    Show {
        /// The trigger's id
        id: String,
    },
    /// Change a trigger; what is not given stays. Example: stowage trigger update 3 --cool-down 30
    Update {
        /// The trigger's id
        id: String,
        /// Id of the token the runs use
        #[arg(long)]
        run_as: Option<i64>,
        /// The tables to watch instead (repeatable)
        #[arg(long = "table")]
        tables: Vec<String>,
        /// Minutes to wait after a run before the next one may start
        #[arg(long)]
        cool_down: Option<i64>,
    },
    /// Delete a trigger. Example: stowage trigger delete 3
    Delete {
        /// The trigger's id
        id: String,
        /// Do not ask for confirmation on a terminal
        #[arg(long, short)]
        yes: bool,
    },
}

fn describe(trigger: &Value) -> String {
    let tables: Vec<String> =
        trigger["tables"].as_array().map(|t| t.iter().map(|t| text(&t["tableId"])).collect()).unwrap_or_default();
    format!(
        "{}\t{} {}\tas token {}\tevery {} min at most\tlast run {}\t{}",
        text(&trigger["id"]),
        text(&trigger["component"]),
        text(&trigger["configurationId"]),
        text(&trigger["runWithTokenId"]),
        text(&trigger["coolDownPeriodMinutes"]),
        text(&trigger["lastRun"]),
        tables.join(",")
    )
}

pub(crate) async fn trigger(global: &GlobalArgs, command: TriggerCommand) -> Result<(), CliError> {
    let remote = storage_remote(global)?;
    match command {
        TriggerCommand::List { component, config } => {
            let mut query = form_urlencoded::Serializer::new(String::new());
            if let Some(component) = &component {
                query.append_pair("component", component);
            }
            if let Some(config) = &config {
                query.append_pair("configurationId", config);
            }
            let list = remote.request(Method::GET, &format!("/v2/storage/triggers?{}", query.finish()), None).await?;
            print(global, &list, || lines(&list, describe));
        }
        TriggerCommand::Create { component, config, run_as, tables, cool_down } => {
            let body = json!({"component": component, "configurationId": config, "runWithTokenId": run_as,
                "tableIds": tables, "coolDownPeriodMinutes": cool_down});
            let created = remote.request(Method::POST, "/v2/storage/triggers", Some(body)).await?;
            print(global, &created, || format!("Trigger {} created.", text(&created["id"])));
        }
        TriggerCommand::Show { id } => {
            let shown = remote.request(Method::GET, &format!("/v2/storage/triggers/{id}"), None).await?;
            print(global, &shown, || describe(&shown));
        }
        TriggerCommand::Update { id, run_as, tables, cool_down } => {
            let mut body = Map::new();
            if let Some(run_as) = run_as {
                body.insert("runWithTokenId".into(), json!(run_as));
            }
            if !tables.is_empty() {
                body.insert("tableIds".into(), json!(tables));
            }
            if let Some(cool_down) = cool_down {
                body.insert("coolDownPeriodMinutes".into(), json!(cool_down));
            }
            if body.is_empty() {
                return Err(CliError::usage("give at least one of --run-as, --table, --cool-down"));
            }
            let path = format!("/v2/storage/triggers/{id}");
            let updated = remote.request(Method::PUT, &path, Some(Value::Object(body))).await?;
            print(global, &updated, || describe(&updated));
        }
        TriggerCommand::Delete { id, yes } => {
            confirm(yes, &format!("Delete trigger {id}?"))?;
            remote.request(Method::DELETE, &format!("/v2/storage/triggers/{id}"), None).await?;
            print(global, &json!({ "deleted": id }), || format!("Trigger {id} deleted."));
        }
    }
    Ok(())
}

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// List the project's schedules. Example: stowage schedule list
    List,
    /// Run a configuration (or some of its rows) on a cron expression; prints the schedule's id.
    /// Example: stowage schedule create keboola.wr-storage 12 --cron "0 6 * * 1-5" --timezone Europe/Prague
    Create {
        /// The component's id, such as keboola.wr-storage
        component: String,
        /// The configuration's id
        config: String,
        /// When to run: minute hour day-of-month month day-of-week (a leading seconds field is allowed)
        #[arg(long)]
        cron: String,
        /// The time zone the expression is read in, such as Europe/Prague
        #[arg(long, default_value = "UTC")]
        timezone: String,
        /// A row to run (repeatable); all enabled rows when absent
        #[arg(long = "row")]
        rows: Vec<String>,
        /// Id of the token the runs use (a token without expiry); your own token when absent
        #[arg(long)]
        run_as: Option<i64>,
        /// The name of the schedule's configuration
        #[arg(long)]
        name: Option<String>,
    },
    /// Show a schedule with its last run and next run. Example: stowage schedule show 2
    Show {
        /// The schedule's id
        id: String,
    },
    /// Delete a schedule and move its configuration to the trash. Example: stowage schedule delete 2
    Delete {
        /// The schedule's id
        id: String,
        /// Do not ask for confirmation on a terminal
        #[arg(long, short)]
        yes: bool,
    },
}

fn describe_schedule(schedule: &Value) -> String {
    let rows: Vec<String> = schedule["target"]["configurationRowIds"]
        .as_array()
        .map(|rows| rows.iter().map(text).collect())
        .unwrap_or_default();
    let runs = if rows.is_empty() { "all enabled rows".to_string() } else { format!("rows {}", rows.join(",")) };
    format!(
        "{}\t{} {} ({runs})\t{} {}\t{}\tas token {}\tnext run {}",
        text(&schedule["id"]),
        text(&schedule["target"]["componentId"]),
        text(&schedule["target"]["configurationId"]),
        text(&schedule["schedule"]["cronTab"]),
        text(&schedule["schedule"]["timezone"]),
        text(&schedule["schedule"]["state"]),
        text(&schedule["tokenId"]),
        text(&schedule["nextRun"]),
    )
}

const SCHEDULER_CONFIGS: &str = "/v2/storage/components/keboola.scheduler/configs";

pub(crate) async fn schedule(global: &GlobalArgs, command: ScheduleCommand) -> Result<(), CliError> {
    let remote = storage_remote(global)?;
    match command {
        ScheduleCommand::List => {
            let list = remote.request(Method::GET, "/scheduler/schedules", None).await?;
            print(global, &list, || lines(&list, describe_schedule));
        }
        ScheduleCommand::Create { component, config, cron, timezone, rows, run_as, name } => {
            let name = name.unwrap_or_else(|| format!("{component} {config} at {cron}"));
            let configuration = json!({
                "schedule": {"cronTab": cron, "timezone": timezone, "state": "enabled"},
                "target": {"componentId": component, "configurationId": config, "configurationRowIds": rows, "mode": "run"},
            });
            let body = json!({"name": name, "configuration": configuration});
            let made = remote.request(Method::POST, SCHEDULER_CONFIGS, Some(body)).await?;
            let mut activation = json!({"configurationId": made["id"]});
            if let Some(run_as) = run_as {
                activation["runWithTokenId"] = json!(run_as);
            }
            match remote.request(Method::POST, "/scheduler/schedules", Some(activation)).await {
                Ok(created) => print(global, &created, || {
                    format!("Schedule {} created; next run {}.", text(&created["id"]), text(&created["nextRun"]))
                }),
                Err(error) => {
                    // A schedule that cannot be activated leaves no configuration behind.
                    let path = format!("{SCHEDULER_CONFIGS}/{}", text(&made["id"]));
                    let _ = remote.request(Method::DELETE, &path, None).await;
                    return Err(error.into());
                }
            }
        }
        ScheduleCommand::Show { id } => {
            let shown = remote.request(Method::GET, &format!("/scheduler/schedules/{id}"), None).await?;
            print(global, &shown, || describe_schedule(&shown));
        }
        ScheduleCommand::Delete { id, yes } => {
            confirm(yes, &format!("Delete schedule {id}?"))?;
            let path = format!("/scheduler/schedules/{id}");
            let shown = remote.request(Method::GET, &path, None).await?;
            remote.request(Method::DELETE, &path, None).await?;
            let config = format!("{SCHEDULER_CONFIGS}/{}", text(&shown["configurationId"]));
            remote.request(Method::DELETE, &config, None).await?;
            print(global, &json!({ "deleted": id }), || format!("Schedule {id} deleted."));
        }
    }
    Ok(())
}
