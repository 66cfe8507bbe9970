//! The Storage Writer (`keboola.wr-storage`): writes a table of this project into the single
//! bucket the target token can write to, in another project, through that project's stack.
//!
//! Differences from the original, on purpose (documented in the README):
//! - a new table is created with its data and not loaded a second time (the original loads it
//!   twice, doubling the rows of an `update` into a new table without a primary key);
//! - a destination such as `orders.csv` names the table `orders` everywhere (the original created
//!   `orders` and then imported into `orders.csv`, which fails).

use std::sync::Arc;

use serde_json::{json, Value};
use stowage_types::auth::ReadTable;
use stowage_types::Result;

use super::{authorize, bool_param, endpoint, parameters, scalar_param, user_error};
use crate::queue::RowRun;
use crate::tables;
use stowage_client::outbound::Policy;
use stowage_client::remote::Remote;

/// The writer's `parameters` keys.
const ALLOWED: &[&str] = &["#token", "url", "mode", "incremental", "bucket"];

/// How rows reach the target table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Replace,
    Update,
    Recreate,
}

/// The target of a writer configuration, from its root parameters.
pub(crate) fn remote(config: &Value, policy: &Arc<Policy>) -> Result<Remote> {
    let parameters = parameters(config, ALLOWED)?;
    let (url, token) = endpoint(
        parameters,
        "Missing \"parameters.#token\" in configuration.",
        "Missing \"parameters.url\" in configuration.",
    )?;
    Remote::guarded(&url, &token, policy)
}

fn mode(config: &Value) -> Result<Mode> {
    let parameters = parameters(config, ALLOWED)?;
    // The legacy `incremental` flag wins when present, as in the original.
    if let Some(incremental) = bool_param(parameters, "incremental")? {
        return Ok(if incremental { Mode::Update } else { Mode::Replace });
    }
    match scalar_param(parameters, "mode")?.as_deref() {
        None | Some("replace") => Ok(Mode::Replace),
        Some("update") => Ok(Mode::Update),
        Some("recreate") => Ok(Mode::Recreate),
        Some(_) => Err(user_error(
            "Invalid configuration for path \"root.parameters.mode\": Mode must be one of \"recreate, replace, update\"",
        )),
    }
}

/// Sync action `info`: the target project and bucket.
pub async fn info(config: &Value, policy: &Arc<Policy>) -> Result<Value> {
    let remote = remote(config, policy)?;
    let target = authorize(&remote, "write", WRONG).await?;
    Ok(json!({ "projectId": target.project_id, "projectName": target.project_name, "bucket": target.bucket }))
}

const WRONG: (&str, &str) = (
    "The token must have write permissions to a single bucket only.",
    "The token must have only write permissions to the bucket",
);

/// Runs one row: the table of its input mapping goes to the target bucket. Returns the row's new
/// state (the adaptive `changed_since` marker).
pub async fn run_row(run: &RowRun<'_>) -> Result<Value> {
    let config = &run.config;
    let mode = mode(config)?;
    let remote = remote(config, &run.ctx.core.stack.outbound)?;
    let target = authorize(&remote, "write", WRONG).await?;
    run.log(format!("Authorized for project \"{}\" ({})", target.project_name, target.project_id)).await?;

    let input = &config["storage"]["input"]["tables"][0];
    let source = input["source"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| user_error("The row has no source table: set storage.input.tables[0].source."))?;
    let destination = input["destination"]
        .as_str()
        .filter(|d| !d.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| source.rsplit('.').next().unwrap_or(source).to_string());
    let name = destination.strip_suffix(".csv").unwrap_or(&destination).to_string();
    tables::validate_table_name(&name).map_err(|error| user_error(error.message))?;
    run.log(format!("Processing table \"{destination}\".")).await?;

    let changed_since = match input["changed_since"].as_str().unwrap_or("") {
        "" => None,
        "adaptive" => run.state["adaptive"]["changedSince"].as_i64(),
        text => {
            Some(tables::when::parse("changed_since", text, run.started).map_err(|error| user_error(error.message))?)
        }
    };
    let grant = run.token.authorize(ReadTable(tables::parse_id(run.token.project_id, source)?))?;
    let (table, body) = tables::stream_csv(run.ctx, &grant, changed_since, true).await?;
    let primary_key = table.primary_key.clone();

    let table_id = format!("{}.{name}", target.bucket);
    if mode == Mode::Recreate {
        remote.delete_table(&table_id).await?;
    }
    let existing = remote.table(&table_id).await?;
    if let Some(existing) = &existing {
        let existing_key: Vec<String> = existing["primaryKey"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        if existing_key != primary_key {
            return Err(user_error(format!(
                "Primary key in the destination table \"{destination}\" - {} does not match the primary key in the source table - {}.",
                serde_json::to_string(&existing_key).unwrap_or_default(),
                serde_json::to_string(&primary_key).unwrap_or_default(),
            )));
        }
    }
    let tags: &[&str] = if existing.is_some() { &["table-import"] } else { &["file-import"] };
    let file_id = remote.upload(&format!("{name}.csv.gz"), tags, body).await?;
    let loaded = match existing {
        None => match remote.create_table(&target.bucket, &name, file_id, &primary_key).await {
            Ok(job) => job,
            Err(error) => {
                // An earlier run, cut off after it asked for the create, may have made the table
                // since we looked: load it in full, as the create would have.
                if remote.table(&table_id).await?.is_none() {
                    return Err(error);
                }
                run.log(format!("Table \"{destination}\" appeared meanwhile; loading it in full.")).await?;
                remote.import(&table_id, file_id, false).await?
            }
        },
        Some(_) => remote.import(&table_id, file_id, mode == Mode::Update).await?,
    };
    let moved = super::moved(&loaded["results"], &loaded["metrics"]);
    run.log(format!("Table \"{destination}\" processed{moved}.")).await?;
    Ok(json!({ "adaptive": { "changedSince": run.started } }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_legacy_incremental_flag_overrides_the_mode() {
        assert_eq!(mode(&json!({"parameters": {"mode": "recreate", "incremental": true}})).unwrap(), Mode::Update);
        assert_eq!(mode(&json!({"parameters": {"incremental": false}})).unwrap(), Mode::Replace);
        assert_eq!(mode(&json!({})).unwrap(), Mode::Replace);
    }

    #[test]
    fn an_unknown_mode_fails_with_the_originals_message() {
        let error = mode(&json!({"parameters": {"mode": "funky"}})).unwrap_err();
        assert_eq!(error.message, "Invalid configuration for path \"root.parameters.mode\": Mode must be one of \"recreate, replace, update\"");
    }

    #[test]
    fn a_missing_token_fails_before_any_call() {
        let error = remote(&json!({"parameters": {"url": "http://x"}}), &Arc::new(Policy::open())).err().unwrap();
        assert_eq!(error.message, "Missing \"parameters.#token\" in configuration.");
        let error =
            remote(&json!({"parameters": {"url": "http://x", "#token": ""}}), &Arc::new(Policy::open())).err().unwrap();
        assert_eq!(error.message, "The path \"root.parameters.#token\" cannot contain an empty value, but got \"\".");
    }
}
