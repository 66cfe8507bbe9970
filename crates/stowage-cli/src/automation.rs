//! `trigger`: run a configuration when the tables it watches have been imported to.

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
