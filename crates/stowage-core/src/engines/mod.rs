//! The built-in components: the Storage Writer (`keboola.wr-storage`) and the Storage Extractor
//! (`keboola.ex-storage`), run as native job handlers with the configuration schema, checks and
//! messages of the originals (spec/components.md).
//!
//! Both reach the other project only through its public Storage API ([`stowage_client::remote`]), so the
//! other side can be this stack, another Stowage, or Keboola itself.

pub mod extractor;
pub mod settings;
pub mod writer;

use serde_json::{Map, Value};
use stowage_types::{Code, Error, Result};

use stowage_client::remote::Remote;

pub(crate) fn user_error(message: impl Into<String>) -> Error {
    Error::new(Code::ComponentUserError, message)
}

/// What loading one table moved, for the run's log: the rows of the file and its bytes, from the
/// storage job that loaded it (here or on the other stack): `" 1,050 rows, 126,612,345 bytes of
/// CSV (12,345,678 compressed)"`, or nothing when the job does not say.
pub(crate) fn moved(results: &Value, metrics: &Value) -> String {
    use stowage_types::text::thousands;
    let rows = results["rowsInFile"].as_i64().or_else(|| results["rowsCount"].as_i64());
    let text = metrics["inBytesUncompressed"].as_i64().filter(|bytes| *bytes > 0);
    let compressed = metrics["inBytes"].as_i64().filter(|bytes| Some(*bytes) != text && *bytes > 0);
    let mut parts = Vec::new();
    if let Some(rows) = rows {
        parts.push(format!("{} rows", thousands(rows)));
    }
    match (text, compressed) {
        (Some(text), Some(compressed)) => {
            parts.push(format!("{} bytes of CSV ({} compressed)", thousands(text), thousands(compressed)))
        }
        (Some(text), None) => parts.push(format!("{} bytes of CSV", thousands(text))),
        _ => {}
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(": {}", parts.join(", "))
    }
}

/// Merges `row` over `root`, objects key by key (how the platform combines a row with its
/// configuration).
pub fn merge(root: &Value, row: &Value) -> Value {
    match (root, row) {
        (Value::Object(base), Value::Object(over)) => {
            let mut out: Map<String, Value> = base.clone();
            for (key, value) in over {
                let merged = match out.get(key) {
                    Some(existing) => merge(existing, value),
                    None => value.clone(),
                };
                out.insert(key.clone(), merged);
            }
            Value::Object(out)
        }
        (_, over) => over.clone(),
    }
}

/// `parameters` of a merged configuration, checked against the allowed keys like the originals'
/// Symfony tree does.
pub(crate) fn parameters<'a>(config: &'a Value, allowed: &[&str]) -> Result<&'a Map<String, Value>> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    let parameters = match config.get("parameters") {
        None | Some(Value::Null) => return Ok(EMPTY.get_or_init(Map::new)),
        Some(Value::Object(map)) => map,
        Some(_) => return Err(user_error("Invalid type for path \"root.parameters\". Expected \"array\".")),
    };
    for key in parameters.keys() {
        if !allowed.contains(&key.as_str()) {
            let mut options: Vec<&str> = allowed.to_vec();
            options.sort_unstable();
            let list = options.iter().map(|o| format!("\"{o}\"")).collect::<Vec<_>>().join(", ");
            return Err(user_error(format!(
                "Unrecognized option \"{key}\" under \"root.parameters\". Available options are {list}."
            )));
        }
    }
    Ok(parameters)
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() || n.is_u64() => "int",
        Value::Number(_) => "float",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "array",
    }
}

/// A boolean parameter; anything but a JSON boolean is the original's type error.
pub(crate) fn bool_param(parameters: &Map<String, Value>, key: &str) -> Result<Option<bool>> {
    match parameters.get(key) {
        None => Ok(None),
        Some(Value::Bool(flag)) => Ok(Some(*flag)),
        Some(other) => Err(user_error(format!(
            "Invalid type for path \"root.parameters.{key}\". Expected \"bool\", but got \"{}\".",
            json_type(other)
        ))),
    }
}

