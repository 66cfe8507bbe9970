//! `config` (configurations and their rows) and `run`.

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{json, Value};

use crate::{confirm, lines, print, storage_remote, text, CliError, GlobalArgs};

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// List a component's configurations. Example: stowage config list keboola.wr-storage
    List {
        /// The component's id, such as keboola.wr-storage or keboola.ex-storage
        component: String,
    },
    /// Create a configuration; prints its id.
    /// Example: stowage config create keboola.wr-storage --name "To EU" --configuration @writer.json
    Create {
        /// The component's id, such as keboola.wr-storage
        component: String,
        #[command(flatten)]
        body: Body,
    },
    /// Show a configuration with its rows. Example: stowage config show keboola.wr-storage 12
    Show {
        /// The component's id
        component: String,
        /// The configuration's id
        config: String,
    },
    /// Delete a configuration (it goes to the trash). Example: stowage config delete keboola.wr-storage 12
    Delete {
        /// The component's id
        component: String,
        /// The configuration's id
        config: String,
        /// Do not ask for confirmation on a terminal
        #[arg(long, short)]
        yes: bool,
    },
    /// Rows of a configuration (one table each, for the writer and extractor).
    Row {
        #[command(subcommand)]
        command: RowCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum RowCommand {
    /// List a configuration's rows. Example: stowage config row list keboola.wr-storage 12
    List {
        /// The component's id
        component: String,
        /// The configuration's id
        config: String,
    },
    /// Add a row; prints its id.
    /// Example: stowage config row create keboola.wr-storage 12 --name orders --configuration @row.json
    Create {
        /// The component's id
        component: String,
        /// The configuration's id
        config: String,
        #[command(flatten)]
        body: Body,
    },
    /// Show a row. Example: stowage config row show keboola.wr-storage 12 13
    Show {
        /// The component's id
        component: String,
        /// The configuration's id
        config: String,
        /// The row's id
        row: String,
    },
    /// Delete a row. Example: stowage config row delete keboola.wr-storage 12 13
    Delete {
        /// The component's id
        component: String,
        /// The configuration's id
        config: String,
        /// The row's id
        row: String,
        /// Do not ask for confirmation on a terminal
        #[arg(long, short)]
        yes: bool,
    },
}

/// What a new configuration or row holds.
#[derive(Debug, Args)]
pub struct Body {
    /// Its name
    #[arg(long)]
    pub name: String,
    /// What it is for
    #[arg(long)]
    pub description: Option<String>,
    /// Its configuration: a JSON object, or @FILE to read one from a file
    #[arg(long)]
    pub configuration: Option<String>,
}

impl Body {
    fn json(&self) -> Result<Value, CliError> {
        let mut body = json!({ "name": self.name });
        if let Some(description) = &self.description {
            body["description"] = json!(description);
        }
        if let Some(configuration) = &self.configuration {
            let (source, text) = match configuration.strip_prefix('@') {
                Some(path) => (
                    path.to_string(),
                    std::fs::read_to_string(path)
                        .map_err(|error| CliError::new(format!("cannot read {path}: {error}")))?,
                ),
                None => ("--configuration".to_string(), configuration.clone()),
            };
            let value: Value = serde_json::from_str(&text)
                .map_err(|error| CliError::usage(format!("{source} is not valid JSON: {error}")))?;
            if !value.is_object() {
                return Err(CliError::usage(format!("{source} must hold a JSON object")));
            }
            body["configuration"] = value;
        }
        Ok(body)
    }
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The component's id: keboola.wr-storage or keboola.ex-storage
    pub component: String,
    /// The configuration's id
    pub config: String,
    /// Row to run (repeatable); all enabled rows when absent
    #[arg(long = "row")]
    pub rows: Vec<String>,
}

fn configs_path(component: &str) -> String {
    format!("/v2/storage/components/{component}/configs")
}

pub(crate) async fn config(global: &GlobalArgs, command: ConfigCommand) -> Result<(), CliError> {
    let remote = storage_remote(global)?;
    match command {
        ConfigCommand::List { component } => {
            let list = remote.request(Method::GET, &configs_path(&component), None).await?;
            print(global, &list, || {
                lines(&list, |c| {
                    let rows = c["rows"].as_array().map_or(0, Vec::len);
                    format!("{}\t{}\t{rows} rows\t{}", text(&c["id"]), text(&c["name"]), text(&c["created"]))
                })
            });
        }
        ConfigCommand::Create { component, body } => {
            let created = remote.request(Method::POST, &configs_path(&component), Some(body.json()?)).await?;
            print(global, &created, || format!("Configuration {} created.", text(&created["id"])));
        }
        ConfigCommand::Show { component, config } => {
            let shown = remote.request(Method::GET, &format!("{}/{config}", configs_path(&component)), None).await?;
            // A configuration is JSON of any shape, so people get it as JSON too.
            crate::emit(&serde_json::to_string_pretty(&shown).unwrap_or_default());
        }
        ConfigCommand::Delete { component, config, yes } => {
            confirm(yes, &format!("Delete configuration {config} of {component}?"))?;
            remote.request(Method::DELETE, &format!("{}/{config}", configs_path(&component)), None).await?;
            print(global, &json!({ "deleted": config }), || format!("Configuration {config} deleted."));
        }
        ConfigCommand::Row { command } => row(global, &remote, command).await?,
    }
    Ok(())
}

async fn row(
    global: &GlobalArgs,
    remote: &stowage_client::remote::Remote,
    command: RowCommand,
) -> Result<(), CliError> {
    let rows_path = |component: &str, config: &str| format!("{}/{config}/rows", configs_path(component));
    match command {
        RowCommand::List { component, config } => {
            let list = remote.request(Method::GET, &rows_path(&component, &config), None).await?;
            print(global, &list, || {
                lines(&list, |r| {
                    let state = if r["isDisabled"] == true { "disabled" } else { "enabled" };
                    format!("{}\t{}\t{state}", text(&r["id"]), text(&r["name"]))
                })
            });
        }
        RowCommand::Create { component, config, body } => {
            let created = remote.request(Method::POST, &rows_path(&component, &config), Some(body.json()?)).await?;
            print(global, &created, || format!("Row {} created.", text(&created["id"])));
        }
        RowCommand::Show { component, config, row } => {
            let shown = remote.request(Method::GET, &format!("{}/{row}", rows_path(&component, &config)), None).await?;
            crate::emit(&serde_json::to_string_pretty(&shown).unwrap_or_default());
        }
        RowCommand::Delete { component, config, row, yes } => {
            confirm(yes, &format!("Delete row {row} of configuration {config}?"))?;
            remote.request(Method::DELETE, &format!("{}/{row}", rows_path(&component, &config)), None).await?;
            print(global, &json!({ "deleted": row }), || format!("Row {row} deleted."));
        }
    }
    Ok(())
}

pub(crate) async fn run(args: RunArgs) -> Result<(), CliError> {
    let global = &args.global;
    let remote = storage_remote(global)?;
    let body = json!({ "component": args.component, "config": args.config, "mode": "run", "configRowIds": args.rows });
    let job = remote.request(Method::POST, "/queue/jobs", Some(body)).await?;
    let id = text(&job["id"]);
    if !global.json {
        eprintln!("Job {id} started.");
    }
    let (mut shown, started) = (0, tokio::time::Instant::now());
    let job = loop {
        let job = remote.request(Method::GET, &format!("/queue/jobs/{id}"), None).await?;
        let events = job["events"].as_array().cloned().unwrap_or_default();
        if !global.json {
            for event in events.iter().skip(shown) {
                eprintln!("{}", text(&event["message"]));
            }
        }
        shown = events.len();
        if job["isFinished"] == true {
            break job;
        }
        tokio::time::sleep(stowage_client::remote::poll_delay(started)).await;
    };
    if global.json {
        crate::emit(&serde_json::to_string_pretty(&job).unwrap_or_default());
    }
    match job["status"].as_str() {
        Some("success") => {
            if !global.json {
                crate::emit(&format!("Job {id} succeeded."));
            }
            Ok(())
        }
        status => Err(CliError::job_failed(format!(
            "job {id} ended with {}: {}",
            status.unwrap_or("an unknown status"),
            text(&job["result"]["message"])
        ))),
    }
}
