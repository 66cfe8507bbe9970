//! The settings of a Storage Writer or Extractor configuration as typed values, and where each
//! lives in the configuration's JSON (spec/components.md). The console edits configurations
//! through these; keys a setting does not own stay as they are (a client of the API may have set
//! them).

use serde_json::{json, Map, Value};

/// The other stack a configuration reaches: its URL, and a new token for it when one was given
/// (`None` keeps the saved one).
#[derive(Debug, Clone)]
pub struct Target {
    pub url: String,
    pub token: Option<String>,
}

/// Whether the configuration holds a token for the other stack (sealed or not).
pub fn has_token(configuration: &Value) -> bool {
    configuration["parameters"]["#token"].as_str().is_some_and(|token| !token.is_empty())
}

/// The configuration with `target` in its `parameters` (`url`, `#token`).
pub fn with_target(configuration: &Value, target: Target) -> Value {
    let mut configuration = configuration.clone();
    let parameters = object_at(&mut configuration, "parameters");
    parameters.insert("url".into(), Value::String(target.url));
    if let Some(token) = target.token {
        parameters.insert("#token".into(), Value::String(token));
    }
    configuration
}

/// A writer's table: the table of this project it writes, where, since when, and how.
#[derive(Debug, Clone)]
pub struct WriterTable {
    pub destination: String,
    /// `changed_since`: empty for every row, `adaptive`, or a `changedSince` expression.
    pub changed_since: String,
    /// `replace`, `update` or `recreate`.
    pub mode: String,
}

impl WriterTable {
    /// A new writer row for `source`: written under its own name, every row, replacing.
    pub fn new_row(source: &str) -> Value {
        let destination = source.rsplit('.').next().unwrap_or(source);
        json!({
            "storage": { "input": { "tables": [{ "source": source, "destination": destination, "changed_since": "" }] } },
            "parameters": { "mode": "replace" },
        })
    }

    /// The row's configuration with these settings: its first input table and its mode.
    pub fn applied_to(self, configuration: &Value) -> Value {
        let mut configuration = configuration.clone();
        let input = object_in(object_at(&mut configuration, "storage"), "input");
        let tables = input.entry("tables").or_insert_with(|| json!([]));
        if !tables.as_array().is_some_and(|tables| tables.first().is_some_and(Value::is_object)) {
            *tables = json!([{}]);
        }
        if let Some(table) = tables[0].as_object_mut() {
            table.insert("destination".into(), Value::String(self.destination));
            table.insert("changed_since".into(), Value::String(self.changed_since));
        }
        let parameters = object_at(&mut configuration, "parameters");
        // `incremental` (the old form) would override the mode.
        parameters.remove("incremental");
        parameters.insert("mode".into(), Value::String(self.mode));
        configuration
    }
}

/// An extractor's table: the table of the other project it pulls, since when, and how it is saved.
#[derive(Debug, Clone)]
pub struct ExtractorTable {
    pub table_name: String,
    pub changed_since: String,
    pub incremental: bool,
    pub primary_key: Vec<String>,
}

impl ExtractorTable {
    /// A new extractor row for `table_name`: every row, replacing, no key.
    pub fn new_row(table_name: &str) -> Value {
        ExtractorTable {
            table_name: table_name.to_string(),
            changed_since: String::new(),
            incremental: false,
            primary_key: vec![],
        }
        .applied_to(&json!({}))
    }

    /// The row's configuration with these settings, in its `parameters`.
    pub fn applied_to(self, configuration: &Value) -> Value {
        let mut configuration = configuration.clone();
        let parameters = object_at(&mut configuration, "parameters");
        parameters.insert("tableName".into(), Value::String(self.table_name));
        parameters.insert("changedSince".into(), Value::String(self.changed_since));
        parameters.insert("incremental".into(), Value::Bool(self.incremental));
        parameters.insert("primaryKey".into(), json!(self.primary_key));
        configuration
    }
}

/// The object under `key` of `value`, made one (and `value` itself) when missing or not an object.
fn object_at<'a>(value: &'a mut Value, key: &str) -> &'a mut Map<String, Value> {
    if !value.is_object() {
        *value = json!({});
    }
    match value {
        Value::Object(map) => object_in(map, key),
        _ => unreachable!("made an object above"),
    }
}

fn object_in<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let entry = map.entry(key.to_string()).or_insert_with(|| json!({}));
    if !entry.is_object() {
        *entry = json!({});
    }
    match entry {
        Value::Object(map) => map,
        _ => unreachable!("made an object above"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_land_where_the_components_read_them_and_leave_other_keys_alone() {
        let saved = json!({"parameters": {"url": "https://a", "#token": "KBC::ConfigSecure::x", "extra": 1}});
        assert!(has_token(&saved));
        let kept = with_target(&saved, Target { url: "https://b".into(), token: None });
        assert_eq!(kept["parameters"], json!({"url": "https://b", "#token": "KBC::ConfigSecure::x", "extra": 1}));
        let row = WriterTable::new_row("in.c-a.orders");
        assert_eq!(row["storage"]["input"]["tables"][0]["destination"], "orders");
        let old = json!({"storage": {"input": {"tables": [{"source": "in.c-a.orders"}]}}, "parameters": {"incremental": true}});
        let edited = WriterTable { destination: "o".into(), changed_since: "adaptive".into(), mode: "update".into() }
            .applied_to(&old);
        assert_eq!(edited["storage"]["input"]["tables"][0]["source"], "in.c-a.orders");
        assert_eq!(edited["parameters"], json!({"mode": "update"}), "the old incremental flag is gone");
        let pulled = ExtractorTable::new_row("orders");
        assert_eq!(pulled["parameters"]["incremental"], false);
        assert!(!has_token(&json!("not an object")));
    }
}