/// A scalar parameter as text; an empty string is the original's "cannot contain an empty value".
pub(crate) fn scalar_param(parameters: &Map<String, Value>, key: &str) -> Result<Option<String>> {
    match parameters.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.is_empty() => {
            Err(user_error(format!("The path \"root.parameters.{key}\" cannot contain an empty value, but got \"\".")))
        }
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(Value::Number(number)) => Ok(Some(number.to_string())),
        Some(other) => Err(user_error(format!(
            "Invalid type for path \"root.parameters.{key}\". Expected \"scalar\", but got \"{}\".",
            json_type(other)
        ))),
    }
}

/// The project and the single bucket a token reaches.
#[derive(Debug, Clone)]
pub struct Target {
    pub project_id: i64,
    pub project_name: String,
    pub bucket: String,
}

/// `tokens/verify` on the other stack, then the single-bucket rule: exactly one bucket, with
/// exactly `permission`. `messages` are (several or none, wrong permission prefix).
pub(crate) async fn authorize(remote: &Remote, permission: &str, messages: (&str, &str)) -> Result<Target> {
    let verify = remote.verify().await?;
    let buckets = match &verify["bucketPermissions"] {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    if buckets.len() != 1 {
        return Err(user_error(messages.0));
    }
    let (bucket, granted) = buckets.iter().next().expect("one entry");
    if granted.as_str() != Some(permission) {
        return Err(user_error(format!("{} \"{bucket}\".", messages.1)));
    }
    Ok(Target {
        project_id: verify["owner"]["id"].as_i64().unwrap_or_default(),
        project_name: verify["owner"]["name"].as_str().unwrap_or_default().to_string(),
        bucket: bucket.clone(),
    })
}

/// The `{url, #token}` a configuration names, with `#token` already unsealed.
pub(crate) fn endpoint(
    parameters: &Map<String, Value>,
    missing_token: &str,
    missing_url: &str,
) -> Result<(String, String)> {
    let token = scalar_param(parameters, "#token")?.ok_or_else(|| user_error(missing_token))?;
    let url = scalar_param(parameters, "url")?.ok_or_else(|| user_error(missing_url))?;
    Ok((url, token))
}

#[cfg(test)]
mod tests {

    #[test]
    fn what_a_load_moved_reads_from_its_jobs_results_and_metrics() {
        let results = json!({"rowsInFile": 1050});
        let metrics = json!({"inBytes": 12345, "inBytesUncompressed": 126612345});
        assert_eq!(moved(&results, &metrics), ": 1,050 rows, 126,612,345 bytes of CSV (12,345 compressed)");
        assert_eq!(
            moved(&json!({"rowsCount": 2}), &json!({"inBytes": 27, "inBytesUncompressed": 27})),
            ": 2 rows, 27 bytes of CSV"
        );
        assert_eq!(moved(&json!({}), &json!(null)), "");
    }

    use serde_json::json;

    use super::*;

    #[test]
    fn rows_merge_over_the_root_configuration() {
        let root = json!({"parameters": {"url": "u", "#token": "t"}});
        let row = json!({"parameters": {"mode": "update"}, "storage": {"input": {"tables": [{"source": "in.c-a.b"}]}}});
        let merged = merge(&root, &row);
        assert_eq!(merged["parameters"], json!({"url": "u", "#token": "t", "mode": "update"}));
        assert_eq!(merged["storage"]["input"]["tables"][0]["source"], "in.c-a.b");
    }

    #[test]
    fn unknown_parameters_are_named_with_the_available_options() {
        let config = json!({"parameters": {"bucket": "x"}});
        let error = parameters(&config, &["#token", "url"]).unwrap_err();
        assert_eq!(
            error.message,
            "Unrecognized option \"bucket\" under \"root.parameters\". Available options are \"#token\", \"url\"."
        );
    }

    #[test]
    fn booleans_must_be_json_booleans() {
        let config = json!({"parameters": {"incremental": "true"}});
        let error = bool_param(parameters(&config, &["incremental"]).unwrap(), "incremental").unwrap_err();
        assert_eq!(
            error.message,
            "Invalid type for path \"root.parameters.incremental\". Expected \"bool\", but got \"string\"."
        );
    }
}
